//! P32: deprecated keywords that COSMOS accepts and ignores.

use crate::formats::cosmos::keywords::{self, Status};
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "deprecated-keyword",
    id: "P32",
    code: "berth::lint::deprecated-keyword",
    severity: Severity::Info,
    summary: "deprecated keyword that does nothing",
    docs: Docs {
        what: "Finds deprecated modifiers that COSMOS still accepts but ignores: the old TARGET log and reducer settings (`CMD_DECOM_LOG_CYCLE_TIME`, `REDUCER_DISABLE`, …) and INTERFACE's `DONT_LOG`.",
        why: "They have no effect any more, so they mislead readers into thinking a setting applies.",
        example: "TARGET INST INST\n  REDUCER_DISABLE",
        instead: "TARGET INST INST",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for block in &c.plugin.blocks {
        for line in c.plugin.modifiers(block) {
            let deprecated = keywords::modifier(block.kind, &line.keyword)
                .is_some_and(|spec| spec.status == Status::Deprecated);
            if !deprecated {
                continue;
            }
            let p = c
                .problem(
                    line.span,
                    format!("{} is deprecated and does nothing", line.keyword),
                )
                .with_label("ignored by COSMOS")
                .with_help("remove the line");
            c.emit(p);
        }
    }
}
