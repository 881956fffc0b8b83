//! S18: a `docker.environment` value that is not a string, which Sesam turns into JSON text.

use serde_json::Value;

use crate::lint::{Check, DocChecker, Docs, Format, Rule, child};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "json-encoded-env",
    id: "S18",
    code: "berth::lint::json-encoded-env",
    severity: Severity::Info,
    summary: "non-string environment value, passed as JSON text",
    docs: Docs {
        what: "Finds values in a Sesam microservice system's `docker.environment` that are not strings: numbers, booleans, null, lists and objects.",
        why: "Environment variables are strings. Sesam passes a string as it is and serialises anything else to JSON text: `true` becomes `true`, `{\"a\": 1}` becomes `{\"a\":1}`, `null` becomes `null`. That is often what you want, but the service must parse it.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"environment\": {\"DEBUG\": true}}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"environment\": {\"DEBUG\": \"true\"}}}",
    },
    check: Check::document(check),
};

/// Longer JSON text is not repeated in the message.
const SHOWN: usize = 40;

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    let Some(Value::Object(env)) = c.raw("/docker/environment") else {
        return;
    };
    let found: Vec<(String, String)> = env
        .iter()
        .filter(|(_, v)| !v.is_string())
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    for (key, text) in found {
        let pointer = child("/docker/environment", &key);
        let becomes = if text.len() <= SHOWN {
            format!("the string `{text}`")
        } else {
            "its JSON text".to_string()
        };
        let p = c
            .problem(
                c.value_span(&pointer),
                format!("`{key}` is not a string; the container gets {becomes}"),
            )
            .with_label("serialised to JSON")
            .with_help("write it as a string if the service expects plain text");
        c.emit(p);
    }
}
