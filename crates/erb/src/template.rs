//! The template scanner: splits a template into text and tags the way Ruby's ERB does
//! with `trim_mode: "-"` (its `ExplicitScanner`), after COSMOS's `comment_erb` pre-pass.
//!
//! It never rewrites the text, so every offset it reports is a template offset. The
//! pre-pass (`<%` → `<%#` on every line matching `^\s*#[^%]*<%`) is applied virtually:
//! a tag that begins on such a line is a comment tag, and the inserted `#` is taken into
//! account where it changes which `%>` closes a tag. It does not evaluate anything.

use std::ops::Range;

use super::{ErbError, codes};

/// What a tag does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagKind {
    /// `<% code %>` or `<%- code %>`: Ruby statements, no output of their own.
    Code,
    /// `<%= expr %>`: inserts `expr.to_s`.
    Output,
    /// `<%# ... %>`, or any tag that begins on a line `comment_erb` comments out.
    Comment,
    /// `<%%`: the literal text `<%` (`span` covers the three bytes, `code_span` is empty).
    Escape,
}

/// One tag of a template, with everything ERB's trim mode did around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// What the tag does.
    pub kind: TagKind,
    /// From `<%` through `%>` (for an unterminated tag: through the end of the template).
    pub span: Range<usize>,
    /// The text between the delimiters (`%%>` inside it stands for `%>`).
    pub code_span: Range<usize>,
    /// Opened with `<%-`.
    pub trim_start: bool,
    /// Indentation `<%-` removed before the tag (empty when nothing was removed).
    pub trimmed_indent: Range<usize>,
    /// Closed with `-%>`.
    pub trim_end: bool,
    /// The line break `-%>` swallowed after the tag (empty when none).
    pub trimmed_newline: Range<usize>,
    /// A comment only because `comment_erb` rewrote its `<%` to `<%#`: the tag begins on a
    /// line whose first non-blank character is `#` (see FORMATS.md §1.3).
    pub commented_out: bool,
    /// The tag has no closing `%>`.
    pub unterminated: bool,
}

/// One element of the scanned template, in order: what ERB's compiler sees.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// Literal text. Its output is the concatenation of `pieces` (template ranges); pieces
    /// exist because `<%%` outputs only two of its three bytes.
    Text { pieces: Vec<Range<usize>> },
    /// A complete Code, Output or Comment tag (`tag` indexes `Scanned::tags`). The code is
    /// the concatenation of `content` (template ranges), since `%%>` stands for `%>`.
    Tag { tag: usize, content: Vec<Range<usize>> },
}

/// The result of scanning a whole template.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scanned {
    /// Every tag, escapes and an unterminated tag included.
    pub tags: Vec<Tag>,
    /// Text and complete tags, in order.
    pub items: Vec<Item>,
    /// The unterminated-tag error, if any; scanning stops there.
    pub errors: Vec<ErbError>,
}

impl Item {
    /// The template range an item covers, from its first to its last byte.
    pub(crate) fn span(&self, tags: &[Tag]) -> Range<usize> {
        match self {
            Item::Text { pieces } => {
                let start = pieces.first().map_or(0, |p| p.start);
                start..pieces.last().map_or(start, |p| p.end)
            }
            Item::Tag { tag, .. } => tags[*tag].span.clone(),
        }
    }
}

/// Scans `template` into tags and items. Linear in the template's length.
pub(crate) fn scan(template: &str) -> Scanned {
    Scanner {
        bytes: template.as_bytes(),
        comments: CommentLines::new(template.as_bytes()),
        out: Scanned::default(),
        text: Vec::new(),
    }
    .run()
}

struct Scanner<'a> {
    bytes: &'a [u8],
    comments: CommentLines,
    out: Scanned,
    /// Pieces of the text item being built.
    text: Vec<Range<usize>>,
}

