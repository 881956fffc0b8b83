//! P19: continuations that join more than they seem to: one followed by a blank line
//! (which does not end it), and `&` glued to the token before it.

use crate::lint::rules::accidental_continuation::joined_line;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "continuation-blank-line",
    id: "P19",
    code: "berth::lint::continuation-blank-line",
    severity: Severity::Warning,
    summary: "continuation followed by a blank line, or `&` with no space before it",
    docs: Docs {
        what: "Finds `&`, `+` and `\\` continuations followed by a blank line, and `&` written directly after a token (`FOO&`).",
        why: "A blank line does not end a continuation: COSMOS skips it and joins the next non-blank line, which is usually the next keyword. `&` joins the lines without a space, so `FOO&` followed by `BAR` gives the single parameter `FOOBAR`.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb --verbose&\n    --color &\n\n  PORT 8080",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb --verbose &\n    --color\n\n  PORT 8080",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let text = c.plugin.file.text();
    for cont in &c.plugin.raw.continuations {
        // A comment that continues is accidental-continuation's.
        if cont.in_comment {
            continue;
        }
        let ch = cont.kind.char();
        // With nothing after it, the line is dropped instead: continuation-at-eof's.
        let Some(next) = joined_line(text, cont) else {
            continue;
        };
        if cont.glued {
            // The token the `&` is stuck to, as written (a quoted value keeps its quotes).
            let before = c
                .plugin
                .raw
                .lines
                .iter()
                .flat_map(|l| std::iter::once(l.keyword_span).chain(l.params.iter().map(|p| p.span)))
                .find(|s| s.start < cont.span.start && cont.span.start <= s.end)
                .map(|s| s.start);
            let line = text.get(cont.line_span.start..cont.span.start).unwrap_or("");
            let word = match before.and_then(|b| text.get(b..cont.span.start)) {
                Some(token) => token,
                // A line never yielded (the file ended first): the last word will do.
                None => line
                    .rsplit(|c: char| c.is_ascii_whitespace())
                    .next()
                    .unwrap_or(line),
            };
            let p = c
                .problem(
                    cont.span,
                    format!("`&` right after `{word}` glues it to the next line's first word"),
                )
                .with_label("no space before `&`")
                .with_related(next, "its first word joins the line above without a space")
                .with_help(format!("write `{word} &` to keep the two apart"));
            c.emit(p);
        }
        if cont.blank_after {
            let p = c
                .problem(cont.span, format!("the `{ch}` continuation goes on past a blank line"))
                .with_label("a blank line does not end it")
                .with_related(next, "joined to the line above")
                .with_help(format!(
                    "remove the `{ch}` if the line is complete; if it is not, remove the blank line to make that visible"
                ));
            c.emit(p);
        }
    }
}
