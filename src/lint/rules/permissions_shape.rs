//! S23: Sesam `permissions` entries that are not `["allow"|"deny", [..], [..]]`.

use serde_json::Value;

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "permissions-shape",
    id: "S23",
    code: "berth::lint::permissions-shape",
    severity: Severity::Warning,
    summary: "Sesam permissions entry not [allow|deny, [roles], [permissions]]",
    docs: Docs {
        what: "Checks each entry of a Sesam system's `permissions`: a list of three, an `allow` or `deny` verb, then a list of groups or roles, then a list of permissions.",
        why: "Sesam applies access-control entries of exactly that shape; a malformed one does not grant or deny what its author meant.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}, \"permissions\": [[\"allow\", \"group:Admin\"]]}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}, \"permissions\": [[\"allow\", [\"group:Admin\"], [\"read_config\"]]]}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    let Some(entries) = c.get("/permissions").and_then(Value::as_array).cloned() else {
        return;
    };
    for (i, entry) in entries.iter().enumerate() {
        let well_formed = entry.as_array().is_some_and(|e| {
            e.len() == 3
                && e[0]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case("allow") || v.eq_ignore_ascii_case("deny"))
                && e[1].is_array()
                && e[2].is_array()
        });
        if !well_formed {
            let p = c
                .problem(
                    c.value_span(&format!("/permissions/{i}")),
                    "malformed permissions entry",
                )
                .with_label("not [verb, [roles], [permissions]]")
                .with_help("write `[\"allow\" or \"deny\", [\"group:...\"], [\"permission\", ...]]`");
            c.emit(p);
        }
    }
}
