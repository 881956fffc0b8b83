//! S5 (warning part): a Sesam `docker.port` outside 1–65535.

use serde_json::Value;

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "port-range",
    id: "S5",
    code: "berth::lint::port-range",
    severity: Severity::Warning,
    summary: "Sesam docker.port outside 1-65535",
    docs: Docs {
        what: "Finds a Sesam microservice system whose `docker.port` is not a TCP port number (1 to 65535).",
        why: "Sesam talks HTTP to the container on that port; no container can listen on port 0 or above 65535, so the system never becomes reachable. berth deploys the service without a port.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 70000}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    let Some(port) = c.get("/docker/port").and_then(Value::as_i64) else {
        return;
    };
    if (1..=65535).contains(&port) {
        return;
    }
    let p = c
        .problem(
            c.value_span("/docker/port"),
            format!("port {port} is not a TCP port"),
        )
        .with_label("outside 1-65535")
        .with_help("use the port the image's service listens on, for example 5000");
    c.emit(p);
}
