//! P1: a keyword COSMOS does not know, or a modifier before any block.

use crate::formats::cosmos::keywords;
use crate::lint::{Check, Checker, Docs, Rule, closest};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "unknown-keyword",
    id: "P1",
    code: "berth::lint::unknown-keyword",
    severity: Severity::Error,
    summary: "unknown top-level keyword, or a modifier with no open block",
    docs: Docs {
        what: "Finds lines outside any block whose keyword is not a top-level keyword (TARGET, INTERFACE, ROUTER, MICROSERVICE, TOOL, WIDGET, SCRIPT_ENGINE) or one of the VARIABLE family.",
        why: "COSMOS refuses the plugin with `Invalid keyword '<KW>' in plugin.txt`.",
        example: "PORT 8080\nMICROSERVICE EXAMPLE example",
        instead: "MICROSERVICE EXAMPLE example\n  PORT 8080",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for &i in &c.plugin.stray {
        let line = &c.plugin.lines[i];
        let accepting = keywords::blocks_accepting(&line.keyword);
        let p = if accepting.is_empty() {
            let p = c
                .problem(line.keyword_span, format!("unknown keyword `{}`", line.keyword))
                .with_label("not a COSMOS plugin.txt keyword");
            match suggest(&line.keyword) {
                Some(s) => p.with_help(format!("did you mean `{s}`?")),
                None => p.with_help("top-level keywords are TARGET, INTERFACE, ROUTER, MICROSERVICE, TOOL, WIDGET, SCRIPT_ENGINE and the VARIABLE family"),
            }
        } else {
            let names: Vec<&str> = accepting.iter().map(|b| b.keyword()).collect();
            c.problem(
                line.keyword_span,
                format!("`{}` appears before any block", line.keyword),
            )
            .with_label("no block is open here")
            .with_help(format!(
                "`{}` is a modifier of {}; move it under one",
                line.keyword,
                names.join(", ")
            ))
        };
        c.emit(p);
    }
}

/// The closest known keyword, if one is close enough to be a likely typo.
pub fn suggest(word: &str) -> Option<&'static str> {
    closest(word, keywords::all_names())
}
