//! P14: a MICROSERVICE without CMD, which has nothing to run.

use crate::formats::cosmos::keywords::BlockKind;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "missing-cmd",
    id: "P14",
    code: "berth::lint::missing-cmd",
    severity: Severity::Warning,
    summary: "MICROSERVICE with no CMD",
    docs: Docs {
        what: "Finds MICROSERVICE blocks without a CMD line.",
        why: "Unlike INTERFACE and ROUTER, a MICROSERVICE has no default command: COSMOS installs it and then runs an empty command, which fails every time the microservice starts.",
        example: "MICROSERVICE EXAMPLE example\n  WORK_DIR .",
        instead: "MICROSERVICE EXAMPLE example\n  WORK_DIR .\n  CMD ruby example.rb",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for block in c.plugin.blocks_of(BlockKind::Microservice) {
        if c.plugin.modifiers_named(block, "CMD").next().is_some() {
            continue;
        }
        let header = c.plugin.header(block);
        let name = c
            .plugin
            .block_name(block)
            .map_or_else(String::new, |n| format!(" `{}`", n.value));
        let p = c
            .problem(header.span, format!("microservice{name} has no CMD"))
            .with_label("nothing to run")
            .with_help("COSMOS starts it with an empty command, which fails; add `CMD ruby <file>.rb` or `CMD python <file>.py` to the block");
        c.emit(p);
    }
}
