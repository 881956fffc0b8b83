//! P13: a TARGET name that COSMOS's `verify_parameter_naming` refuses.

use crate::formats::cosmos::keywords::BlockKind;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "target-name",
    id: "P13",
    code: "berth::lint::target-name",
    severity: Severity::Error,
    summary: "TARGET name with a trailing `_`, `__`, `[[`, `]]`, space, quote or brace",
    docs: Docs {
        what: "Checks TARGET names (the second parameter) the way COSMOS's `verify_parameter_naming` does: no trailing underscore, no `__`, no `[[` or `]]`, no spaces, quotes or curly brackets.",
        why: "COSMOS refuses the plugin when the target name breaks any of these (`Parameter 2 (…) for TARGET cannot …`); the characters have meaning in COSMOS's names, templates and screens.",
        example: "TARGET INST INST_",
        instead: "TARGET INST INST",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for block in c.plugin.blocks_of(BlockKind::Target) {
        let Some(name) = c.plugin.block_name(block) else {
            continue;
        };
        let Some(reason) = naming_problem(&name.value) else {
            continue;
        };
        let v = &name.value;
        let fixed = fix(v);
        let help = if !fixed.is_empty() && naming_problem(&fixed).is_none() {
            format!("COSMOS refuses this target name; write `{fixed}`")
        } else {
            "COSMOS refuses this target name; use letters, digits and single underscores".to_string()
        };
        let p = c
            .problem(name.span, format!("target name `{v}` {reason}"))
            .with_label("refused by COSMOS")
            .with_help(help);
        c.emit(p);
    }
}

/// COSMOS's checks in its order; the first that fails is the one it reports.
fn naming_problem(name: &str) -> Option<&'static str> {
    if name.ends_with('_') {
        Some("cannot end with an underscore")
    } else if name.contains("__") {
        Some("cannot contain a double underscore (`__`)")
    } else if name.contains("[[") || name.contains("]]") {
        Some("cannot contain double brackets (`[[` or `]]`)")
    } else if name.contains(' ') {
        Some("cannot contain a space")
    } else if name.contains(['"', '\'']) {
        Some("cannot contain a quote")
    } else if name.contains(['{', '}']) {
        Some("cannot contain a curly bracket")
    } else {
        None
    }
}

/// The name with every refused part taken out, as a suggestion.
fn fix(name: &str) -> String {
    let mut s: String = name
        .chars()
        .filter(|c| !matches!(c, '"' | '\'' | '{' | '}'))
        .map(|c| if c == ' ' { '_' } else { c })
        .collect();
    for (double, single) in [("__", "_"), ("[[", "["), ("]]", "]")] {
        while s.contains(double) {
            s = s.replace(double, single);
        }
    }
    s.trim_end_matches('_').to_string()
}
