//! C18 (warning part): a `prometheus.io` extension whose `port` is not a string.

use serde_json::Value;

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "prometheus-port",
    id: "C18",
    code: "berth::lint::prometheus-port",
    severity: Severity::Warning,
    summary: "prometheus.io extension port not written as a string",
    docs: Docs {
        what: "Finds a Cumulocity `prometheus.io` extension whose `port` is a number.",
        why: "The platform documents the port as a string (`\"80\"`); a number may not be read.",
        example: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"},\n \"livenessProbe\": {\"httpGet\": {\"path\": \"/health\"}}, \"readinessProbe\": {\"httpGet\": {\"path\": \"/health\"}},\n \"extensions\": [{\"type\": \"prometheus.io\", \"path\": \"/prometheus\", \"port\": 80}]}",
        instead: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"},\n \"livenessProbe\": {\"httpGet\": {\"path\": \"/health\"}}, \"readinessProbe\": {\"httpGet\": {\"path\": \"/health\"}},\n \"extensions\": [{\"type\": \"prometheus.io\", \"path\": \"/prometheus\", \"port\": \"80\"}]}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Cumulocity {
        return;
    }
    let Some(extensions) = c.get("/extensions").and_then(Value::as_array).cloned() else {
        return;
    };
    for (i, e) in extensions.iter().enumerate() {
        let prometheus = e.get("type").and_then(Value::as_str) == Some("prometheus.io");
        if prometheus && e.get("port").is_some_and(|p| !p.is_string()) {
            let p = c
                .problem(
                    c.value_span(&format!("/extensions/{i}/port")),
                    "the metrics port must be a string",
                )
                .with_label("a number")
                .with_help("write it in quotes, for example `\"port\": \"80\"`");
            c.emit(p);
        }
    }
}
