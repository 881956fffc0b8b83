//! Lint: rules over every format, one rule per file in `rules/`, listed in one registry.
//! A rule reads an analysed COSMOS plugin (`ast::Plugin`, plus the plugin's folder listing
//! when there is one), or a JSON document of the other formats (a Cumulocity manifest, a
//! Sesam entity), or both, and reports `Problem`s under its own code and default severity.

pub mod policy;

pub use crate::model::looks_secret;
pub use crate::parse::json::child;
pub use crate::problem::closest;
pub mod rules;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

pub use crate::ast::PluginTree;
use crate::ast::{Block, Plugin, TreeFile};
use crate::compile::{Compiled, Entity};
pub use crate::formats::Format;
use crate::formats::cosmos::keywords::BlockKind;
use crate::parse::json::Json;
use crate::parse::plugin_txt::Token;
use crate::problem::{Problem, Severity};
use crate::source::{SourceFile, Span};

/// A lint rule: identity, documentation and the check itself.
pub struct Rule {
    /// Kebab-case name; the problem code is `berth::lint::<name>`.
    pub name: &'static str,
    /// Its identifier in FORMATS.md (`P3`).
    pub id: &'static str,
    pub code: &'static str,
    pub severity: Severity,
    /// One line: what the rule finds.
    pub summary: &'static str,
    pub docs: Docs,
    pub check: Check,
}

/// What a rule looks at.
pub struct Check {
    pub plugin: Option<fn(&mut Checker)>,
    pub document: Option<fn(&mut DocChecker)>,
}

impl Check {
    /// A rule over COSMOS plugins.
    pub const fn plugin(f: fn(&mut Checker)) -> Check {
        Check {
            plugin: Some(f),
            document: None,
        }
    }

    /// A rule over Cumulocity manifests and Sesam entities.
    pub const fn document(f: fn(&mut DocChecker)) -> Check {
        Check {
            plugin: None,
            document: Some(f),
        }
    }

    /// A rule over every format.
    pub const fn both(p: fn(&mut Checker), d: fn(&mut DocChecker)) -> Check {
        Check {
            plugin: Some(p),
            document: Some(d),
        }
    }
}

/// One JSON config as the front end understood it.
pub struct Document<'a> {
    pub format: Format,
    pub file: &'a Arc<SourceFile>,
    /// The parsed file, for spans.
    pub json: &'a Json,
    /// Where the entity sits in the file (`""`, or `/2` in an array).
    pub base: &'a str,
    /// The entity after placeholder or `$ENV` substitution, valid against its schema.
    pub value: &'a Value,
}

/// Runs one rule over one document and collects what it reports.
pub struct DocChecker<'a> {
    pub doc: &'a Document<'a>,
    rule: &'a Rule,
    problems: Vec<Problem>,
}

impl DocChecker<'_> {
    /// The value at `pointer`, relative to the entity.
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.doc.value.pointer(pointer)
    }

    /// The span of the value at `pointer` (relative to the entity), or of its nearest
    /// ancestor that exists.
    pub fn value_span(&self, pointer: &str) -> Span {
        let full = format!("{}{pointer}", self.doc.base);
        self.doc
            .json
            .span(&full)
            .unwrap_or_else(|| self.doc.json.nearest_span(&full))
    }

    /// The span of the key of the member at `pointer`, falling back to its value.
    pub fn key_span(&self, pointer: &str) -> Span {
        let full = format!("{}{pointer}", self.doc.base);
        self.doc
            .json
            .key_span(&full)
            .unwrap_or_else(|| self.doc.json.nearest_span(&full))
    }

    /// A problem of this rule at `span` in the document's file.
    pub fn problem(&self, span: Span, message: impl Into<String>) -> Problem {
        Problem::new(self.rule.code, self.rule.severity, message).at(self.doc.file, span)
    }

    pub fn emit(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// The value at `pointer` as the file writes it, before placeholder or `$ENV`
    /// substitution.
    pub fn raw(&self, pointer: &str) -> Option<&Value> {
        self.doc
            .json
            .value
            .pointer(&format!("{}{pointer}", self.doc.base))
    }

    /// The span of the first character of the value at `pointer`: where a problem about
    /// something missing from an object points.
    pub fn start_span(&self, pointer: &str) -> Span {
        let span = self.value_span(pointer);
        Span {
            start: span.start,
            end: span.start + 1,
        }
    }

    /// Warns about every key of the object at `pointer` that is not in `known`, with a
    /// "did you mean" when one is close. `what` names the object (`a manifest`).
    pub fn unknown_keys(&mut self, pointer: &str, known: &[&str], what: &str) {
        let Some(Value::Object(map)) = self.get(pointer) else {
            return;
        };
        let unknown: Vec<String> = map
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .cloned()
            .collect();
        for key in unknown {
            let mut p = self
                .problem(
                    self.key_span(&child(pointer, &key)),
                    format!("`{key}` is not a documented property of {what}"),
                )
                .with_label("unknown property");
            p = match closest(&key, known.iter().copied()) {
                Some(near) => p.with_help(format!("did you mean `{near}`?")),
                None => p.with_help("check the spelling, or remove it if nothing reads it"),
            };
            self.emit(p);
        }
    }
}

/// Whether an image reference names one fixed image: a digest (`@sha256:…`), or a tag
/// other than `latest`. A registry port (`host:5000/img`) is not a tag.
pub fn image_is_pinned(image: &str) -> bool {
    if image.contains('@') {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':')
        .is_some_and(|(_, tag)| !tag.is_empty() && tag != "latest")
}