impl Scanner<'_> {
    fn run(mut self) -> Scanned {
        // `pos` is where Ruby's StringScanner resumes. Its `^` anchor matches there as
        // well as after every newline (StringScanner treats the resume point as the
        // start of the string), which matters for `<%-` trimming.
        let mut pos = 0;
        while let Some(q) = find(self.bytes, pos, b"<%") {
            let after = self.bytes.get(q + 2).copied();
            let commented = self.comments.contains(q);
            let (kind, opener, trim_start) = if commented {
                (TagKind::Comment, 2, false)
            } else {
                match after {
                    Some(b'-') => (TagKind::Code, 3, true),
                    Some(b'%') => {
                        self.push_text(pos..q + 2);
                        self.out.tags.push(Tag::escape(q));
                        pos = q + 3;
                        continue;
                    }
                    Some(b'=') => (TagKind::Output, 3, false),
                    Some(b'#') => (TagKind::Comment, 3, false),
                    _ => (TagKind::Code, 2, false),
                }
            };
            let indent_start = if trim_start { self.indent_start(pos, q) } else { q };
            self.push_text(pos..indent_start);
            self.flush_text();
            match self.close_tag(q, q + opener) {
                Some(close) => {
                    let end = close.end;
                    let tag = Tag {
                        kind,
                        span: q..close.tag_end,
                        code_span: q + opener..close.code_end,
                        trim_start,
                        trimmed_indent: indent_start..q,
                        trim_end: close.trim_end,
                        trimmed_newline: close.tag_end..end,
                        commented_out: commented && after != Some(b'#'),
                        unterminated: false,
                    };
                    self.out.items.push(Item::Tag {
                        tag: self.out.tags.len(),
                        content: close.content,
                    });
                    self.out.tags.push(tag);
                    pos = end;
                }
                None => {
                    let len = self.bytes.len();
                    self.out.errors.push(ErbError::new(
                        q..len,
                        codes::UNTERMINATED_TAG,
                        "this ERB tag is never closed with `%>`".to_string(),
                        Some("add `%>` where the Ruby code ends; `<%%` writes a literal `<%`".to_string()),
                    ));
                    self.out.tags.push(Tag {
                        kind,
                        span: q..len,
                        code_span: (q + opener).min(len)..len,
                        trim_start,
                        trimmed_indent: indent_start..q,
                        trim_end: false,
                        trimmed_newline: len..len,
                        commented_out: commented && after != Some(b'#'),
                        unterminated: true,
                    });
                    return self.out;
                }
            }
        }
        self.push_text(pos..self.bytes.len());
        self.flush_text();
        self.out
    }

    /// Where `<%-` at `q` starts trimming: the run of spaces and tabs before it, when that
    /// run starts a line or the scan position (`^[ \t]*<%-`); otherwise `q` itself.
    fn indent_start(&self, pos: usize, q: usize) -> usize {
        let mut w = q;
        while w > pos && matches!(self.bytes[w - 1], b' ' | b'\t') {
            w -= 1;
        }
        if w == pos || self.bytes[w - 1] == b'\n' {
            w
        } else {
            q
        }
    }

    /// Finds the end of the tag whose code starts at `from` (`etag_reg`:
    /// `(.*?)(-%>|%%>|%>|\z)`), or `None` when the template ends first.
    fn close_tag(&mut self, q: usize, from: usize) -> Option<Close> {
        let bytes = self.bytes;
        let mut content = Vec::new();
        let mut piece_start = from;
        // Where Ruby's StringScanner resumed: a delimiter cannot start before it.
        let mut scan_pos = from;
        let mut search = from;
        loop {
            let k = find(bytes, search, b"%>")?;
            // On a commented line `<%` reads `<%#`, so a `%` right after `<` is not
            // followed by `>` (or by a second `%`) in the text ERB actually scans.
            let rewritten = |at: usize| at > q && bytes[at - 1] == b'<';
            if rewritten(k) && self.comments.contains(k) {
                search = k + 1;
                continue;
            }
            let prev = (k > scan_pos).then(|| bytes[k - 1]);
            if prev == Some(b'-') {
                content.push(piece_start..k - 1);
                let tag_end = k + 2;
                let end = match &bytes[tag_end..] {
                    [b'\n', ..] => tag_end + 1,
                    [b'\r', b'\n', ..] => tag_end + 2,
                    _ => tag_end,
                };
                return Some(Close {
                    content,
                    code_end: k - 1,
                    tag_end,
                    end,
                    trim_end: true,
                });
            }
            if prev == Some(b'%') && !(rewritten(k - 1) && self.comments.contains(k - 1)) {
                // `%%>` stands for `%>` and the tag goes on.
                content.push(piece_start..k - 1);
                piece_start = k;
                scan_pos = k + 2;
                search = k + 2;
                continue;
            }
            content.push(piece_start..k);
            return Some(Close {
                content,
                code_end: k,
                tag_end: k + 2,
                end: k + 2,
                trim_end: false,
            });
        }
    }

    fn push_text(&mut self, range: Range<usize>) {
        if !range.is_empty() {
            self.text.push(range);
        }
    }

    fn flush_text(&mut self) {
        if !self.text.is_empty() {
            self.out.items.push(Item::Text {
                pieces: std::mem::take(&mut self.text),
            });
        }
    }
}

