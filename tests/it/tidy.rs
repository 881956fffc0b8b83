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
    for dir in ["src", "tests", "benches", "crates"] {
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

/// The modules a source file's non-test code names through `crate::` or `super::`, as
/// paths from the crate root (`["engine", "naming"]`).
fn imports(module: &[String], text: &str) -> Vec<Vec<String>> {
    let text = without_tests(text);
    let text = text.as_str();
    let segments = |path: &str| -> Vec<String> {
        path.split("::")
            .map(str::trim)
            .take_while(|s| {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            })
            .map(String::from)
            .collect()
    };
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['c', 's']) {
        let here = &rest[at..];
        let boundary = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let (base, tail) = if boundary && here.starts_with("crate::") {
            (Vec::new(), &here["crate::".len()..])
        } else if boundary && here.starts_with("super::") {
            let mut tail = here;
            let mut base = module.to_vec();
            while let Some(t) = tail.strip_prefix("super::") {
                base.pop();
                tail = t;
            }
            (base, tail)
        } else {
            rest = &rest[at + 1..];
            continue;
        };
        let paths: Vec<&str> = match tail.strip_prefix('{') {
            Some(group) => group.split('}').next().unwrap_or_default().split(',').collect(),
            None => vec![
                tail.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .next()
                    .unwrap_or_default(),
            ],
        };
        for path in paths {
            let mut full = base.clone();
            full.extend(segments(path));
            found.push(full);
        }
        rest = tail;
    }
    found
}

/// `text` without its test code: a `#[cfg(test)] mod … { … }` body (to the end of the
/// file, where test modules sit) and the item after any other `#[cfg(test)]` (a test
/// module declared in its own file, a test-only import).
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = rest[at + "#[cfg(test)]".len()..].trim_start();
        let line = after.lines().next().unwrap_or_default();
        if line.trim_end().ends_with('{') {
            return out;
        }
        rest = after.split_once('\n').map_or("", |(_, next)| next);
    }
    out.push_str(rest);
    out
}

/// The modules `lib.rs` declares, in its order.
fn declared_modules() -> Vec<String> {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| {
            let l = l.trim();
            l.strip_prefix("pub mod ")
                .or_else(|| l.strip_prefix("pub use berth_"))
                .map(|m| {
                    m.trim_end_matches(';')
                        .split(' ')
                        .next_back()
                        .unwrap_or_default()
                        .to_string()
                })
        })
        .collect()
}

/// miette renders and clap parses, both only on the command line: no other module names
/// either.
#[test]
fn miette_and_clap_stay_in_the_command_line() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("crates"), &mut files);
    let outside: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(root().join("src/cli")))
        .filter(|f| {
            let text = without_tests(&std::fs::read_to_string(f).unwrap());
            text.contains("miette::") || text.contains("clap::")
        })
        .map(|f| f.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(outside.is_empty(), "miette or clap outside src/cli/: {outside:?}");
}

/// lib.rs lists the modules in pipeline order, which is its code map: each imports only
/// modules listed before it.
#[test]
fn lib_lists_its_modules_in_the_order_they_build_on_each_other() {
    let order = declared_modules();
    assert!(
        order.len() > 20 && order.contains(&"erb".to_string()),
        "{order:?}"
    );
    let mut late = Vec::new();
    for (path, text) in modules_of(&root().join("src")) {
        let Some(own) = path.first().and_then(|m| order.iter().position(|o| o == m)) else {
            continue;
        };
        for import in imports(&path, &text) {
            let Some(other) = import.first().and_then(|m| order.iter().position(|o| o == m)) else {
                continue;
            };
            if other > own {
                late.push(format!("{} imports {}", path.join("::"), import.join("::")));
            }
        }
    }
    late.sort();
    late.dedup();
    assert!(
        late.is_empty(),
        "modules importing one listed after them in lib.rs: {late:#?}"
    );
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    for crate_root in ["src", "crates/erb/src"] {
        no_cycles_in(&root().join(crate_root));
    }
}

/// Every module of the crate at `crate_root` with its text: `["engine", "naming"]` for
/// `engine/naming.rs`, `["engine"]` for `engine/mod.rs`, `[]` for `lib.rs`.
fn modules_of(crate_root: &Path) -> Vec<(Vec<String>, String)> {
    let mut files = Vec::new();
    rust_files(crate_root, &mut files);
    files
        .iter()
        .map(|f| {
            let relative = f.strip_prefix(crate_root).unwrap().with_extension("");
            let mut path: Vec<String> = relative
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            if matches!(path.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                path.pop();
            }
            (path, std::fs::read_to_string(f).unwrap())
        })
        .collect()
}

fn no_cycles_in(crate_root: &Path) {
    let modules = modules_of(crate_root);
    // Siblings at every depth: `engine` and `apply`, `erb::eval` and `erb::methods`. A
    // module and its own parent or child are one unit and may name each other.
    for depth in 1..=3 {
        let mut edges: std::collections::BTreeMap<Vec<String>, std::collections::BTreeSet<Vec<String>>> =
            Default::default();
        for (module, text) in &modules {
            if module.len() < depth {
                continue;
            }
            let from = module[..depth].to_vec();
            for import in imports(module, text) {
                if import.len() < depth
                    || import[..depth - 1] != from[..depth - 1]
                    || import[..depth] == from[..]
                {
                    continue;
                }
                edges
                    .entry(from.clone())
                    .or_default()
                    .insert(import[..depth].to_vec());
            }
        }
        for (start, targets) in &edges {
            // Can `start` reach itself?
            let mut seen = std::collections::BTreeSet::new();
            let mut stack: Vec<(Vec<String>, Vec<Vec<String>>)> = targets
                .iter()
                .map(|t| (t.clone(), vec![start.clone(), t.clone()]))
                .collect();
            while let Some((module, path)) = stack.pop() {
                assert!(
                    module != *start,
                    "a module imports one that imports it back: {}",
                    path.iter().map(|p| p.join("::")).collect::<Vec<_>>().join(" → ")
                );
                if seen.insert(module.clone()) {
                    for next in edges.get(&module).into_iter().flatten() {
                        let mut longer = path.clone();
                        longer.push(next.clone());
                        stack.push((next.clone(), longer));
                    }
                }
            }
        }
    }
}
