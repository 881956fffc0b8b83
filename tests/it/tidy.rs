//! Repository rules that are cheap to forget: file headers, and the grammar matching the
//! parser it documents.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_starts_with_a_module_doc_line() {
    let mut files = Vec::new();
    for dir in ["src", "tests", "benches"] {
        if root().join(dir).is_dir() {
            rust_files(&root().join(dir), &mut files);
        }
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| !std::fs::read_to_string(f).unwrap_or_default().starts_with("//!"))
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` first line: {missing:?}"
    );
}

#[test]
fn grammar_productions_are_parser_functions() {
    let grammar = std::fs::read_to_string(root().join("grammar/plugin-txt.ebnf")).unwrap();
    let parser = std::fs::read_to_string(root().join("src/parse/plugin_txt.rs")).unwrap();
    // Comments first, so that words inside them are not taken for productions.
    let mut text = String::new();
    let mut rest = grammar.as_str();
    while let Some(start) = rest.find("(*") {
        text.push_str(&rest[..start]);
        rest = rest[start..].split_once("*)").map_or("", |(_, after)| after);
    }
    text.push_str(rest);
    let productions: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.trim()))
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    assert!(productions.len() >= 10, "found only {productions:?}");
    let missing: Vec<&&str> = productions
        .iter()
        .filter(|p| !parser.contains(&format!("fn {p}(")) && !parser.contains(&format!("fn {p}<")))
        .collect();
    assert!(
        missing.is_empty(),
        "productions with no parser function: {missing:?}"
    );
}

#[test]
fn readme_lists_every_lint_rule() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let (list, _, status) = crate::run(&["lint", "--list-rules"]);
    assert_eq!(status, 0);
    let missing: Vec<&str> = list
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let id = words.next()?;
            let name = words.next()?;
            (!readme.contains(&format!("| {id} | `{name}` |"))).then_some(name)
        })
        .collect();
    assert!(missing.is_empty(), "README's lint rule table lacks {missing:?}");
}
