//! P33: forms COSMOS's code accepts but its docs do not describe: `TOOL WINDOW SAME`, a
//! third WIDGET parameter, SCRIPT_ENGINE with one or three parameters.

use crate::formats::cosmos::keywords::BlockKind;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "undocumented-form",
    id: "P33",
    code: "berth::lint::undocumented-form",
    severity: Severity::Warning,
    summary: "form accepted by COSMOS's code but not documented",
    docs: Docs {
        what: "Finds `WINDOW SAME` under TOOL, WIDGET with a third parameter, and SCRIPT_ENGINE with one or three parameters.",
        why: "COSMOS's code accepts these, but its documentation does not describe them, so they may change or go without notice. SCRIPT_ENGINE's documented form is `<extension> <filename>`; a third parameter is ignored.",
        example: "SCRIPT_ENGINE .rb",
        instead: "SCRIPT_ENGINE .rb ruby_engine.rb",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for (_, line) in c.plugin.modifier_lines("WINDOW") {
        if let Some(window) = line
            .params
            .first()
            .filter(|w| w.value.eq_ignore_ascii_case("SAME"))
        {
            let p = c
                .problem(
                    window.span,
                    "`WINDOW SAME` is accepted by COSMOS but not documented",
                )
                .with_label("undocumented value")
                .with_help("the documented values are INLINE, IFRAME and NEW");
            c.emit(p);
        }
    }
    for block in c.plugin.blocks_of(BlockKind::Widget) {
        if let Some(third) = c.plugin.header(block).params.get(2) {
            let p = c
                .problem(third.span, "the third WIDGET parameter is not documented")
                .with_label("read by COSMOS as \"select items\" (true/false)")
                .with_help("the docs describe only `WIDGET <name> [label]`");
            c.emit(p);
        }
    }
    for block in c.plugin.blocks_of(BlockKind::ScriptEngine) {
        let header = c.plugin.header(block);
        let p = match header.params.len() {
            1 => c
                .problem(header.span, "SCRIPT_ENGINE without a filename is not documented")
                .with_label("no engine file")
                .with_help("the docs require `SCRIPT_ENGINE <extension> <filename>`, the filename in the plugin's `lib` folder"),
            3 => c
                .problem(header.params[2].span, "COSMOS ignores the third SCRIPT_ENGINE parameter")
                .with_label("ignored")
                .with_help("the docs describe `SCRIPT_ENGINE <extension> <filename>`; remove the third parameter"),
            _ => continue,
        };
        c.emit(p);
    }
}
