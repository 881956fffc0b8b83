//! C15: a custom role whose name the Cumulocity UI does not show.

use serde_json::Value;

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "role-name",
    id: "C15",
    code: "berth::lint::role-name",
    severity: Severity::Warning,
    summary: "custom role not named ROLE_<NAME>_(READ|ADMIN|CREATE)",
    docs: Docs {
        what: "Finds entries of a Cumulocity manifest's `roles` that do not match `^ROLE_[A-Z0-9_]+_(READ|ADMIN|CREATE)$`.",
        why: "The platform accepts any custom role name, but the administration UI only shows roles named `ROLE_<NAME>_READ`, `_ADMIN` or `_CREATE`, so nobody can assign the others to a user.",
        example: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"roles\": [\"ROLE_EXAMPLE\"]}",
        instead: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"roles\": [\"ROLE_EXAMPLE_ADMIN\"]}",
    },
    check: Check::document(check),
};

fn is_shown(role: &str) -> bool {
    let Some(rest) = role.strip_prefix("ROLE_") else {
        return false;
    };
    ["_READ", "_ADMIN", "_CREATE"].iter().any(|suffix| {
        rest.strip_suffix(suffix).is_some_and(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        })
    })
}

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Cumulocity {
        return;
    }
    let Some(Value::Array(roles)) = c.get("/roles") else {
        return;
    };
    let odd: Vec<(usize, String)> = roles
        .iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, r.as_str()?.to_string())))
        .filter(|(_, r)| !is_shown(r))
        .collect();
    for (i, role) in odd {
        let p = c
            .problem(
                c.value_span(&format!("/roles/{i}")),
                format!("role `{role}` is not shown in the UI"),
            )
            .with_label("not ROLE_<NAME>_(READ|ADMIN|CREATE)")
            .with_help("name it ROLE_<NAME>_READ, ROLE_<NAME>_ADMIN or ROLE_<NAME>_CREATE, with NAME in A-Z, 0-9 and _");
        c.emit(p);
    }
}
