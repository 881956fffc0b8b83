//! B2 (berth's own): where COSMOS's phase-2 line numbers stop matching the file's.
//! COSMOS counts lines of the ERB output, so a false `<% if %>`, a loop or a multi-line
//! `<%= %>` shifts every later line it reports. Said once per plugin, at the first line
//! that moved.

use crate::formats::cosmos::keywords;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "erb-line-numbers",
    id: "B2",
    code: "berth::lint::erb-line-numbers",
    severity: Severity::Info,
    summary: "COSMOS reports different line numbers than the file's after ERB",
    docs: Docs {
        what: "Finds the first line that COSMOS numbers differently from the file because ERB added or removed lines before it.",
        why: "COSMOS reports errors found after ERB with line numbers of the ERB output, not of plugin.txt. Once ERB has dropped a branch or repeated a loop body, an error message from COSMOS points at the wrong line of the file. berth reports the file's own lines. Conditional parts at the end of the file shift nothing after them.",
        example: "<% if false %>\nTARGET OLD OLD\n<% end %>\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n<% if false %>\nTARGET OLD OLD\n<% end %>",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    // Phase 2 passes over the VARIABLE family and NEEDS_DEPENDENCIES, so COSMOS never
    // reports those lines' numbers.
    let first = c
        .plugin
        .lines
        .iter()
        .find(|l| l.cosmos_line != l.line && keywords::anywhere(&l.keyword).is_none());
    let Some(line) = first else {
        return;
    };
    let p = c
        .problem(
            line.keyword_span,
            format!(
                "COSMOS reports this line as line {} (it counts lines of the ERB output); later lines shift too",
                line.cosmos_line
            ),
        )
        .with_label(format!("line {} of the file", line.line))
        .with_help("from here on, a line number in a COSMOS error counts lines of the ERB output: find the line by its keyword and parameters; berth's own messages give the file's lines");
    c.emit(p);
}
