//! P22: ERB in a VARIABLE, VARIABLE_DESCRIPTION or VARIABLE_STATE line, which COSMOS
//! reads before ERB runs.

use crate::erb::TagKind;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "erb-in-variable",
    id: "P22",
    code: "berth::lint::erb-in-variable",
    severity: Severity::Warning,
    summary: "ERB in a VARIABLE line is not run",
    docs: Docs {
        what: "Finds ERB tags (`<% … %>`, `<%= … %>`) in VARIABLE, VARIABLE_DESCRIPTION and VARIABLE_STATE lines.",
        why: "COSMOS gathers VARIABLEs in a first pass over the file as written, before ERB runs, so a tag there is kept as literal text: the variable's name or default value then contains `<%=`.",
        example: "VARIABLE port <%= 8000 + 80 %>\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT <%= port %>",
        instead: "VARIABLE port 8080\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT <%= port %>",
    },
    check: Check::plugin(check),
};

const VARIABLE_FAMILY: [&str; 3] = ["VARIABLE", "VARIABLE_DESCRIPTION", "VARIABLE_STATE"];

fn check(c: &mut Checker) {
    let tags: Vec<_> = c
        .plugin
        .erb_tags
        .iter()
        .filter(|t| t.kind != TagKind::Escape)
        .map(|t| t.span)
        .collect();
    for line in &c.plugin.raw.lines {
        if !VARIABLE_FAMILY.contains(&line.keyword.as_str()) {
            continue;
        }
        for tag in tags
            .iter()
            .filter(|t| line.span.start <= t.start && t.start < line.span.end)
        {
            let p = c
                .problem(*tag, format!("ERB in a {} line is not run", line.keyword))
                .with_label("kept as literal text")
                .with_help(format!(
                    "COSMOS reads {} lines before ERB runs; write the value itself",
                    line.keyword
                ));
            c.emit(p);
        }
    }
}