/// Every document rule's problems for one document, in file order.
pub fn lint_document(doc: &Document) -> Vec<Problem> {
    let mut problems = Vec::new();
    for rule in rules::RULES {
        if let Some(check) = rule.check.document {
            let mut checker = DocChecker {
                doc,
                rule,
                problems: Vec::new(),
            };
            check(&mut checker);
            problems.append(&mut checker.problems);
        }
    }
    problems.sort_by_key(|p| (p.span.map(|s| s.start), p.code));
    problems
}

/// A rule's documentation, in the four parts `berth lint --explain` prints.
pub struct Docs {
    pub what: &'static str,
    pub why: &'static str,
    pub example: &'static str,
    pub instead: &'static str,
}

/// Runs one rule over one plugin and collects what it reports.
pub struct Checker<'a> {
    pub plugin: &'a Plugin,
    pub tree: Option<&'a PluginTree>,
    rule: &'a Rule,
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    /// In a plugin tree (none without one): each MICROSERVICE block with its folder
    /// parameter and that folder's files (`None`: the plugin has no such folder).
    pub fn microservice_folders(&self) -> Vec<(&'a Block, &'a Token, Option<&'a [TreeFile]>)> {
        let (plugin, Some(tree)) = (self.plugin, self.tree) else {
            return Vec::new();
        };
        plugin
            .blocks_of(BlockKind::Microservice)
            .filter_map(|block| {
                let folder = plugin.header(block).params.first()?;
                Some((block, folder, tree.files_of(&folder.value)))
            })
            .collect()
    }

    /// A problem of this rule at `span` in the plugin's file.
    pub fn problem(&self, span: Span, message: impl Into<String>) -> Problem {
        Problem::new(self.rule.code, self.rule.severity, message).at(&self.plugin.file, span)
    }

    /// A problem at `again`, something that repeats what `first` already did, with `first`
    /// as the related span: labelled "<verb> again here" and "first <verb> here".
    pub fn repeated(&self, first: Span, again: Span, verb: &str, message: impl Into<String>) -> Problem {
        self.problem(again, message)
            .with_label(format!("{verb} again here"))
            .with_related(first, format!("first {verb} here"))
    }

    pub fn emit(&mut self, problem: Problem) {
        self.problems.push(problem);
    }
}

/// Every rule's problems for one plugin, in file order.
pub fn lint_plugin(plugin: &Plugin, tree: Option<&PluginTree>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for rule in rules::RULES {
        let Some(check) = rule.check.plugin else { continue };
        let mut checker = Checker {
            plugin,
            tree,
            rule,
            problems: Vec::new(),
        };
        check(&mut checker);
        problems.append(&mut checker.problems);
    }
    problems.sort_by_key(|p| (p.span.map(|s| s.start), p.code));
    problems
}

/// Every rule over what a repository compiled to: each COSMOS plugin as installed, each
/// JSON entity as validated, with where among the compile's problems each one's go
/// (`Compiled::with_lint` puts them there). The driver runs this after `compile`, which
/// knows nothing of lint.
pub fn lint_compiled(compiled: &Compiled) -> Vec<(usize, Vec<Problem>)> {
    let plugins = compiled
        .plugins
        .iter()
        .map(|p| (p.lint_at, lint_plugin(&p.plugin, p.tree.as_ref())));
    let entities = compiled.entities.iter().map(|e| (e.lint_at, lint_entity(e)));
    plugins.chain(entities).collect()
}

/// Every document rule over one validated JSON entity.
pub fn lint_entity(entity: &Entity) -> Vec<Problem> {
    lint_document(&Document {
        format: entity.format,
        file: &entity.file,
        json: &entity.json,
        base: &entity.base,
        value: &entity.value,
    })
}

/// Every item whose key was seen before, paired with the first item that had the key:
/// `(first, repeat)`, in the order the repeats come. For "defined twice" rules.
pub fn repeats<K: Ord, T: Copy>(items: impl IntoIterator<Item = (K, T)>) -> Vec<(T, T)> {
    let mut first: BTreeMap<K, T> = BTreeMap::new();
    let mut out = Vec::new();
    for (key, item) in items {
        match first.get(&key) {
            Some(&f) => out.push((f, item)),
            None => {
                first.insert(key, item);
            }
        }
    }
    out
}

/// The rule with this name or id (`parameter-count` or `P3`), case-insensitive for ids.
pub fn find_rule(name: &str) -> Option<&'static Rule> {
    rules::RULES
        .iter()
        .copied()
        .find(|r| r.name == name || r.id.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_are_recognised_by_their_last_word() {
        for key in [
            "password",
            "DEPLOY_TOKEN",
            "clientSecret",
            "db-passwd",
            "api_key",
            "apiKey",
            "SSH_PRIVATE_KEY",
            "google_application_credentials",
            "freshdesk_apikey",
        ] {
            assert!(looks_secret(key), "{key}");
        }
        for key in [
            "token_url",
            "private_key_id",
            "username",
            "key",
            "TOKENIZER",
            "secretary_name",
            "",
        ] {
            assert!(!looks_secret(key), "{key}");
        }
    }

    #[test]
    fn pinned_images_have_a_tag_or_a_digest() {
        for image in [
            "ruby:3.3",
            "quay.io/u/img:1.2.3",
            "localhost:5000/img:2",
            "img@sha256:abc",
        ] {
            assert!(image_is_pinned(image), "{image}");
        }
        for image in ["ruby", "ruby:latest", "localhost:5000/img", "img:"] {
            assert!(!image_is_pinned(image), "{image}");
        }
    }

    #[test]
    fn repeats_pair_each_repeat_with_the_first() {
        let got = repeats([("a", 1), ("b", 2), ("a", 3), ("a", 4)]);
        assert_eq!(got, [(1, 3), (1, 4)]);
    }
}
