//! C8 (warning part): a Cumulocity manifest with fewer than 2 replicas.

use serde_json::Value;

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "few-replicas",
    id: "C8",
    code: "berth::lint::few-replicas",
    severity: Severity::Warning,
    summary: "Cumulocity replicas below 2",
    docs: Docs {
        what: "Finds a Cumulocity manifest that sets `replicas` to 1.",
        why: "The Cumulocity docs say production services need at least 2 instances: with one, every restart or crash is an outage. berth runs exactly the replicas asked for.",
        example: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"replicas\": 1,\n \"livenessProbe\": {\"httpGet\": {\"path\": \"/health\"}}, \"readinessProbe\": {\"httpGet\": {\"path\": \"/health\"}}}",
        instead: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"replicas\": 2,\n \"livenessProbe\": {\"httpGet\": {\"path\": \"/health\"}}, \"readinessProbe\": {\"httpGet\": {\"path\": \"/health\"}}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    // Only an explicit 1: a manifest without `replicas` takes the platform default, and
    // saying so on every small service would drown real findings.
    if c.doc.format != Format::Cumulocity || c.get("/replicas").and_then(Value::as_u64) != Some(1) {
        return;
    }
    let p = c
        .problem(
            c.value_span("/replicas"),
            "one replica: every restart is an outage",
        )
        .with_label("fewer than 2")
        .with_help("use `\"replicas\": 2` or more for production services");
    c.emit(p);
}
