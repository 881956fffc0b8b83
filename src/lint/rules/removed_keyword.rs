//! B1 (berth's own): a modifier that older COSMOS releases accepted and the pinned one
//! no longer knows.

use crate::formats::cosmos::keywords::{self, Status};
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "removed-keyword",
    id: "B1",
    code: "berth::lint::removed-keyword",
    severity: Severity::Warning,
    summary: "keyword removed from COSMOS; current releases reject the plugin",
    docs: Docs {
        what: "Finds modifiers that COSMOS 5 and 6 accepted but that were removed since, such as INTERFACE's `LOG_RAW` (raw logging is now configured with `LOG_STREAM`).",
        why: "COSMOS 7.3 rejects the plugin with `Unknown keyword and parameters for Interface`. Older installations still accept it, so this is a warning rather than an error.",
        example: "INTERFACE INST_INT simulated_target_interface.rb sim_inst.rb\n  MAP_TARGET INST\n  LOG_RAW",
        instead: "INTERFACE INST_INT simulated_target_interface.rb sim_inst.rb\n  MAP_TARGET INST",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for block in &c.plugin.blocks {
        for line in c.plugin.modifiers(block) {
            let removed = keywords::modifier(block.kind, &line.keyword)
                .is_some_and(|spec| spec.status == Status::Removed);
            if removed {
                let p = c
                    .problem(
                        line.keyword_span,
                        format!(
                            "{} was removed from COSMOS; COSMOS 7.3 rejects this plugin",
                            line.keyword
                        ),
                    )
                    .with_label("unknown to current COSMOS")
                    .with_help("remove the line; for raw logging use LOG_STREAM");
                c.emit(p);
            }
        }
    }
}