/// Where a tag closes.
struct Close {
    content: Vec<Range<usize>>,
    code_end: usize,
    /// Just past `%>`.
    tag_end: usize,
    /// Where scanning resumes: past the newline `-%>` swallows, if any.
    end: usize,
    trim_end: bool,
}

impl Tag {
    fn escape(at: usize) -> Tag {
        Tag {
            kind: TagKind::Escape,
            span: at..at + 3,
            code_span: at + 3..at + 3,
            trim_start: false,
            trimmed_indent: at..at,
            trim_end: false,
            trimmed_newline: at + 3..at + 3,
            commented_out: false,
            unterminated: false,
        }
    }

    /// Whether ERB's compiler emits a line break into the generated Ruby right after this
    /// tag: `-%>` followed by a newline or by the end of the template.
    pub(crate) fn ends_script_line(&self, template_len: usize) -> bool {
        self.trim_end && (!self.trimmed_newline.is_empty() || self.trimmed_newline.end == template_len)
    }
}

/// The lines `comment_erb` rewrites: `^\s*#[^%]*<%`, i.e. the first non-blank character
/// is `#` and the first `%` after it belongs to a `<%`.
struct CommentLines {
    lines: Vec<Range<usize>>,
    /// Queries come in increasing order, so a cursor makes them O(1) amortized.
    cursor: usize,
}

impl CommentLines {
    fn new(bytes: &[u8]) -> CommentLines {
        let mut lines = Vec::new();
        let mut start = 0;
        while start < bytes.len() {
            let end = find(bytes, start, b"\n").map_or(bytes.len(), |n| n + 1);
            let line = &bytes[start..end];
            let blank = line
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c));
            let hash = blank.count();
            if line.get(hash) == Some(&b'#') {
                let first_percent = line[hash + 1..].iter().position(|&b| b == b'%');
                if let Some(p) = first_percent.map(|p| p + hash + 1)
                    && p > hash + 1
                    && line[p - 1] == b'<'
                {
                    lines.push(start..end);
                }
            }
            start = end;
        }
        CommentLines { lines, cursor: 0 }
    }

    fn contains(&mut self, at: usize) -> bool {
        while self.lines.get(self.cursor).is_some_and(|l| l.end <= at) {
            self.cursor += 1;
        }
        self.lines.get(self.cursor).is_some_and(|l| l.start <= at)
    }
}

