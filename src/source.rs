//! Source text and positions: `SourceFile` (a named text with a line index) and `Span`
//! (a byte range into it). Everything that reports a position speaks in these terms.

use std::ops::Range;
use std::sync::Arc;

/// A half-open byte range into one source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        debug_assert!(start <= end);
        Span { start, end }
    }

    /// An empty span at `offset`, for problems about a position rather than a range.
    pub fn point(offset: usize) -> Self {
        Span::new(offset, offset)
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }
}

impl From<Range<usize>> for Span {
    fn from(r: Range<usize>) -> Self {
        Span::new(r.start, r.end.max(r.start))
    }
}

/// A source text with its display name (a path relative to where berth was pointed).
///
/// The text is always valid UTF-8: `from_bytes` replaces invalid sequences and reports
/// where the first one was, so positions shown to the user match the text shown.
#[derive(Debug)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

/// Where a file that was not valid UTF-8 first went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8 {
    /// Byte offset of the first invalid byte in the original bytes.
    pub byte_offset: usize,
    /// Offset of the replacement character in the decoded text.
    pub text_offset: usize,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<SourceFile> {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Arc::new(SourceFile {
            name: name.into(),
            text,
            line_starts,
        })
    }

    /// Decodes `bytes` as UTF-8. Invalid sequences become U+FFFD; the first one is
    /// reported so the caller can raise a diagnostic instead of silently changing text.
    pub fn from_bytes(name: impl Into<String>, bytes: &[u8]) -> (Arc<SourceFile>, Option<InvalidUtf8>) {
        match std::str::from_utf8(bytes) {
            Ok(text) => (SourceFile::new(name, text), None),
            Err(e) => {
                let valid = e.valid_up_to();
                let invalid = InvalidUtf8 {
                    byte_offset: valid,
                    text_offset: valid,
                };
                let text = String::from_utf8_lossy(bytes).into_owned();
                (SourceFile::new(name, text), Some(invalid))
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// 1-based line number of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }

    /// The byte offset of a 1-based line and column (in characters), clamped to the text.
    pub fn offset(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        self.text[start..]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(self.text.len(), |(i, _)| start + i)
    }

    /// 1-based line and 1-based column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line(offset);
        let start = self.line_starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let f = SourceFile::new("x", "ab\nçd\n\nz");
        assert_eq!(f.line_col(0), (1, 1));
        assert_eq!(f.line_col(3), (2, 1));
        assert_eq!(f.line_col(5), (2, 2)); // after the two-byte 'ç'
        assert_eq!(f.line_col(7), (3, 1));
        assert_eq!(f.line_col(8), (4, 1));
        assert_eq!(f.line_col(99), (4, 2));
        for offset in [0, 3, 5, 7, 8] {
            let (line, col) = f.line_col(offset);
            assert_eq!(f.offset(line, col), offset);
        }
    }

    #[test]
    fn invalid_utf8_is_reported_with_its_byte_offset() {
        let (f, bad) = SourceFile::from_bytes("x", b"ok \xff rest");
        assert_eq!(bad.map(|b| b.byte_offset), Some(3));
        assert!(f.text().contains('\u{FFFD}'));
    }
}
