//! P10: a MICROSERVICE, INTERFACE or ROUTER name containing `__`, which breaks COSMOS's
//! `SCOPE__TYPE__NAME` microservice names.

use crate::formats::cosmos::service_name;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "name-double-underscore",
    id: "P10",
    code: "berth::lint::name-double-underscore",
    severity: Severity::Error,
    summary: "MICROSERVICE, INTERFACE or ROUTER name containing `__`",
    docs: Docs {
        what: "Finds MICROSERVICE, INTERFACE and ROUTER names with a double underscore anywhere, including at the end.",
        why: "COSMOS names the microservice `SCOPE__TYPE__NAME` and requires it to split at `__` into exactly three parts, so `__` in the name makes the install fail. A trailing `__` slips through only because Ruby's `split` drops empty fields.",
        example: "MICROSERVICE EXAMPLE data__processor\n  CMD ruby processor.rb",
        instead: "MICROSERVICE EXAMPLE data_processor\n  CMD ruby processor.rb",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for block in c.plugin.blocks.iter().filter(|b| b.kind.is_deployed()) {
        let Some(name) = c.plugin.block_name(block) else {
            continue;
        };
        let v = &name.value;
        if !v.contains("__") {
            continue;
        }
        let what = block.kind.keyword().to_lowercase();
        let full = service_name("DEFAULT", block.kind, v);
        let (message, label) = if v.trim_end_matches('_').contains("__") {
            (
                format!("{what} name `{v}` contains `__`"),
                "splits the COSMOS name",
            )
        } else {
            (
                format!("{what} name `{v}` ends with `__`"),
                "an empty part in the COSMOS name",
            )
        };
        let mut fixed = v.trim_end_matches('_').to_string();
        while fixed.contains("__") {
            fixed = fixed.replace("__", "_");
        }
        let help = if fixed.is_empty() {
            format!(
                "COSMOS names it `{full}`, which must split at `__` into exactly scope, type and name; use `_` or `-` instead"
            )
        } else {
            format!(
                "COSMOS names it `{full}`, which must split at `__` into exactly scope, type and name; write `{fixed}`"
            )
        };
        let p = c.problem(name.span, message).with_label(label).with_help(help);
        c.emit(p);
    }
}
