//! B5 (berth's own): blocks that berth checks but deploys nothing for.

use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "not-deployed",
    id: "B5",
    code: "berth::lint::not-deployed",
    severity: Severity::Info,
    summary: "TARGET, TOOL, WIDGET or SCRIPT_ENGINE: checked, but no container runs for it",
    docs: Docs {
        what: "Notes, once per plugin, the blocks that configure COSMOS itself (TARGET, TOOL, WIDGET, SCRIPT_ENGINE). berth lints them like every other block but runs containers only for MICROSERVICE, INTERFACE and ROUTER.",
        why: "A plugin installed into COSMOS does more than berth deploys: its targets, tools and widgets still need a COSMOS installation. The note makes that visible instead of silently dropping the blocks.",
        example: "TARGET INST INST\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let skipped: Vec<_> = c.plugin.blocks.iter().filter(|b| !b.kind.is_deployed()).collect();
    let Some(first) = skipped.first() else { return };
    let header = c.plugin.header(first);
    let name = header
        .params
        .iter()
        .map(|p| p.value.as_str())
        .next_back()
        .unwrap_or_default();
    let more = match skipped.len() {
        1 => ": it configures".to_string(),
        2 => " and 1 more block: they configure".to_string(),
        n => format!(" and {} more blocks: they configure", n - 1),
    };
    let p = c
        .problem(
            header.keyword_span,
            format!("berth runs no container for {} {name}{more} COSMOS itself", first.kind),
        )
        .with_label("checked, not deployed")
        .with_help("only MICROSERVICE, INTERFACE and ROUTER blocks become services; the rest need a COSMOS installation");
    c.emit(p);
}
