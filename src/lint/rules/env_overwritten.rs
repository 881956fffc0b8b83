//! P17: ENV lines that do not take effect: a variable the COSMOS operator sets itself, or
//! a key set twice in one block.

use crate::lint::{Check, Checker, Docs, Rule, repeats};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "env-overwritten",
    id: "P17",
    code: "berth::lint::env-overwritten",
    severity: Severity::Warning,
    summary: "ENV key the operator overwrites, or set twice",
    docs: Docs {
        what: "Finds ENV lines for variables the COSMOS operator sets when it starts a microservice (`GEM_HOME`, `PYTHONUSERBASE`, `PYTHONPATH`, `VIRTUAL_ENV`, `PATH`, `OPENC3_MICROSERVICE_NAME`, `OPENC3_SCOPE`, `RUBYOPT`), and keys set twice in one block.",
        why: "The operator applies the block's ENV first and then sets its own values over them, so these ENV lines have no effect (`PATH` and `VIRTUAL_ENV` when the plugin has its own Python environment). Of two ENV lines with one key only the last counts.",
        example: "MICROSERVICE EXAMPLE example\n  CMD python example.py\n  ENV PYTHONPATH /opt/lib\n  ENV LOG_LEVEL info\n  ENV LOG_LEVEL debug",
        instead: "MICROSERVICE EXAMPLE example\n  CMD python example.py\n  ENV EXAMPLE_LIB /opt/lib\n  ENV LOG_LEVEL debug",
    },
    check: Check::plugin(check),
};

/// The variables the operator owns: whether it always overwrites them, and what it does
/// (FORMATS.md §1.9).
const OPERATOR_OWNED: [(&str, bool, &str); 8] = [
    ("GEM_HOME", true, "always set by the operator"),
    ("PYTHONUSERBASE", true, "always set by the operator"),
    ("PYTHONPATH", true, "always set by the operator"),
    (
        "VIRTUAL_ENV",
        false,
        "set by the operator when the plugin has its own Python environment",
    ),
    (
        "PATH",
        false,
        "set by the operator when the plugin has its own Python environment",
    ),
    ("OPENC3_MICROSERVICE_NAME", true, "always set by the operator"),
    ("OPENC3_SCOPE", true, "always set by the operator"),
    ("RUBYOPT", true, "always removed by the operator"),
];

fn check(c: &mut Checker) {
    for (_, line) in c.plugin.modifier_lines("ENV") {
        let Some(key) = line.params.first() else {
            continue;
        };
        let Some(&(_, always, what)) = OPERATOR_OWNED.iter().find(|(k, _, _)| *k == key.value) else {
            continue;
        };
        let is = if always { "is" } else { "can be" };
        let p = c
            .problem(key.span, format!("`{}` {is} overwritten by the COSMOS operator", key.value))
            .with_label(what)
            .with_help("the operator sets this after the block's ENV lines, so this value is lost; use a variable of your own");
        c.emit(p);
    }
    for block in c.plugin.blocks.iter().filter(|b| b.kind.is_deployed()) {
        let keys = c
            .plugin
            .modifiers_named(block, "ENV")
            .filter_map(|l| l.params.first())
            .map(|k| (k.value.as_str(), k));
        for (first, again) in repeats(keys) {
            let p = c
                .repeated(
                    first.span,
                    again.span,
                    "set",
                    format!("`{}` is set twice; the last value wins", again.value),
                )
                .with_help("remove the ENV line that should not count");
            c.emit(p);
        }
    }
}
