//! P3: a keyword with too few or too many parameters.

use crate::formats::cosmos::keywords::{self, Keyword};
use crate::lint::{Check, Checker, Docs, Rule};
use crate::parse::plugin_txt::LogicalLine;
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "parameter-count",
    id: "P3",
    code: "berth::lint::parameter-count",
    severity: Severity::Error,
    summary: "parameter count outside the keyword's range",
    docs: Docs {
        what: "Checks every keyword's number of parameters against what COSMOS's `verify_num_parameters` accepts.",
        why: "COSMOS raises `Not enough parameters` or `Too many parameters` and refuses the plugin. A value with spaces that is not quoted is the usual cause.",
        example: "MICROSERVICE EXAMPLE example\n  ENV GREETING hello world",
        instead: "MICROSERVICE EXAMPLE example\n  ENV GREETING \"hello world\"",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    // Phase 1 reads the VARIABLE family from the file as written.
    let raw = &c.plugin.raw.lines;
    for line in raw.iter().filter(|l| keywords::anywhere(&l.keyword).is_some()) {
        if let Some(spec) = keywords::anywhere(&line.keyword) {
            verify(c, line, spec);
        }
    }
    for block in &c.plugin.blocks {
        let header = c.plugin.header(block);
        if let Some((_, spec)) = keywords::top_level(&header.keyword) {
            verify(c, header, spec);
        }
        for line in c.plugin.modifiers(block) {
            if let Some(spec) = keywords::modifier(block.kind, &line.keyword) {
                verify(c, line, spec);
            }
        }
    }
}

fn verify(c: &mut Checker, line: &LogicalLine, spec: &Keyword) {
    let n = line.params.len();
    if spec.accepts(n) {
        return;
    }
    let (message, span) = if n < spec.min {
        (
            format!(
                "not enough parameters for {}: {n} given, {} expected",
                spec.name,
                spec.arity()
            ),
            line.span,
        )
    } else {
        let max = spec.max.unwrap_or(n);
        let extra = line.params[max].span.cover(line.params[n - 1].span);
        (
            format!(
                "too many parameters for {}: {n} given, {} expected",
                spec.name,
                spec.arity()
            ),
            extra,
        )
    };
    let usage = format!("usage: {} {}", spec.name, spec.usage);
    let help = if n > spec.min && spec.max.is_some() {
        format!("{usage}; quote a value that contains spaces")
    } else {
        usage
    };
    let p = c.problem(span, message).with_help(help.trim_end().to_string());
    c.emit(p);
}
