//! P15: ROUTE_PREFIX problems: no PORT to route to, no leading `/`, or the same prefix
//! twice in one plugin.

use crate::lint::{Check, Checker, Docs, Rule, repeats};
use crate::parse::plugin_txt::Token;
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "route-prefix",
    id: "P15",
    code: "berth::lint::route-prefix",
    severity: Severity::Warning,
    summary: "ROUTE_PREFIX without PORT, without a leading `/`, or used twice",
    docs: Docs {
        what: "Checks every ROUTE_PREFIX: its block needs a PORT, the prefix should start with `/`, and no two blocks of the plugin may use the same prefix.",
        why: "COSMOS routes the prefix to the block's first PORT through Traefik. Without a PORT no route is made, and COSMOS's route endpoint fails on the missing port, for every microservice. A missing `/` is added silently. Prefixes must be unique: two routers with one prefix compete for the same requests.",
        example: "MICROSERVICE API api\n  CMD ruby api.rb\n  ROUTE_PREFIX api",
        instead: "MICROSERVICE API api\n  CMD ruby api.rb\n  PORT 8080\n  ROUTE_PREFIX /api",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let mut prefixes: Vec<&Token> = Vec::new();
    for (block, line) in c.plugin.modifier_lines("ROUTE_PREFIX") {
        let Some(prefix) = line.params.first() else {
            continue;
        };
        prefixes.push(prefix);
        if c.plugin.modifiers_named(block, "PORT").next().is_none() {
            let p = c
                .problem(line.span, format!("route prefix `{}` has no PORT to route to", prefix.value))
                .with_label("no PORT in this block")
                .with_related(c.plugin.header(block).keyword_span, "the block opened here")
                .with_help("add `PORT <number>` with the port the microservice listens on; without one COSMOS's Traefik route endpoint fails");
            c.emit(p);
        }
        if !prefix.value.starts_with('/') {
            let p = c
                .problem(
                    prefix.span,
                    format!("route prefix `{}` does not start with `/`", prefix.value),
                )
                .with_label("COSMOS adds the `/`")
                .with_help(format!("write `/{}`", prefix.value));
            c.emit(p);
        }
    }
    let normalised = prefixes.iter().map(|t| (with_slash(&t.value), *t));
    for (first, again) in repeats(normalised) {
        let p = c
            .repeated(
                first.span,
                again.span,
                "used",
                format!("route prefix `{}` is used twice", again.value),
            )
            .with_help("route prefixes must be unique across all scopes; give each microservice its own");
        c.emit(p);
    }
}

/// The prefix as COSMOS routes it: a `/` is added when it does not start with one.
fn with_slash(prefix: &str) -> String {
    if prefix.starts_with('/') {
        prefix.to_string()
    } else {
        format!("/{prefix}")
    }
}
