//! S19: a `docker.environment` name that is not a POSIX environment variable name.

use serde_json::Value;

use crate::lint::{Check, DocChecker, Docs, Format, Rule, child};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "env-name",
    id: "S19",
    code: "berth::lint::env-name",
    severity: Severity::Warning,
    summary: "environment name that is not [A-Za-z_][A-Za-z0-9_]*",
    docs: Docs {
        what: "Finds names in a Sesam microservice system's `docker.environment` that do not match `^[A-Za-z_][A-Za-z0-9_]*$`, such as `SOME-VARIABLE` or `2FA`.",
        why: "Docker accepts such names, but shells cannot expand them (`$SOME-VARIABLE` is `$SOME` followed by `-VARIABLE`) and many runtimes and entrypoint scripts drop or mangle them.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"environment\": {\"LOG-LEVEL\": \"info\"}}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"environment\": {\"LOG_LEVEL\": \"info\"}}}",
    },
    check: Check::document(check),
};

fn is_posix_name(name: &str) -> bool {
    name.starts_with(|ch: char| ch.is_ascii_alphabetic() || ch == '_')
        && name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    let Some(Value::Object(env)) = c.get("/docker/environment") else {
        return;
    };
    let odd: Vec<String> = env.keys().filter(|k| !is_posix_name(k)).cloned().collect();
    for name in odd {
        let pointer = child("/docker/environment", &name);
        let fixed: String = name
            .chars()
            .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
            .collect();
        let p = c
            .problem(
                c.key_span(&pointer),
                format!("`{name}` is not a portable environment variable name"),
            )
            .with_label("shells cannot expand it")
            .with_help(format!(
                "use letters, digits and _, not starting with a digit: `{}`",
                if fixed.starts_with(|ch: char| ch.is_ascii_digit()) {
                    format!("_{fixed}")
                } else {
                    fixed
                }
            ));
        c.emit(p);
    }
}
