//! P12: two MICROSERVICEs, INTERFACEs, ROUTERs or TARGETs with the same name in one
//! plugin. COSMOS upcases the names, so the comparison ignores case.

use crate::formats::cosmos::keywords::BlockKind;
use crate::lint::{Check, Checker, Docs, Rule, repeats};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "duplicate-name",
    id: "P12",
    code: "berth::lint::duplicate-name",
    severity: Severity::Error,
    summary: "MICROSERVICE, INTERFACE, ROUTER or TARGET name used twice",
    docs: Docs {
        what: "Finds a MICROSERVICE, INTERFACE, ROUTER or TARGET whose name an earlier block of the same kind already uses, ignoring case.",
        why: "COSMOS upcases these names and refuses to create a model whose name exists (`… already exists at create`), so the install fails at the second block.",
        example: "MICROSERVICE PROC processor\n  CMD ruby processor.rb\nMICROSERVICE PROC_V2 Processor\n  CMD ruby processor_v2.rb",
        instead: "MICROSERVICE PROC processor\n  CMD ruby processor.rb\nMICROSERVICE PROC_V2 processor_v2\n  CMD ruby processor_v2.rb",
    },
    check: Check::plugin(check),
};

const NAMED: [BlockKind; 4] = [
    BlockKind::Microservice,
    BlockKind::Interface,
    BlockKind::Router,
    BlockKind::Target,
];

fn check(c: &mut Checker) {
    let named = c
        .plugin
        .blocks
        .iter()
        .filter(|b| NAMED.contains(&b.kind))
        .filter_map(|b| Some(((b.kind, c.plugin.block_name(b)?.value.to_uppercase()), b)));
    for (first, again) in repeats(named) {
        let (Some(a), Some(b)) = (c.plugin.block_name(first), c.plugin.block_name(again)) else {
            continue;
        };
        let what = again.kind.keyword().to_lowercase();
        let upper = b.value.to_uppercase();
        let message = if a.value == b.value {
            format!("{what} `{}` is defined twice", b.value)
        } else {
            format!(
                "{what} `{}` is defined twice: COSMOS upcases `{}` and `{}` alike",
                upper, a.value, b.value
            )
        };
        let p = c
            .repeated(a.span, b.span, "defined", message)
            .with_help(format!(
                "COSMOS refuses the second with `… {upper} already exists at create`; give each {what} its own name"
            ));
        c.emit(p);
    }
}
