//! P19b: a continuation still open at the end of the file; COSMOS drops the whole line.

use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "continuation-at-eof",
    id: "P19b",
    code: "berth::lint::continuation-at-eof",
    severity: Severity::Error,
    summary: "continuation open at the end of the file: the line is dropped",
    docs: Docs {
        what: "Finds a last line ending in `&`, `+` or `\\`, so that the file ends while the line is still being continued.",
        why: "COSMOS only reads a line once its continuation ends. At the end of the file it stops without reading the pending line, so the whole logical line, keyword included, is silently lost.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb &",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let Some(pending) = c.plugin.raw.pending_at_eof else {
        return;
    };
    let text = c.plugin.file.text();
    // A pending comment loses nothing.
    if text.get(pending.range()).is_none_or(|t| t.starts_with('#')) {
        return;
    }
    let Some(last) = c
        .plugin
        .raw
        .continuations
        .iter()
        .rfind(|k| k.span.start >= pending.start)
    else {
        return;
    };
    let ch = last.kind.char();
    let p = c
        .problem(
            last.span,
            format!("the file ends inside a `{ch}` continuation, so COSMOS drops this line"),
        )
        .with_label("continues past the end of the file")
        .with_related(pending, "never read by COSMOS")
        .with_help(format!("remove the trailing `{ch}`"));
    c.emit(p);
}
