//! P18: a line that ends in `&`, `+` or `\` by accident: on a comment line, which then
//! swallows the next line, or a `+`/`\` string concatenation with no quoted string
//! before it, which cuts a character off each side.

use crate::lint::{Check, Checker, Docs, Rule};
use crate::parse::plugin_txt::{Continuation, ContinuationKind};
use crate::problem::Severity;
use crate::source::Span;

pub static RULE: Rule = Rule {
    name: "accidental-continuation",
    id: "P18",
    code: "berth::lint::accidental-continuation",
    severity: Severity::Warning,
    summary: "`&`, `+` or `\\` at the end of a comment, or `+`/`\\` after something unquoted",
    docs: Docs {
        what: "Finds lines that end in a continuation character by accident: a comment line ending in `&`, `+` or `\\`, and a `+` or `\\` that does not follow a quoted string.",
        why: "COSMOS checks for continuations before it looks for comments, so a comment ending in `&` pulls the next line into the comment and that line is lost. `+` and `\\` join quoted strings by dropping the last character of this line and the first of the next, so after an unquoted value (`C:\\`, `a+`) they corrupt both lines.",
        example: "# listens on 8080 &\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  ENV DATA_DIR C:\\\n  ENV MODE fast",
        instead: "# listens on 8080\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  ENV DATA_DIR C:\\ # a trailing comment keeps the backslash\n  ENV MODE fast",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let text = c.plugin.file.text();
    for cont in &c.plugin.raw.continuations {
        let ch = cont.kind.char();
        let joined = joined_line(text, cont);
        let p = if cont.in_comment {
            // A comment swallowing another comment changes nothing.
            let Some(next) = joined.filter(|s| !text[s.range()].starts_with('#')) else {
                continue;
            };
            c.problem(
                cont.span,
                format!("comment line ends in `{ch}`, so the next line becomes part of the comment"),
            )
            .with_label("continues into the next line")
            .with_related(next, "COSMOS never reads this line")
            .with_help(format!(
                "remove the trailing `{ch}`, or end the comment with another character"
            ))
        } else if cont.kind != ContinuationKind::Ampersand && !cont.after_quote {
            let mut p = c
                .problem(cont.span, format!("`{ch}` at the end of the line joins the next line as a string concatenation"))
                .with_label("no quoted string before it")
                .with_help(format!(
                    "`{ch}` joins quoted strings by cutting off their quotes, so here it drops a character of each line; to keep the `{ch}` in the value, add a trailing comment after it (`{ch} # …`)"
                ));
            if let Some(next) = joined {
                p = p.with_related(next, "loses its first character and joins the line above");
            }
            p
        } else {
            continue;
        };
        c.emit(p);
    }
}

/// The physical line a continuation joins: the next non-blank one, and for `+`/`\` the
/// next that is not a comment either (COSMOS skips comment lines inside a concatenation).
pub fn joined_line(text: &str, cont: &Continuation) -> Option<Span> {
    let skip_comments = cont.kind != ContinuationKind::Ampersand;
    let rest = text.get(cont.line_span.end..)?;
    let mut offset = cont.line_span.end;
    for (i, line) in rest.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        if i == 0 {
            continue; // the rest of the continuation's own line
        }
        // COSMOS strips ASCII whitespace and NUL only.
        let space = |c: char| c.is_ascii_whitespace() || c == '\0';
        let trimmed = line.trim_start_matches(space);
        let body = trimmed.trim_end_matches(space);
        if body.is_empty() || (skip_comments && body.starts_with('#')) {
            continue;
        }
        let s = start + (line.len() - trimmed.len());
        return Some(Span::new(s, s + body.len()));
    }
    None
}
