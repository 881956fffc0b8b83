//! The one diagnostic type, `Problem`: what went wrong, where (file and span), how bad,
//! and what to do about it. Every stage returns problems as data; only `cli/` prints them.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::source::{SourceFile, Span};

/// How bad a problem is. Errors fail `lint` and stop `compile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`, so that `{:<8}` lines up columns (`lint --list-rules`).
        f.pad(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// A secondary location that explains the primary one ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub span: Span,
    pub label: String,
}

/// One diagnostic. `code` is stable (`berth::parse::invalid-utf8`, or a lint rule's
/// `berth::lint::<rule>`), so tools and tests can rely on it.
#[derive(Debug, Clone)]
pub struct Problem {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    pub file: Option<Arc<SourceFile>>,
    pub span: Option<Span>,
    pub label: Option<String>,
    pub help: Option<String>,
    pub related: Vec<Related>,
}

impl Problem {
    /// The problem on one line, `file:line:col: severity[code]: message`, as logs and
    /// editors take it.
    pub fn one_line(&self) -> String {
        let location = self.location().map(|l| format!("{l}: ")).unwrap_or_default();
        format!("{location}{}[{}]: {}\n", self.severity, self.code, self.message)
    }

    pub fn new(code: &'static str, severity: Severity, message: impl Into<String>) -> Self {
        Problem {
            code,
            severity,
            message: message.into(),
            file: None,
            span: None,
            label: None,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Problem::new(code, Severity::Error, message)
    }

    /// Points the problem at `span` in `file`.
    pub fn at(mut self, file: &Arc<SourceFile>, span: Span) -> Self {
        self.file = Some(file.clone());
        self.span = Some(span);
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push(Related {
            span,
            label: label.into(),
        });
        self
    }

    /// `file:line:col` of the primary span, 1-based, when the problem has one.
    pub fn location(&self) -> Option<Location> {
        let file = self.file.as_ref()?;
        let span = self.span?;
        let (line, column) = file.line_col(span.start);
        Some(Location {
            file: file.name().to_string(),
            line,
            column,
        })
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The candidate nearest to `word` when it is close enough to be a typo of it, for
/// "did you mean" help.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(word, k), k))
        .filter(|&(d, k)| d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

/// A resolved position, for machine output and one-line rendering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}
