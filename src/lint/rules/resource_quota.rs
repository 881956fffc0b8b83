//! S11: `docker.memory` or `docker.cpu_quota` at zero or below, or beyond any subscription.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "resource-quota",
    id: "S11",
    code: "berth::lint::resource-quota",
    severity: Severity::Warning,
    summary: "docker.memory or docker.cpu_quota out of range",
    docs: Docs {
        what: "Finds a Sesam microservice system whose `docker.memory` is 0 or less or above 16384 MB (the largest subscription's quota), or whose `docker.cpu_quota` is 0 or less or above 400 (four cores).",
        why: "A container cannot run with no memory or no CPU. Sesam does not enforce its quotas, but a container sized beyond the node's subscription starves the other services; the docs say to use `cpu_quota` \"with extreme care\".",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"memory\": 32768}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"memory\": 1024}}",
    },
    check: Check::document(check),
};

/// Each setting, its unit and its largest sensible value.
const LIMITS: [(&str, &str, i64, &str); 2] = [
    (
        "memory",
        " MB",
        16384,
        "the largest subscription (multi) has 16 GB per compute",
    ),
    ("cpu_quota", "", 400, "400 is four whole cores"),
];

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    for (key, unit, max, why) in LIMITS {
        let pointer = format!("/docker/{key}");
        let Some(n) = c.get(&pointer).and_then(|v| v.as_i64()) else {
            continue;
        };
        let (message, help) = if n <= 0 {
            (
                format!("`docker.{key}` is {n}{unit}"),
                "give the container a positive amount, or remove the line for the default".to_string(),
            )
        } else if n > max {
            (
                format!("`docker.{key}` is {n}{unit}, above {max}{unit}"),
                format!("{why}; size the container for what it needs"),
            )
        } else {
            continue;
        };
        let p = c
            .problem(c.value_span(&pointer), message)
            .with_label("out of range")
            .with_help(help);
        c.emit(p);
    }
}
