//! P8: a MICROSERVICE SECRET whose fourth parameter looks like an INTERFACE option name,
//! though for a MICROSERVICE it is the secret store.

use crate::formats::cosmos::keywords::BlockKind;
use crate::formats::cosmos::values::is_nil_like;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "secret-store-looks-like-option",
    id: "P8",
    code: "berth::lint::secret-store-looks-like-option",
    severity: Severity::Warning,
    summary: "MICROSERVICE SECRET store parameter that looks like an option name",
    docs: Docs {
        what: "Finds MICROSERVICE `SECRET`s with a fourth parameter in capitals, such as `PASSWORD`, that reads like the option name INTERFACE and ROUTER secrets take.",
        why: "Under INTERFACE and ROUTER the fourth SECRET parameter is an option name and the fifth the secret store; under MICROSERVICE the fourth is already the store. A copied INTERFACE line makes COSMOS look the secret up in a store called `PASSWORD`.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  SECRET ENV DB_PASSWORD DB_PASSWORD PASSWORD",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  SECRET ENV DB_PASSWORD DB_PASSWORD",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for (block, line) in c.plugin.modifier_lines("SECRET") {
        if block.kind != BlockKind::Microservice {
            continue;
        }
        let Some(store) = line.params.get(3) else {
            continue;
        };
        if is_nil_like(&store.value) || !looks_like_option_name(&store.value) {
            continue;
        }
        let p = c
            .problem(
                store.span,
                format!("`{}` is taken as the secret store, not an option name", store.value),
            )
            .with_label("the secret store for a MICROSERVICE")
            .with_help(format!(
                "a MICROSERVICE SECRET has no option name (INTERFACE and ROUTER secrets do); remove `{}` unless it names a secret store",
                store.value
            ));
        c.emit(p);
    }
}

/// Option names are capitalised identifiers (`USERNAME`, `CA_FILE`).
fn looks_like_option_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}
