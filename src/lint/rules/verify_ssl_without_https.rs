//! S9: `verify_ssl: true` while `use_https` is off, where it has no effect.

use serde_json::Value;

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "verify-ssl-without-https",
    id: "S9",
    code: "berth::lint::verify-ssl-without-https",
    severity: Severity::Warning,
    summary: "verify_ssl without use_https",
    docs: Docs {
        what: "Finds a Sesam microservice system with `verify_ssl: true` while `use_https` is false or left out.",
        why: "Sesam only verifies the certificate when it talks HTTPS to the microservice. With plain HTTP the setting does nothing, and whoever wrote it probably expected encrypted traffic.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}, \"verify_ssl\": true}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}, \"use_https\": true, \"verify_ssl\": true}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam
        || c.get("/verify_ssl") != Some(&Value::Bool(true))
        || c.get("/use_https") == Some(&Value::Bool(true))
    {
        return;
    }
    let mut p = c
        .problem(
            c.key_span("/verify_ssl"),
            "`verify_ssl` has no effect without `use_https`",
        )
        .with_label("the connection is plain HTTP")
        .with_help("set `\"use_https\": true` if the service speaks HTTPS, or remove `verify_ssl`");
    if c.get("/use_https").is_some() {
        p = p.with_related(c.value_span("/use_https"), "HTTPS is off here");
    }
    c.emit(p);
}
