//! P30: a block with DISABLE_ERB both bare and with patterns, where the bare one no
//! longer means "every file".

use crate::formats::cosmos::keywords;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "disable-erb-mixed",
    id: "P30",
    code: "berth::lint::disable-erb-mixed",
    severity: Severity::Warning,
    summary: "DISABLE_ERB both with and without patterns in one block",
    docs: Docs {
        what: "Finds blocks with a bare `DISABLE_ERB` and also a `DISABLE_ERB` that lists file patterns.",
        why: "COSMOS adds up all DISABLE_ERB patterns of a block. An empty list turns ERB off for every file; any pattern makes it apply only to matching files, so the bare line silently stops meaning \"all files\".",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  DISABLE_ERB\n  DISABLE_ERB \\.html$",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  DISABLE_ERB",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for block in &c.plugin.blocks {
        if keywords::modifier(block.kind, "DISABLE_ERB").is_none() {
            continue;
        }
        let (bare, listed): (Vec<_>, Vec<_>) = c
            .plugin
            .modifiers_named(block, "DISABLE_ERB")
            .partition(|l| l.params.is_empty());
        let Some(patterns) = listed.first() else {
            continue;
        };
        for line in bare {
            let p = c
                .problem(line.keyword_span, "bare DISABLE_ERB does not disable ERB for every file here")
                .with_label("meant for every file")
                .with_related(patterns.span, "patterns here limit it to matching files")
                .with_help("a block's DISABLE_ERB patterns add up and any pattern limits it to matching files; remove the patterns to disable ERB everywhere, or remove this line");
            c.emit(p);
        }
    }
}
