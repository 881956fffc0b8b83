//! P28: `NEEDS_DEPENDENCIES` written only in a comment, where it still takes effect.

use crate::erb::TagKind;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;
use crate::source::Span;

pub static RULE: Rule = Rule {
    name: "needs-dependencies-in-comment",
    id: "P28",
    code: "berth::lint::needs-dependencies-in-comment",
    severity: Severity::Info,
    summary: "NEEDS_DEPENDENCIES in a comment still takes effect",
    docs: Docs {
        what: "Finds the word `NEEDS_DEPENDENCIES` in comments of a plugin that has no NEEDS_DEPENDENCIES line.",
        why: "COSMOS decides whether a plugin needs its gem and Python dependency setup by searching the whole file for the text `NEEDS_DEPENDENCIES`, comments included. Commenting the keyword out does not turn it off.",
        example: "# NEEDS_DEPENDENCIES\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb",
        instead: "NEEDS_DEPENDENCIES\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb",
    },
    check: Check::plugin(check),
};

const WORD: &str = "NEEDS_DEPENDENCIES";

fn check(c: &mut Checker) {
    let raw = &c.plugin.raw;
    if raw.lines.iter().any(|l| l.keyword == WORD) {
        return;
    }
    let text = c.plugin.file.text();
    let erb_comments = c
        .plugin
        .erb_tags
        .iter()
        .filter(|t| t.kind == TagKind::Comment)
        .map(|t| t.span);
    let comments: Vec<Span> = raw
        .comments
        .iter()
        .copied()
        .chain(raw.lines.iter().filter_map(|l| l.comment))
        .chain(erb_comments)
        .collect();
    let mut found: Vec<Span> = comments
        .iter()
        .flat_map(|s| {
            let body = text.get(s.range()).unwrap_or("");
            body.match_indices(WORD)
                .map(move |(i, _)| Span::new(s.start + i, s.start + i + WORD.len()))
        })
        .collect();
    found.sort();
    found.dedup();
    for span in found {
        let p = c
            .problem(span, "`NEEDS_DEPENDENCIES` in a comment still takes effect")
            .with_label("COSMOS finds this text")
            .with_help("COSMOS searches the whole file, comments included; write NEEDS_DEPENDENCIES as a line of its own if the plugin needs it, or reword the comment if it does not");
        c.emit(p);
    }
}
