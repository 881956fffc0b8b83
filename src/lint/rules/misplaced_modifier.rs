//! P2: a modifier that the enclosing block does not accept.

use crate::formats::cosmos::keywords;
use crate::lint::rules::unknown_keyword::suggest;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "misplaced-modifier",
    id: "P2",
    code: "berth::lint::misplaced-modifier",
    severity: Severity::Error,
    summary: "modifier not valid for the enclosing block",
    docs: Docs {
        what: "Finds lines inside a block whose keyword is not one of that block's modifiers, such as `TOPIC` under INTERFACE or `BRIDGE` under ROUTER.",
        why: "COSMOS rejects the plugin with `Unknown keyword and parameters for <Type>`.",
        example: "INTERFACE INT tcpip_client_interface.rb host 8080 8081 10 nil BURST\n  TOPIC telemetry",
        instead: "MICROSERVICE PROC proc\n  TOPIC telemetry",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for block in &c.plugin.blocks {
        for line in c.plugin.modifiers(block) {
            if keywords::modifier(block.kind, &line.keyword).is_some() {
                continue;
            }
            let accepting = keywords::blocks_accepting(&line.keyword);
            let mut p = c
                .problem(
                    line.keyword_span,
                    format!("`{}` is not a modifier of {}", line.keyword, block.kind),
                )
                .with_label(format!("not valid under {}", block.kind))
                .with_related(c.plugin.header(block).keyword_span, "the block opened here");
            p = if !accepting.is_empty() {
                let names: Vec<&str> = accepting.iter().map(|b| b.keyword()).collect();
                p.with_help(format!("`{}` belongs under {}", line.keyword, names.join(", ")))
            } else if let Some(s) = suggest(&line.keyword) {
                p.with_help(format!("did you mean `{s}`?"))
            } else {
                let valid: Vec<&str> = keywords::modifiers(block.kind).iter().map(|k| k.name).collect();
                p.with_help(format!("{} accepts: {}", block.kind, valid.join(", ")))
            };
            c.emit(p);
        }
    }
}
