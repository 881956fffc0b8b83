//! How miette renders berth's diagnostics: a `Problem` with its snippet, label and help,
//! a `Failure` with its chain of causes. miette is the command line's; the core's types
//! know nothing of it.

use std::fmt;

use miette::{Diagnostic, LabeledSpan, SourceCode};

use crate::problem::{Problem, Severity};
use crate::source::{SourceFile, Span};

/// A span as miette counts: an offset and a length.
fn source_span(s: Span) -> miette::SourceSpan {
    (s.start, s.len()).into()
}

/// miette reads snippets straight from the file, under its display name.
impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self
            .text()
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name().to_string(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.file.as_deref().map(|f| f as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        let primary = LabeledSpan::new_primary_with_span(self.label.clone(), source_span(span));
        let related = self
            .related
            .iter()
            .map(|r| LabeledSpan::new_with_span(Some(r.label.clone()), source_span(r.span)));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// A failure at the edge, rendered as miette renders any error: the message, the chain
/// of causes, the help.
impl miette::Diagnostic for crate::failure::Failure {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
}
