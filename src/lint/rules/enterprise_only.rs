//! P31: keywords that only COSMOS Enterprise honours (CONTAINER) or that the docs list as
//! "Coming Soon" (BRIDGE and friends).

use crate::formats::cosmos::keywords::{self, Status};
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "enterprise-only",
    id: "P31",
    code: "berth::lint::enterprise-only",
    severity: Severity::Warning,
    summary: "CONTAINER (Enterprise only) or BRIDGE* (coming soon)",
    docs: Docs {
        what: "Finds CONTAINER, documented as COSMOS Enterprise only, and the BRIDGE, BRIDGE_OPTION, BRIDGE_PROTOCOL and BRIDGE_SECRET modifiers, documented as \"Coming Soon\".",
        why: "COSMOS Core accepts these lines and then ignores them: the microservice runs in the operator's own container whatever CONTAINER says, and no bridge is started.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  CONTAINER example:1.0",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for block in &c.plugin.blocks {
        for line in c.plugin.modifiers(block) {
            let Some(spec) = keywords::modifier(block.kind, &line.keyword) else {
                continue;
            };
            if spec.status != Status::Enterprise {
                continue;
            }
            let p = if line.keyword == "CONTAINER" {
                c.problem(line.keyword_span, "CONTAINER only works in COSMOS Enterprise")
                    .with_label("ignored by COSMOS Core")
                    .with_help("COSMOS Core runs every microservice in its operator container; remove the line unless the plugin targets Enterprise")
            } else {
                c.problem(
                    line.keyword_span,
                    format!("{} is documented as coming soon", line.keyword),
                )
                .with_label("not available yet")
                .with_help(format!(
                    "the COSMOS docs list {} as \"since: Coming Soon\"; do not rely on it yet",
                    line.keyword
                ))
            };
            c.emit(p);
        }
    }
}
