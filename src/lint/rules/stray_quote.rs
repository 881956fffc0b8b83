//! P20: quotes that do not quote: a quote inside a word (`abc"d`), a quote that is never
//! closed (`"abc`), and a quoted string with text right after it (`"a b"c`).

use crate::erb::TagKind;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::{Problem, Severity};
use crate::source::Span;

pub static RULE: Rule = Rule {
    name: "stray-quote",
    id: "P20",
    code: "berth::lint::stray-quote",
    severity: Severity::Warning,
    summary: "quote in the middle of a parameter, or never closed",
    docs: Docs {
        what: "Finds parameters with a quote that COSMOS does not treat as quoting: one in the middle of a word, one that is never closed, and a closing quote with more text right after it.",
        why: "A quote only starts a quoted value at the start of a parameter. Elsewhere it is an ordinary character, so `--name=\"a b\"` becomes the two parameters `--name=\"a` and `b\"`, quotes included, and `\"a b\"c` becomes `a b` and `c`.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb --name=\"a b\"",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb \"--name=a b\"",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let text = c.plugin.file.text();
    // ERB code is Ruby, where quotes mean something else; phase 2 tokenizes what it outputs.
    let tags = &c.plugin.erb_tags;
    let in_erb = |s: Span| {
        tags.iter()
            .any(|t| t.kind != TagKind::Escape && t.span.start < s.end && s.start < t.span.end)
    };
    for line in &c.plugin.raw.lines {
        for param in &line.params {
            let Some(raw) = text.get(param.span.range()) else {
                continue;
            };
            // A parameter made of several physical lines went through a continuation, so its
            // text in the file is not what COSMOS tokenized; continuations have their own rules.
            if raw.contains('\n') || in_erb(param.span) {
                continue;
            }
            let Some(p) = stray(c, raw, param.span, text) else {
                continue;
            };
            c.emit(p);
        }
    }
}

fn stray(c: &Checker, raw: &str, span: Span, text: &str) -> Option<Problem> {
    let first = raw.chars().next()?;
    if first == '"' || first == '\'' {
        if raw.len() < 2 || !raw.ends_with(first) {
            return Some(
                c.problem(span, format!("unterminated quote in `{raw}`"))
                    .with_label("the quote stays in the value")
                    .with_help(format!(
                        "close the quote (`{raw}{first}`), or quote the whole value if it has spaces"
                    )),
            );
        }
        let after = text.get(span.end..)?.chars().next()?;
        // `"a b"&` at the end of a line is a glued continuation: continuation-blank-line's.
        let continues = c
            .plugin
            .raw
            .continuations
            .iter()
            .any(|k| k.span.start == span.end);
        if after.is_ascii_whitespace() || continues {
            return None;
        }
        let rest: String = text[span.end..]
            .chars()
            .take_while(|c| !c.is_ascii_whitespace())
            .collect();
        return Some(
            c.problem(span, format!("`{raw}` is followed by `{rest}` without a space"))
                .with_label("the quoted value ends here")
                .with_help(format!(
                    "COSMOS splits this into two parameters; put the whole value inside the quotes, or a space before `{rest}`"
                )),
        );
    }
    let (at, q) = raw.char_indices().find(|&(_, c)| c == '"' || c == '\'')?;
    let quote_span = Span::new(span.start + at, span.start + at + 1);
    let message = if at + 1 == raw.len() {
        format!("quote at the end of `{raw}` closes nothing")
    } else {
        format!("quote in the middle of `{raw}`")
    };
    Some(
        c.problem(quote_span, message)
            .with_label("an ordinary character here")
            .with_related(span, "one parameter, quote included")
            .with_help(format!(
                "a quote only quotes at the start of a parameter; quote the whole value (`{q}…{q}`), or remove the quote"
            )),
    )
}
