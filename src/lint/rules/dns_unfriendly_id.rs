//! S4: a microservice system `_id` with uppercase letters or `_`, which DNS dislikes.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "dns-unfriendly-id",
    id: "S4",
    code: "berth::lint::dns-unfriendly-id",
    severity: Severity::Warning,
    summary: "_id with uppercase letters or _",
    docs: Docs {
        what: "Finds a Sesam microservice system whose `_id` has uppercase letters or `_`. Sesam accepts both, but recommends lowercase letters, digits and `-`.",
        why: "The id becomes the container's DNS name on the node's network. DNS labels do not allow `_`, and HTTP clients (the URL system, the proxy API) may fail to look up names with uppercase letters.",
        example: "{\"_id\": \"My_Service\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    let Some(id) = c.get("/_id").and_then(|v| v.as_str()) else {
        return;
    };
    let upper = id.chars().any(|ch| ch.is_ascii_uppercase());
    let underscore = id.contains('_');
    let what = match (upper, underscore) {
        (true, true) => "uppercase letters and `_`",
        (true, false) => "uppercase letters",
        (false, true) => "`_`",
        (false, false) => return,
    };
    let p = c
        .problem(c.value_span("/_id"), format!("system id `{id}` has {what}"))
        .with_label("the id is the container's DNS name")
        .with_help(format!(
            "use lowercase letters, digits and `-`: `{}`",
            id.to_ascii_lowercase().replace('_', "-")
        ));
    c.emit(p);
}
