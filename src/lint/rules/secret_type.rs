//! P7: a SECRET type other than exactly `ENV` or `FILE`.

use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "secret-type",
    id: "P7",
    code: "berth::lint::secret-type",
    severity: Severity::Error,
    summary: "SECRET type not exactly ENV or FILE",
    docs: Docs {
        what: "Checks that the first parameter of every SECRET is `ENV` or `FILE`, in capitals.",
        why: "COSMOS installs the plugin whatever the type says, but at runtime the operator only delivers `ENV` and `FILE` secrets, and the microservice's own secret setup raises `Unknown secret type` for anything else, lowercase `env` and `file` included.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  SECRET env API_TOKEN API_TOKEN",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  SECRET ENV API_TOKEN API_TOKEN",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for (_, line) in c.plugin.modifier_lines("SECRET") {
        let Some(kind) = line.params.first() else {
            continue;
        };
        let v = &kind.value;
        if v == "ENV" || v == "FILE" {
            continue;
        }
        let p = if v.eq_ignore_ascii_case("ENV") || v.eq_ignore_ascii_case("FILE") {
            let upper = v.to_ascii_uppercase();
            c.problem(kind.span, format!("secret type `{v}` must be written `{upper}`"))
                .with_label("installs, then fails at runtime")
                .with_help(format!(
                    "the type is case-sensitive at runtime (`Unknown secret type: {v}`); write `{upper}`"
                ))
        } else {
            c.problem(kind.span, format!("unknown secret type `{v}`"))
                .with_label("not ENV or FILE")
                .with_help("use `ENV` to set an environment variable or `FILE` to write a file")
        };
        c.emit(p);
    }
}
