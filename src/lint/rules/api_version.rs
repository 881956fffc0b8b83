//! C3: a manifest `apiVersion` that is not a version number, or the deprecated version 1.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "api-version",
    id: "C3",
    code: "berth::lint::api-version",
    severity: Severity::Warning,
    summary: "apiVersion that is not a number, or the deprecated 1",
    docs: Docs {
        what: "Finds a Cumulocity manifest whose `apiVersion` does not match `^v?[1-9][0-9]*$` (a positive integer with an optional `v`), or that asks for API version 1.",
        why: "The platform reads a malformed apiVersion as \"v2\" (older docs said \"v1\"), so what you wrote is not what you get. API version 1 is deprecated: depending on the platform's configuration, a v1 microservice may be impossible to upload or subscribe to.",
        example: "{\"apiVersion\": \"1\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}}",
        instead: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Cumulocity {
        return;
    }
    let Some(version) = c.get("/apiVersion").and_then(|v| v.as_str()) else {
        return;
    };
    let digits = version.strip_prefix('v').unwrap_or(version);
    let numeric = digits.starts_with(|ch: char| ('1'..='9').contains(&ch))
        && digits.bytes().all(|b| b.is_ascii_digit());
    let span = c.value_span("/apiVersion");
    let p = if !numeric {
        c.problem(span, format!("apiVersion \"{version}\" is not a version number"))
            .with_label("read as \"v2\" by the platform")
            .with_help("write \"2\"")
    } else if digits == "1" {
        c.problem(span, "API version 1 is deprecated")
            .with_label("uploads may be refused")
            .with_help("write \"2\", and check that the service runs with only the capabilities v2 grants (NET_BIND_SERVICE)")
    } else {
        return;
    };
    c.emit(p);
}
