//! P21: ERB in a comment that COSMOS's `comment_erb` pre-pass does not neutralise, so it
//! runs at install time: a trailing comment (`KEY P # <%= x %>`), or a comment line with a
//! `%` before its `<%` (`# 100% <%= x %>`).

use crate::erb::TagKind;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;
use crate::source::Span;

pub static RULE: Rule = Rule {
    name: "erb-in-comment",
    id: "P21",
    code: "berth::lint::erb-in-comment",
    severity: Severity::Warning,
    summary: "ERB in a comment that still runs",
    docs: Docs {
        what: "Finds ERB code and output tags (`<% … %>`, `<%= … %>`) inside `#` comments that COSMOS does not comment out: in a trailing comment after a line's parameters, and in a comment line where a `%` comes before the first `<%`.",
        why: "`#` is a comment to COSMOS's tokenizer, which runs after ERB. Before ERB, COSMOS only rewrites `<%` to `<%#` on lines that start with `#` and have no `%` before the `<%`. Any other tag in a comment runs at install time: its Ruby executes, and an error in it stops the install.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb # was <%= old_cmd %>",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb # was <%#= old_cmd %>",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let raw = &c.plugin.raw;
    let tags = &c.plugin.erb_tags;
    // A `#` inside a tag is Ruby (a comment or `#{`), not a plugin.txt comment.
    let in_tag = |at: usize| tags.iter().any(|t| t.span.start < at && at < t.span.end);
    let comments = raw
        .comments
        .iter()
        .map(|&s| (s, Place::Line))
        .chain(
            raw.lines
                .iter()
                .filter_map(|l| Some((l.comment?, Place::Trailing))),
        )
        .filter(|(s, _)| !in_tag(s.start));
    let mut found: Vec<(Span, Place)> = comments
        .flat_map(|(comment, place)| {
            tags.iter()
                .filter(move |t| {
                    matches!(t.kind, TagKind::Code | TagKind::Output)
                        && !t.commented_out
                        && comment.start <= t.span.start
                        && t.span.start < comment.end
                })
                .map(move |t| (t.span, place))
        })
        .collect();
    found.sort_by_key(|(s, _)| s.start);
    found.dedup_by_key(|(s, _)| s.start);
    for (span, place) in found {
        let help = match place {
            Place::Trailing => {
                "a `#` after the parameters does not stop ERB; write `<%#` to comment the tag out, or delete it"
            }
            Place::Line => {
                "COSMOS only comments out ERB on `#` lines with no `%` before the `<%`; write `<%#` to comment the tag out, or delete it"
            }
        };
        let p = c
            .problem(span, "ERB in a comment runs at install time")
            .with_label("this tag runs")
            .with_help(help);
        c.emit(p);
    }
}

/// Which kind of comment a tag sits in.
#[derive(Debug, Clone, Copy)]
enum Place {
    /// A whole-line comment that `comment_erb` did not rewrite.
    Line,
    /// A trailing comment after a line's parameters.
    Trailing,
}