/// The first occurrence of `needle` in `bytes` at or after `from`.
fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let hay = bytes.get(from..)?;
    let first = needle[0];
    let mut i = 0;
    while let Some(p) = hay[i..].iter().position(|&b| b == first) {
        let at = i + p;
        if hay[at..].starts_with(needle) {
            return Some(from + at);
        }
        i = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders the scan the way ERB would print it if every tag output its own kind:
    /// text verbatim, tags as `{code:...}`, `{out:...}`, `{#...}`.
    fn show(template: &str) -> String {
        let s = scan(template);
        let mut out = String::new();
        for item in &s.items {
            match item {
                Item::Text { pieces } => pieces.iter().for_each(|p| out.push_str(&template[p.clone()])),
                Item::Tag { tag, content } => {
                    let code: String = content.iter().map(|p| &template[p.clone()]).collect();
                    let label = match s.tags[*tag].kind {
                        TagKind::Code => "code:",
                        TagKind::Output => "out:",
                        TagKind::Comment => "#",
                        TagKind::Escape => unreachable!("escapes are text"),
                    };
                    out.push_str(&format!("{{{label}{code}}}"));
                }
            }
        }
        if let Some(e) = s.errors.first() {
            out.push_str(&format!("!{}", e.code));
        }
        out
    }

    #[test]
    fn plain_tags() {
        assert_eq!(
            show("a <%= x %> b <% y %> c <%# z %>"),
            "a {out: x } b {code: y } c {# z }"
        );
    }

    #[test]
    fn escapes() {
        assert_eq!(show("<%%= x %>"), "<%= x %>");
        assert_eq!(show("<%= '%%>' %>"), "{out: '%>' }");
        // Outside a tag `%>` and `%%>` are plain text.
        assert_eq!(show("a %> b %%> c"), "a %> b %%> c");
    }

    #[test]
    fn trim_start_removes_indentation_only_at_line_start() {
        assert_eq!(show("a\n  <%- x %>\nb"), "a\n{code: x }\nb");
        assert_eq!(show("a  <%- x %>"), "a  {code: x }");
        assert_eq!(show("\t <%- x %>"), "{code: x }");
    }

    #[test]
    fn trim_start_after_a_tag_uses_the_scanner_position_as_line_start() {
        // StringScanner's `^` matches where the previous scan stopped.
        assert_eq!(show("<%= a %>  <%- b %>"), "{out: a }{code: b }");
        assert_eq!(show("<%%  <%- b %>"), "<%{code: b }");
    }

    #[test]
    fn trim_end_swallows_one_newline() {
        assert_eq!(show("<% x -%>\nb"), "{code: x }b");
        assert_eq!(show("<% x -%>\r\nb"), "{code: x }b");
        assert_eq!(show("<% x -%>\n\nb"), "{code: x }\nb");
        assert_eq!(show("<% x -%> b"), "{code: x } b");
        // Outside a tag `-%>` is text.
        assert_eq!(show("a -%>\nb"), "a -%>\nb");
    }

    #[test]
    fn comment_erb_lines() {
        assert_eq!(show("# a <%= x %>\nb"), "# a {#= x }\nb");
        assert_eq!(show("  # <% foo %>"), "  # {# foo }");
        assert_eq!(show("# 100% <%= x %>"), "# 100% {out: x }");
        assert_eq!(show("KEY P # <%= x %>"), "KEY P # {out: x }");
        // Every `<%` of the line is rewritten, escapes and trims included: `<%%` opens
        // a comment that runs to the next `%>`.
        assert_eq!(show("# <%= a %> <%% x %> <%- b %>"), "# {#= a } {#% x } {#- b }");
        // A comment tag still ends at the next `%>`, even on a later line.
        assert_eq!(show("# <% a\nb %>c"), "# {# a\nb }c");
    }

    #[test]
    fn comment_erb_inserted_hash_changes_the_closing_delimiter() {
        // `<%>` on a commented line reads `<%#>`, which does not close the tag.
        assert_eq!(show("# <%= a <%> b %>"), "# {#= a <%> b }");
    }

    #[test]
    fn unterminated() {
        assert_eq!(show("a <% b"), "a !berth::erb::unterminated-tag");
        let s = scan("a <% b");
        assert_eq!(s.errors[0].span, 2..6);
        assert!(s.tags[0].unterminated);
    }

    #[test]
    fn tag_spans() {
        let s = scan("  <%- x -%>\ny");
        let t = &s.tags[0];
        assert_eq!(t.span, 2..11);
        assert_eq!(t.code_span, 5..8);
        assert_eq!(t.trimmed_indent, 0..2);
        assert_eq!(t.trimmed_newline, 11..12);
        assert!(t.trim_start && t.trim_end);
        assert!(t.ends_script_line(13));
    }
}
