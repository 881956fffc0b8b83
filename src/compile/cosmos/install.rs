//! COSMOS's install pipeline for one `plugin.txt` (FORMATS.md §1.1): phase 1 tokenizes
//! the file as written and gathers VARIABLEs; phase 2 renders the file with ERB and
//! tokenizes the result; its lines are grouped into blocks. The result is an
//! `ast::Plugin` whose spans all point into the original file.
//!
//! Problems found here are the ones that stop a phase (invalid UTF-8, ERB failures,
//! tokenizer crashes of the real parser); everything else is for the lint rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ast::{Block, Erb, ErbTag, Plugin, Variable};
use crate::erb;
use crate::formats::cosmos::keywords;
use crate::formats::cosmos::{is_local_variable_name, is_reserved};
use crate::parse::plugin_txt::{self, LexError, LogicalLine, Tokenized};
use crate::problem::Problem;
use crate::source::{SourceFile, Span};

/// Inputs of an install that do not come from the file.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// Values for VARIABLEs, replacing their defaults (COSMOS's Admin UI edits).
    pub variables: BTreeMap<String, String>,
    /// What `ENV[...]` sees inside ERB. Empty by default, so that the same repository
    /// compiles the same way on every machine.
    pub env: BTreeMap<String, String>,
    /// The COSMOS scope, bound as `scope` in ERB. `DEFAULT` unless set.
    pub scope: Option<String>,
}

impl InstallOptions {
    pub fn scope(&self) -> &str {
        self.scope.as_deref().unwrap_or("DEFAULT")
    }
}

/// Runs both phases on `file`.
pub fn install(file: &Arc<SourceFile>, options: &InstallOptions) -> (Plugin, Vec<Problem>) {
    let mut problems = Vec::new();
    let text = file.text();
    let raw = plugin_txt::tokenize(text);
    report_lex_errors(file, &raw, &|s| s, &mut problems);
    let variables = gather_variables(&raw);

    let mut locals: BTreeMap<String, String> = BTreeMap::new();
    for v in &variables {
        locals.insert(v.name.value.to_string(), v.default.clone());
    }
    for (name, value) in &options.variables {
        if let Some(slot) = locals.get_mut(name) {
            *slot = value.clone();
        }
    }
    // Names Ruby cannot bind (P24) or that are reserved (P23) are reported by lint; the
    // rest of the template still renders so that one run shows every problem.
    locals.retain(|name, _| is_local_variable_name(name) && !is_reserved(name));
    locals.insert("scope".to_string(), options.scope().to_string());

    let (phase2, normal) = phase2_text(text);
    let bindings = erb::Bindings {
        locals: &locals,
        env: &options.env,
    };
    let (tags, _) = erb::scan(&phase2);
    let erb_tags = tags
        .into_iter()
        .map(|t| ErbTag {
            kind: t.kind,
            span: normal.to_original(Span::from(t.span)),
            code_span: normal.to_original(Span::from(t.code_span)),
            commented_out: t.commented_out,
        })
        .collect();
    let erb_free_identifiers = erb::free_identifiers(&phase2)
        .into_iter()
        .map(|(name, span)| (name, normal.to_original(Span::from(span))))
        .collect();
    let mut plugin = Plugin {
        file: file.clone(),
        raw,
        variables,
        erb: Erb::Failed,
        erb_locals: locals.clone(),
        erb_tags,
        erb_free_identifiers,
        lines: Vec::new(),
        blocks: Vec::new(),
        stray: Vec::new(),
    };
    match erb::render(&phase2, &bindings) {
        Err(errors) => {
            for e in errors {
                let span = normal.to_original(Span::from(e.span));
                let mut p = Problem::error(e.code, e.message).at(file, span);
                if let Some(help) = e.help {
                    p = p.with_help(help);
                }
                problems.push(p);
            }
        }
        Ok(rendered) => {
            let tokenized = plugin_txt::tokenize(&rendered.text);
            let to_source = |s: Span| normal.to_original(Span::from(rendered.map.to_template(s.range())));
            report_lex_errors(file, &tokenized, &to_source, &mut problems);
            plugin.erb = Erb::Rendered;
            plugin.lines = tokenized
                .lines
                .into_iter()
                .map(|l| relocate(l, file, &to_source))
                .collect();
            let (blocks, stray) = group(&plugin.lines);
            plugin.blocks = blocks;
            plugin.stray = stray;
        }
    }
    (plugin, problems)
}

