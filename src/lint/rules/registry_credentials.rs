//! S10: only one of `docker.username` and `docker.password`.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "registry-credentials",
    id: "S10",
    code: "berth::lint::registry-credentials",
    severity: Severity::Warning,
    summary: "docker.username without docker.password, or the reverse",
    docs: Docs {
        what: "Finds a Sesam microservice system whose `docker` has a registry `username` but no `password`, or a `password` but no `username`.",
        why: "Pulling a private image needs both; with one of them the pull runs without credentials and fails for a private image.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"username\": \"example\"}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"username\": \"example\", \"password\": \"$SECRET(registry-password)\"}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    let (has, lacks) = match (c.get("/docker/username"), c.get("/docker/password")) {
        (Some(_), None) => ("username", "password"),
        (None, Some(_)) => ("password", "username"),
        _ => return,
    };
    let p = c
        .problem(
            c.key_span(&format!("/docker/{has}")),
            format!("`docker.{has}` without `docker.{lacks}`"),
        )
        .with_label("the registry login needs both")
        .with_help(format!(
            "add `docker.{lacks}`, or remove `docker.{has}` for a public image"
        ));
    c.emit(p);
}
