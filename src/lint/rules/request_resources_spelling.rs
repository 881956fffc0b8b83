//! C12: the OpenAPI spelling `requestResources` instead of the documented `requestedResources`.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "request-resources-spelling",
    id: "C12",
    code: "berth::lint::request-resources-spelling",
    severity: Severity::Warning,
    summary: "`requestResources` instead of `requestedResources`",
    docs: Docs {
        what: "Finds a Cumulocity manifest that spells the resource requests `requestResources`, the name the OpenAPI-generated clients use, instead of `requestedResources`, the name in the manifest documentation and the Java SDK.",
        why: "Which spelling the platform reads is not documented beyond the manifest docs; a platform that reads only `requestedResources` ignores the requests and falls back to its defaults (cpu 250m, memory 256M).",
        example: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"requestResources\": {\"cpu\": \"100m\"}}",
        instead: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"requestedResources\": {\"cpu\": \"100m\"}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Cumulocity || c.get("/requestResources").is_none() {
        return;
    }
    let mut p = c
        .problem(
            c.key_span("/requestResources"),
            "`requestResources` is the OpenAPI spelling; the manifest docs say `requestedResources`",
        )
        .with_label("may be ignored");
    p = if c.get("/requestedResources").is_some() {
        p.with_related(
            c.key_span("/requestedResources"),
            "the documented spelling is here too",
        )
        .with_help("keep one of the two: `requestedResources`")
    } else {
        p.with_help("rename it to `requestedResources`")
    };
    c.emit(p);
}
