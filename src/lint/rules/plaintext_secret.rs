//! B4: a secret written in plain text: Sesam `password`, `docker.password` and secret-looking
//! `docker.environment` values; COSMOS `ENV` lines with secret-looking keys.

use serde_json::Value;

use crate::lint::{Check, Checker, DocChecker, Docs, Format, Rule, child, looks_secret};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "plaintext-secret",
    id: "B4",
    code: "berth::lint::plaintext-secret",
    severity: Severity::Warning,
    summary: "secret written in plain text",
    docs: Docs {
        what: "Finds values written in plain text under keys that name a secret (a last word password, passwd, secret, token or credential, or api key / private key, in any case): a Sesam microservice system's `password`, `docker.password` and `docker.environment` values, and COSMOS `ENV <KEY> <value>` lines. A Sesam `$SECRET(...)` or `$ENV(...)` reference, an empty value, a `<placeholder>` and a file name (`credentials.json`, `key.pem`) are fine.",
        why: "Config files end up in Git, in support tickets and in logs. Sesam's `$SECRET(name)` keeps the value encrypted and write-only; COSMOS has `SECRET` lines that read the value from its secret store.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  ENV API_TOKEN abc123",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  SECRET ENV API_TOKEN API_TOKEN",
    },
    check: Check::both(plugin, document),
};

/// Files a secret-looking key may name instead of holding the secret
/// (`GOOGLE_APPLICATION_CREDENTIALS=credentials.json`).
const KEY_FILES: [&str; 6] = [".json", ".pem", ".key", ".p12", ".pfx", ".crt"];

/// Whether a value as written leaves nothing secret in the file: empty, a reference, a
/// `<placeholder>`, or the name of a file that holds the secret.
fn harmless(value: &str) -> bool {
    let value = value.trim_matches(|ch| ch == '"' || ch == '\'');
    value.is_empty()
        || (!value.contains(char::is_whitespace) && KEY_FILES.iter().any(|ext| value.ends_with(ext)))
        || value.contains("$SECRET(")
        || value.contains("$ENV(")
        || (value.starts_with('<') && value.ends_with('>'))
}

fn plugin(c: &mut Checker) {
    for (_, line) in c.plugin.modifier_lines("ENV") {
        let [key, value, ..] = line.params.as_slice() else {
            continue;
        };
        if !looks_secret(&key.value) || harmless(&value.value) {
            continue;
        }
        let p = c
            .problem(value.span, format!("`{}` is written in plain text", key.value))
            .with_label("secret in the file")
            .with_help(format!(
                "read it from the secret store: `SECRET ENV {0} {0}`",
                key.value
            ));
        c.emit(p);
    }
}

fn document(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    let mut secrets = vec![
        ("password".to_string(), "/password".to_string()),
        ("password".to_string(), "/docker/password".to_string()),
    ];
    if let Some(Value::Object(env)) = c.raw("/docker/environment") {
        secrets.extend(
            env.keys()
                .filter(|k| looks_secret(k))
                .map(|k| (k.clone(), child("/docker/environment", k))),
        );
    }
    for (name, pointer) in secrets {
        let Some(Value::String(value)) = c.raw(&pointer) else {
            continue;
        };
        if harmless(value) {
            continue;
        }
        let p = c
            .problem(
                c.value_span(&pointer),
                format!("`{name}` is written in plain text"),
            )
            .with_label("secret in the file")
            .with_help(format!(
                "store it as a Sesam secret and write `\"$SECRET({})\"`",
                name.to_ascii_lowercase().replace('_', "-")
            ));
        c.emit(p);
    }
}
