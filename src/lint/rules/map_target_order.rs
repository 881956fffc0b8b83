//! P29: an INTERFACE or ROUTER mapping a target that this plugin declares only later, or
//! not at all.

use crate::formats::cosmos::keywords::BlockKind;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "map-target-order",
    id: "P29",
    code: "berth::lint::map-target-order",
    severity: Severity::Warning,
    summary: "MAP_TARGET naming a target declared later, or not in this plugin",
    docs: Docs {
        what: "Checks the target of every MAP_TARGET, MAP_CMD_TARGET and MAP_TLM_TARGET against the plugin's TARGETs: it should be declared above the INTERFACE or ROUTER.",
        why: "COSMOS deploys blocks in file order and checks that mapped targets exist when it deploys the interface, so a TARGET further down fails the install with `Target '…' does not exist`. A target no TARGET line declares only works if another plugin installed it first.",
        example: "INTERFACE INST_INT tcpip_client_interface.rb localhost 8080 8081 10 nil BURST\n  MAP_TARGET INST\nTARGET INST INST",
        instead: "TARGET INST INST\nINTERFACE INST_INT tcpip_client_interface.rb localhost 8080 8081 10 nil BURST\n  MAP_TARGET INST",
    },
    check: Check::plugin(check),
};

const MAP_KEYWORDS: [&str; 3] = ["MAP_TARGET", "MAP_CMD_TARGET", "MAP_TLM_TARGET"];

fn check(c: &mut Checker) {
    let plugin = c.plugin;
    let targets: Vec<_> = plugin
        .blocks_of(BlockKind::Target)
        .filter_map(|b| Some((b.header, plugin.block_name(b)?)))
        .collect();
    let mut maps: Vec<_> = MAP_KEYWORDS
        .iter()
        .flat_map(|kw| plugin.modifier_lines(kw))
        .collect();
    maps.sort_by_key(|(_, line)| line.span.start);
    for (block, line) in maps {
        let Some(target) = line.params.first() else {
            continue;
        };
        let name = target.value.to_uppercase();
        // UNKNOWN stands for packets no target claims; it is never declared.
        if name == "UNKNOWN" {
            continue;
        }
        let what = block.kind.keyword();
        let declared = targets.iter().find(|(_, t)| t.value.to_uppercase() == name);
        let p = match declared {
            Some((header, _)) if *header < block.header => continue,
            Some((_, declaration)) => c
                .problem(target.span, format!("target `{name}` is declared after this {what}"))
                .with_label("does not exist yet when this deploys")
                .with_related(declaration.span, "declared here")
                .with_help(format!(
                    "COSMOS deploys blocks in file order and fails with `Target '{name}' does not exist`; move the TARGET above the {what}"
                )),
            None => c
                .problem(target.span, format!("target `{name}` is not declared in this plugin"))
                .with_label("no TARGET with this name")
                .with_help(format!(
                    "this works only if another plugin has installed target `{name}` first; otherwise add a TARGET line above the {what}"
                )),
        };
        c.emit(p);
    }
}