/// Phase 1: VARIABLE, VARIABLE_DESCRIPTION and VARIABLE_STATE, as `install_phase1` reads
/// them. Lines with too few parameters are skipped here (lint reports them).
fn gather_variables(raw: &Tokenized) -> Vec<Variable> {
    let mut variables: Vec<Variable> = Vec::new();
    for (index, line) in raw.lines.iter().enumerate() {
        let p = &line.params;
        match line.keyword.as_str() {
            "VARIABLE" if p.len() >= 2 => variables.push(Variable {
                name: p[0].clone(),
                default: p[1..]
                    .iter()
                    .map(|t| t.value.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                line: index,
                description: None,
                states: Vec::new(),
            }),
            "VARIABLE_DESCRIPTION" if p.len() == 1 => {
                if let Some(v) = variables.last_mut() {
                    v.description = Some(p[0].value.to_string());
                }
            }
            "VARIABLE_STATE" if !p.is_empty() && p.len() <= 2 => {
                if let Some(v) = variables.last_mut() {
                    let value = p[p.len() - 1].value.to_string();
                    v.states.push((p[0].value.to_string(), value));
                }
            }
            _ => {}
        }
    }
    variables
}

/// The template COSMOS's phase 2 hands to ERB for a plugin.txt's text (for tests and
/// tools that check the ERB engine against COSMOS).
pub fn phase2_template(text: &str) -> String {
    phase2_text(text).0
}

/// The text phase 2 renders: the file's lines, each chomped, joined with `\n` (so `\r\n`
/// becomes `\n` and the final newline goes), plus the map back to file offsets.
fn phase2_text(text: &str) -> (String, Normalization) {
    let mut out = String::with_capacity(text.len());
    let mut removed = Vec::new();
    let mut offset = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        // Ruby's chomp: the newline goes (the join puts it back), and a `\r` before it.
        let without_newline = line.strip_suffix('\n').unwrap_or(line);
        let body = without_newline.strip_suffix('\r').unwrap_or(without_newline);
        out.push_str(body);
        if body.len() < without_newline.len() {
            removed.push(offset + body.len());
        }
        offset += line.len();
    }
    if text.ends_with('\n') {
        removed.push(text.len() - 1);
    }
    let shifted = removed.iter().enumerate().map(|(k, r)| r - k).collect();
    (out, Normalization { shifted })
}

/// Maps phase-2 text offsets back to the original file, from where the bytes that
/// normalisation removed used to be.
struct Normalization {
    /// For the k-th removed byte, `original offset - k`: where it stood in the
    /// normalised text. Non-decreasing, so it can be searched.
    shifted: Vec<usize>,
}

impl Normalization {
    fn offset(&self, p: usize) -> usize {
        // Each removed byte before the target shifts it by one; a binary search over
        // where they stood in the normalised text counts those at or before `p`.
        p + self.shifted.partition_point(|&at| at <= p)
    }

    fn to_original(&self, s: Span) -> Span {
        let start = self.offset(s.start);
        let end = if s.is_empty() {
            start
        } else {
            self.offset(s.end - 1) + 1
        };
        Span::new(start, end.max(start))
    }
}

/// Moves a phase-2 line's spans into the file and gives it the file's line numbers;
/// `cosmos_line` keeps the ERB output's, which COSMOS reports.
fn relocate(mut line: LogicalLine, file: &SourceFile, to_source: &dyn Fn(Span) -> Span) -> LogicalLine {
    line.keyword_span = to_source(line.keyword_span);
    for p in &mut line.params {
        p.span = to_source(p.span);
    }
    line.span = to_source(line.span);
    line.comment = line.comment.map(to_source);
    line.first_line = file.line(line.span.start);
    line.line = file.line(line.span.end.saturating_sub(1).max(line.span.start));
    line
}

/// Groups phase-2 lines into blocks: a top-level keyword opens a block that runs to the
/// next one; the VARIABLE family belongs to none and closes none.
fn group(lines: &[LogicalLine]) -> (Vec<Block>, Vec<usize>) {
    let mut blocks: Vec<Block> = Vec::new();
    let mut stray = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if keywords::anywhere(&line.keyword).is_some() {
            continue;
        }
        if let Some((kind, _)) = keywords::top_level(&line.keyword) {
            blocks.push(Block {
                kind,
                header: i,
                modifiers: Vec::new(),
            });
        } else if let Some(block) = blocks.last_mut() {
            block.modifiers.push(i);
        } else {
            stray.push(i);
        }
    }
    (blocks, stray)
}

