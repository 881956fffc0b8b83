//! Finding and reading input files, and the options every front-end command shares.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use miette::{IntoDiagnostic, WrapErr};

use crate::ast::Plugin;
use crate::compile::cosmos::install::{InstallOptions, install};
use crate::lint::{PluginTree, lint_plugin};
use crate::problem::Problem;
use crate::source::{SourceFile, Span};

/// Options that shape how plugins are installed.
#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// Set a COSMOS VARIABLE, replacing its default (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_pair)]
    vars: Vec<(String, String)>,
    /// Set what `ENV['NAME']` returns inside ERB (repeatable). ERB sees no other
    /// environment, so results do not depend on the shell berth runs in.
    #[arg(long = "erb-env", value_name = "NAME=VALUE", value_parser = parse_pair)]
    env: Vec<(String, String)>,
    /// The COSMOS scope the plugins are installed into.
    #[arg(long, default_value = "DEFAULT")]
    scope: String,
}

impl InstallArgs {
    pub fn options(&self) -> InstallOptions {
        InstallOptions {
            variables: self.vars.iter().cloned().collect::<BTreeMap<_, _>>(),
            env: self.env.iter().cloned().collect(),
            scope: Some(self.scope.clone()),
        }
    }
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

/// One plugin, installed and linted.
pub struct Loaded {
    pub plugin: Plugin,
    /// Problems from reading, installing and linting, in file order.
    pub problems: Vec<Problem>,
}

/// Every `plugin.txt` named by `paths`: files as given, folders searched recursively.
pub fn discover(paths: &[PathBuf]) -> miette::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.push(path.clone());
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> miette::Result<()> {
    let entries = std::fs::read_dir(dir)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let entry = entry.into_diagnostic()?;
        let path = entry.path();
        let kind = entry.file_type().into_diagnostic()?;
        if kind.is_dir() {
            // Version-control and build folders never hold configuration.
            let name = entry.file_name();
            if name != ".git" && name != "target" && name != "node_modules" {
                walk(&path, found)?;
            }
        } else if kind.is_file() && entry.file_name() == "plugin.txt" {
            found.push(path);
        }
    }
    Ok(())
}

/// Reads, installs and lints one plugin file.
pub fn load(path: &Path, options: &InstallOptions) -> miette::Result<Loaded> {
    let bytes = std::fs::read(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read {}", path.display()))?;
    let (file, invalid) = SourceFile::from_bytes(display_name(path), &bytes);
    let mut problems = Vec::new();
    if let Some(bad) = invalid {
        problems.push(invalid_utf8(&file, bad.byte_offset, bad.text_offset));
    }
    let (plugin, mut install_problems) = install(&file, options);
    problems.append(&mut install_problems);
    let tree = plugin_tree(path);
    problems.extend(lint_plugin(&plugin, tree.as_ref()));
    problems.sort_by_key(|p| p.span.map(|s| s.start));
    Ok(Loaded { plugin, problems })
}

fn invalid_utf8(file: &Arc<SourceFile>, byte_offset: usize, text_offset: usize) -> Problem {
    let width = file.text()[text_offset..]
        .chars()
        .next()
        .map_or(0, char::len_utf8);
    Problem::error(
        "berth::parse::invalid-utf8",
        format!("the file is not valid UTF-8: invalid byte at offset {byte_offset}"),
    )
    .at(file, Span::new(text_offset, text_offset + width))
    .with_label("not UTF-8")
    .with_help("COSMOS reads plugin.txt as UTF-8 and aborts on this byte; save the file as UTF-8")
}

/// The folder around a `plugin.txt`, when it looks like a plugin gem's tree.
fn plugin_tree(path: &Path) -> Option<PluginTree> {
    let dir = path.parent()?;
    let is_tree = ["microservices", "targets", "tools", "lib"]
        .iter()
        .any(|d| dir.join(d).is_dir())
        || std::fs::read_dir(dir)
            .ok()?
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "gemspec"));
    if !is_tree {
        return None;
    }
    let microservice_folders = std::fs::read_dir(dir.join("microservices"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    Some(PluginTree { microservice_folders })
}

/// Paths are shown as given, with `/` separators, so output is the same everywhere.
fn display_name(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}
