//! S8: `username`/`password` without `authentication`, which Sesam then ignores.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "ignored-credentials",
    id: "S8",
    code: "berth::lint::ignored-credentials",
    severity: Severity::Warning,
    summary: "username/password without authentication",
    docs: Docs {
        what: "Finds a Sesam microservice system with `username` or `password` but no `authentication`.",
        why: "Authentication towards the microservice is opt-in: without `authentication` (`basic` or `digest`) Sesam sends no credentials, so the service gets unauthenticated requests.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}, \"username\": \"sesam\", \"password\": \"$SECRET(example-password)\"}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}, \"username\": \"sesam\", \"password\": \"$SECRET(example-password)\", \"authentication\": \"basic\"}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam || c.get("/authentication").is_some() {
        return;
    }
    let Some(key) = ["username", "password"]
        .into_iter()
        .find(|k| c.get(&format!("/{k}")).is_some())
    else {
        return;
    };
    let p = c
        .problem(
            c.key_span(&format!("/{key}")),
            "credentials without `authentication` are ignored",
        )
        .with_label("never sent")
        .with_help("add `\"authentication\": \"basic\"` (or `\"digest\"`), or remove the credentials");
    c.emit(p);
}