fn report_lex_errors(
    file: &Arc<SourceFile>,
    tokenized: &Tokenized,
    to_source: &dyn Fn(Span) -> Span,
    problems: &mut Vec<Problem>,
) {
    for e in &tokenized.errors {
        let p = match e {
            LexError::LoneConcatenation { span } => Problem::error(
                "berth::parse::lone-concatenation",
                "a line that is only `+` or `\\` crashes the COSMOS parser",
            )
            .at(file, to_source(*span))
            .with_label("nothing to concatenate")
            .with_help("remove the line, or put the `+`/`\\` after a quoted string on the line before"),
            LexError::SplitCharacter { span } => Problem::error(
                "berth::parse::split-character",
                "string concatenation cuts this multi-byte character in half; COSMOS aborts the whole file here",
            )
            .at(file, to_source(*span))
            .with_label("`+`/`\\` concatenation drops one byte of this character")
            .with_help("quote both parts: `\"first part\" +` on one line and `\"second part\"` on the next"),
        };
        problems.push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase2_text_drops_carriage_returns_and_the_final_newline() {
        let (t, n) = phase2_text("a\r\nbc\r\nd\n");
        assert_eq!(t, "a\nbc\nd");
        assert_eq!(n.to_original(Span::new(2, 4)), Span::new(3, 5)); // "bc"
        assert_eq!(n.to_original(Span::new(5, 6)), Span::new(7, 8)); // "d"
    }

    #[test]
    fn erb_tags_and_free_identifiers_point_into_the_file() {
        let text = "VARIABLE a 1\r\n# <%= a %>\r\nPORT <%= b %> <%% <%# c %>\r\n";
        let file = SourceFile::new("plugin.txt", text);
        let (plugin, _) = install(&file, &InstallOptions::default());
        let tags: Vec<(&str, &str, bool)> = plugin
            .erb_tags
            .iter()
            .map(|t| (&text[t.span.range()], &text[t.code_span.range()], t.commented_out))
            .collect();
        assert_eq!(
            tags,
            [
                ("<%= a %>", "= a ", true),
                ("<%= b %>", " b ", false),
                ("<%%", "", false),
                ("<%# c %>", " c ", false),
            ]
        );
        let free: Vec<(&str, &str)> = plugin
            .erb_free_identifiers
            .iter()
            .map(|(n, s)| (n.as_str(), &text[s.range()]))
            .collect();
        assert_eq!(free, [("b", "b")]);
    }

    #[test]
    fn phase2_lines_keep_the_line_cosmos_reports() {
        let text =
            "<% if false %>\nTARGET A A\n<% end %>\nTARGET B B\n<% 2.times do %>\nTARGET C C\n<% end %>";
        let file = SourceFile::new("plugin.txt", text);
        let (plugin, _) = install(&file, &InstallOptions::default());
        let lines: Vec<(&str, usize, usize)> = plugin
            .lines
            .iter()
            .map(|l| (l.params[0].value.as_str(), l.line, l.cosmos_line))
            .collect();
        assert_eq!(lines, [("B", 4, 2), ("C", 6, 4), ("C", 6, 6)]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Any bytes, read as a plugin.txt (lossy UTF-8, as the CLI does), go through
        /// both install phases and every lint rule without a panic, and every span of
        /// every problem and line lies inside the text, on character boundaries.
        #[test]
        fn arbitrary_bytes_install_and_lint(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let (file, _) = SourceFile::from_bytes("plugin.txt", &bytes);
            let text = file.text();
            let (plugin, mut problems) = install(&file, &InstallOptions::default());
            problems.extend(crate::lint::lint_plugin(&plugin, None));
            let inside = |s: Span| text.get(s.range()).is_some();
            for p in &problems {
                proptest::prop_assert!(p.span.is_none_or(inside), "{}: {:?}", p.code, p.span);
            }
            for l in &plugin.lines {
                proptest::prop_assert!(inside(l.span) && inside(l.keyword_span));
            }
        }

        /// The same for text made of the characters ERB and the tokenizer react to.
        #[test]
        fn erb_heavy_text_install_and_lint(
            parts in proptest::collection::vec(proptest::sample::select(&[
                "<%", "%>", "<%=", "<%#", "-%>", "<%-", "<%%", "if x", "end", "else", " ", "\n",
                "VARIABLE x 1\n", "MICROSERVICE A a\n", "#", "&\n", "\"", "(", ")", "do |i|", "each",
                "é", "\r\n", "x.to_s", "1..3", "ENV['A']",
            ][..]), 0..60)
        ) {
            let text: String = parts.concat();
            let file = SourceFile::new("plugin.txt", text.clone());
            let (plugin, mut problems) = install(&file, &InstallOptions::default());
            problems.extend(crate::lint::lint_plugin(&plugin, None));
            for p in &problems {
                proptest::prop_assert!(p.span.is_none_or(|s| text.get(s.range()).is_some()), "{}: {:?}", p.code, p.span);
            }
        }
    }
}
