//! P25: VARIABLE_DESCRIPTION or VARIABLE_STATE before any VARIABLE.

use crate::formats::cosmos::is_reserved;
use crate::formats::cosmos::keywords;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "orphan-variable-modifier",
    id: "P25",
    code: "berth::lint::orphan-variable-modifier",
    severity: Severity::Error,
    summary: "VARIABLE_DESCRIPTION or VARIABLE_STATE before any VARIABLE",
    docs: Docs {
        what: "Finds VARIABLE_DESCRIPTION and VARIABLE_STATE lines with no VARIABLE above them.",
        why: "Each describes the VARIABLE defined most recently. With none defined yet, COSMOS refuses the plugin with `VARIABLE_DESCRIPTION must follow a VARIABLE definition`.",
        example: "VARIABLE_DESCRIPTION \"The port the API listens on\"\nVARIABLE api_port 8080",
        instead: "VARIABLE api_port 8080\nVARIABLE_DESCRIPTION \"The port the API listens on\"",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let mut defined = false;
    for line in &c.plugin.raw.lines {
        let Some(spec) = keywords::anywhere(&line.keyword) else {
            continue;
        };
        // COSMOS checks the count first (parameter-count reports it), and a VARIABLE only
        // becomes current once its name has passed the reserved-name check.
        if !spec.accepts(line.params.len()) {
            continue;
        }
        match line.keyword.as_str() {
            "VARIABLE" => defined |= line.params.first().is_some_and(|n| !is_reserved(&n.value)),
            "VARIABLE_DESCRIPTION" | "VARIABLE_STATE" if !defined => {
                let p = c
                    .problem(line.keyword_span, format!("{} before any VARIABLE", line.keyword))
                    .with_label("no VARIABLE above to describe")
                    .with_help(format!(
                        "COSMOS refuses the plugin (`{} must follow a VARIABLE definition`); move it below the VARIABLE it belongs to",
                        line.keyword
                    ));
                c.emit(p);
            }
            _ => {}
        }
    }
}
