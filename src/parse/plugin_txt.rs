//! The COSMOS `plugin.txt` tokenizer: text → logical lines of (keyword, params), exactly as
//! COSMOS's `ConfigParser#parse_loop` reads them (FORMATS.md §1.2), with a span on every
//! token. It knows nothing of keywords or ERB; oddities COSMOS accepts silently are kept
//! as facts (`Continuation`, `pending_at_eof`) for lint rules to judge.
//!
//! Grammar: `grammar/plugin-txt.ebnf`; production names there are function names here.

use compact_str::CompactString;
use nom::branch::alt;
use nom::character::complete::{char, none_of};
use nom::combinator::recognize;
use nom::multi::many0_count;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

use crate::source::Span;

/// One token: its value after COSMOS's `remove_quotes` and the span of the raw token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub value: CompactString,
    pub span: Span,
}

/// One `(keyword, params)` pair as `parse_loop` yields it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    /// The keyword, upcased ASCII-only as the C extension does; quotes are not removed.
    pub keyword: CompactString,
    pub keyword_span: Span,
    pub params: Vec<Token>,
    /// 1-based number of the first and the last physical line; COSMOS reports the last.
    pub first_line: usize,
    pub line: usize,
    /// The number COSMOS reports for this line: `line` in the text that was tokenized.
    /// The same as `line` here; when install moves a phase-2 line into the original file,
    /// this keeps the line of the ERB output, which is what COSMOS counts.
    pub cosmos_line: usize,
    /// From the start of the first physical line's text to the end of the last one's.
    pub span: Span,
    /// A trailing `#` comment that ended the parameter list.
    pub comment: Option<Span>,
}

/// How a physical line continues into the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContinuationKind {
    /// `&`: joined without a separator.
    Ampersand,
    /// `+`: string concatenation with a newline.
    Plus,
    /// `\`: string concatenation without a newline.
    Backslash,
}

impl ContinuationKind {
    pub fn char(self) -> char {
        match self {
            ContinuationKind::Ampersand => '&',
            ContinuationKind::Plus => '+',
            ContinuationKind::Backslash => '\\',
        }
    }
}

/// A physical line that ended in a continuation character, with what lint needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    pub kind: ContinuationKind,
    /// The continuation character itself.
    pub span: Span,
    /// The physical line's text (stripped).
    pub line_span: Span,
    /// The logical line this ended up in was a comment.
    pub in_comment: bool,
    /// A blank line followed before the logical line went on.
    pub blank_after: bool,
    /// `&` glued to the token before it (`FOO&`): the next line's first token joins it.
    pub glued: bool,
    /// For `+`/`\`: the text before it ends with a quote, as string concatenation expects.
    pub after_quote: bool,
}

/// Things COSMOS crashes on or corrupts; berth reports them as errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// A line that is only `+` or `\`: the C parser raises "negative string size".
    LoneConcatenation { span: Span },
    /// `+`/`\` concatenation dropped a byte of a multi-byte character.
    SplitCharacter { span: Span },
}

/// The tokenizer's output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokenized {
    pub lines: Vec<LogicalLine>,
    /// Spans of whole-line comments (logical lines whose first token starts with `#`).
    pub comments: Vec<Span>,
    pub continuations: Vec<Continuation>,
    /// A continuation still open at end of input: COSMOS drops this logical line.
    pub pending_at_eof: Option<Span>,
    pub errors: Vec<LexError>,
}

/// Tokenizes a whole `plugin.txt` text.
pub fn tokenize(text: &str) -> Tokenized {
    let mut out = Tokenized::default();
    let mut buffer = Buffer::default();
    let mut concat = false;
    // Continuations of the logical line being built, finished when it is yielded.
    let mut open: Vec<Continuation> = Vec::new();
    let mut first_line = 0;

    for (line_number, line, line_start) in physical_lines(text) {
        if line.is_empty() {
            if let Some(last) = open.last_mut() {
                last.blank_after = true;
            }
            continue;
        }
        if buffer.text.is_empty() {
            first_line = line_number;
            buffer.origin = line_start;
        }
        let (mut line, mut line_start) = (line, line_start);
        if concat {
            if line.starts_with('#') {
                continue;
            }
            // COSMOS drops the first byte, assumed to be the opening quote.
            let first = line.chars().next().map_or(0, char::len_utf8);
            if first > 1 {
                out.errors.push(LexError::SplitCharacter {
                    span: Span::new(line_start, line_start + first),
                });
            }
            line = &line[first..];
            line_start += first;
        }
        let line_span = Span::new(line_start, line_start + line.len());
        match continuation(line) {
            Some(kind @ (ContinuationKind::Plus | ContinuationKind::Backslash)) => {
                let body = &line[..line.len() - 1];
                let (t, t_start) = strip(body, line_start);
                let mark = Span::new(line_span.end - 1, line_span.end);
                match t.chars().last() {
                    None => out.errors.push(LexError::LoneConcatenation { span: mark }),
                    Some(closing) => {
                        if closing.len_utf8() > 1 {
                            out.errors.push(LexError::SplitCharacter {
                                span: Span::new(t_start + t.len() - closing.len_utf8(), t_start + t.len()),
                            });
                        }
                        buffer.push(&t[..t.len() - closing.len_utf8()], t_start);
                    }
                }
                if kind == ContinuationKind::Plus {
                    buffer.push("\n", mark.start);
                }
                open.push(Continuation {
                    kind,
                    span: mark,
                    line_span,
                    in_comment: false,
                    blank_after: false,
                    glued: false,
                    after_quote: t.ends_with(['"', '\'']),
                });
                concat = true;
                continue;
            }
            Some(ContinuationKind::Ampersand) => {
                let body = &line[..line.len() - 1];
                buffer.push(body, line_start);
                open.push(Continuation {
                    kind: ContinuationKind::Ampersand,
                    span: Span::new(line_span.end - 1, line_span.end),
                    line_span,
                    in_comment: false,
                    blank_after: false,
                    glued: !body.is_empty() && !body.ends_with(token_space),
                    after_quote: false,
                });
                continue;
            }
            None => {}
        }
        buffer.push(line, line_start);
        concat = false;
        let logical = logical_line(&buffer, first_line, line_number);
        let is_comment = logical.is_none();
        match logical {
            Some(l) => out.lines.push(l),
            None => out.comments.push(buffer.span()),
        }
        for mut c in open.drain(..) {
            c.in_comment = is_comment;
            out.continuations.push(c);
        }
        buffer.clear();
    }
    if !buffer.text.is_empty() {
        out.pending_at_eof = Some(buffer.span());
        out.continuations.append(&mut open);
    }
    out
}

/// `(1-based number, stripped text, offset of that text)` of every physical line.
fn physical_lines(text: &str) -> impl Iterator<Item = (usize, &str, usize)> {
    text.split_inclusive('\n')
        .enumerate()
        .scan(0, |offset, (index, physical)| {
            let start = *offset;
            *offset += physical.len();
            let (line, line_start) = strip(chomp(physical), start);
            Some((index + 1, line, line_start))
        })
}

/// How a stripped physical line continues, judged by its last character alone — before
/// any check for comments, as COSMOS does.
fn continuation(line: &str) -> Option<ContinuationKind> {
    match line.chars().last()? {
        '&' => Some(ContinuationKind::Ampersand),
        '+' => Some(ContinuationKind::Plus),
        '\\' => Some(ContinuationKind::Backslash),
        _ => None,
    }
}

/// The logical line being assembled, with where each piece came from.
#[derive(Debug, Default)]
struct Buffer {
    text: String,
    /// `(offset in text, offset in input)` at the start of each appended piece.
    pieces: Vec<(usize, usize)>,
    origin: usize,
}

impl Buffer {
    /// Empties the buffer but keeps its allocations for the next logical line.
    fn clear(&mut self) {
        self.text.clear();
        self.pieces.clear();
    }

    fn push(&mut self, piece: &str, at: usize) {
        if piece.is_empty() {
            return;
        }
        self.pieces.push((self.text.len(), at));
        self.text.push_str(piece);
    }

    /// Input offset of the byte at `offset` in the buffer.
    fn source(&self, offset: usize) -> usize {
        let i = self.pieces.partition_point(|&(b, _)| b <= offset);
        match i.checked_sub(1).map(|i| self.pieces[i]) {
            Some((b, s)) => s + (offset - b),
            None => self.origin,
        }
    }

    /// Input span of the buffer range `start..end` (non-empty).
    fn span_of(&self, start: usize, end: usize) -> Span {
        let s = self.source(start);
        let e = self.source(end.saturating_sub(1).max(start)) + 1;
        Span::new(s, e.max(s))
    }

    fn span(&self) -> Span {
        if self.text.is_empty() {
            Span::point(self.origin)
        } else {
            self.span_of(0, self.text.len())
        }
    }
}

/// Splits a finished buffer into keyword and params; `None` for a comment.
fn logical_line(buffer: &Buffer, first_line: usize, line: usize) -> Option<LogicalLine> {
    let mut tokens = tokens(&buffer.text);
    let (kw_start, kw) = tokens.next()?;
    if kw.starts_with('#') {
        return None;
    }
    let mut params = Vec::new();
    let mut comment = None;
    for (start, tok) in tokens {
        if tok.starts_with('#') && !tok.starts_with("#{") {
            comment = Some(buffer.span_of(start, buffer.text.len()));
            break;
        }
        params.push(Token {
            value: CompactString::from(remove_quotes(tok)),
            span: buffer.span_of(start, start + tok.len()),
        });
    }
    Some(LogicalLine {
        keyword: CompactString::from(kw).to_ascii_uppercase(),
        keyword_span: buffer.span_of(kw_start, kw_start + kw.len()),
        params,
        first_line,
        line,
        cosmos_line: line,
        span: buffer.span(),
        comment,
    })
}

/// Every token of a logical line with its offset: Ruby's `scan(PARSING_REGEX)`.
fn tokens(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let (after_space, _) = space(rest).ok()?;
        let (after, tok) = token(after_space).ok()?;
        let start = text.len() - after_space.len();
        rest = after;
        Some((start, tok))
    })
}

/// `space = { token_space }`: Ruby's `\s`, ASCII only.
fn space(input: &str) -> IResult<&str, &str> {
    Ok(split_while(input, is_space_byte))
}

/// `token = double_quoted | single_quoted | bare`, tried in that order at one position.
fn token(input: &str) -> IResult<&str, &str> {
    alt((double_quoted, single_quoted, bare)).parse(input)
}

/// `double_quoted = '"' { char - ('"' | '\') | '\' char - newline } '"'`
fn double_quoted(input: &str) -> IResult<&str, &str> {
    quoted('"', input)
}

/// `single_quoted = "'" { char - ("'" | '\') | '\' char - newline } "'"`
fn single_quoted(input: &str) -> IResult<&str, &str> {
    quoted('\'', input)
}

fn quoted(q: char, input: &str) -> IResult<&str, &str> {
    let plain = move |i| nonempty(split_while(i, |b| b != q as u8 && b != b'\\'), i);
    let escaped = recognize(preceded(char('\\'), none_of("\n")));
    recognize(delimited(char(q), many0_count(alt((plain, escaped))), char(q))).parse(input)
}

/// `bare = ( any_char - token_space ) , { any_char - token_space }`: Ruby's `\S+`.
fn bare(input: &str) -> IResult<&str, &str> {
    nonempty(split_while(input, |b| !is_space_byte(b)), input)
}

/// Ruby's `\s`: the token separator.
fn token_space(c: char) -> bool {
    c.is_ascii() && is_space_byte(c as u8)
}

fn is_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// `(rest, taken)` for the longest prefix of bytes matching `keep`. Every byte the
/// tokenizer splits on is ASCII, so the split always falls on a character boundary;
/// scanning bytes instead of decoding characters is what makes the tokenizer fast.
fn split_while(input: &str, keep: impl Fn(u8) -> bool) -> (&str, &str) {
    let end = input.bytes().position(|b| !keep(b)).unwrap_or(input.len());
    (&input[end..], &input[..end])
}

/// Fails on an empty match, as nom's `take_while1` does.
fn nonempty<'a>((rest, taken): (&'a str, &'a str), input: &'a str) -> IResult<&'a str, &'a str> {
    if taken.is_empty() {
        Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::TakeWhile1,
        )))
    } else {
        Ok((rest, taken))
    }
}

/// COSMOS's `remove_quotes`: strips one pair of matching outer quotes, nothing else.
pub fn remove_quotes(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Ruby's `chomp`: one trailing `\n`, `\r\n` or `\r`.
fn chomp(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// Ruby's `strip` (whitespace and NUL), returning the new start offset too.
fn strip(s: &str, at: usize) -> (&str, usize) {
    let is_strip = |c: char| token_space(c) || c == '\0';
    let trimmed = s.trim_start_matches(is_strip);
    let start = at + (s.len() - trimmed.len());
    (trimmed.trim_end_matches(is_strip), start)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keyword and params of every yielded line, with the reported line number.
    fn check(input: &str, expect: &[(&str, &[&str], usize)]) {
        let got = tokenize(input);
        let got: Vec<(String, Vec<String>, usize)> = got
            .lines
            .iter()
            .map(|l| {
                (
                    l.keyword.to_string(),
                    l.params.iter().map(|p| p.value.to_string()).collect(),
                    l.line,
                )
            })
            .collect();
        let expect: Vec<(String, Vec<String>, usize)> = expect
            .iter()
            .map(|(k, p, n)| (k.to_string(), p.iter().map(|s| s.to_string()).collect(), *n))
            .collect();
        assert_eq!(got, expect, "input: {input:?}");
    }

    // The worked examples of FORMATS.md §1.2, each checked against the real parser there.
    #[test]
    fn quoting() {
        check(
            "K abc\"d e\" \"a b\"c 'x y' \"unterminated z",
            &[(
                "K",
                &["abc\"d", "e\"", "a b", "c", "x y", "\"unterminated", "z"],
                1,
            )],
        );
        check("K \"a\\\"b\"", &[("K", &["a\\\"b"], 1)]);
        check("K \"\" ''", &[("K", &["", ""], 1)]);
        check("K a,b c", &[("K", &["a,b", "c"], 1)]);
        check("K 'it''s' \"\"\"\"", &[("K", &["it", "s", "", ""], 1)]);
    }

    #[test]
    fn comments() {
        check("K a #c d", &[("K", &["a"], 1)]);
        check(
            "K2 \"a # b\" x#y #{v} z",
            &[("K2", &["a # b", "x#y", "#{v}", "z"], 1)],
        );
        check("# whole line\n  ## another\nk x", &[("K", &["x"], 3)]);
    }

    #[test]
    fn continuations() {
        check("A FOO&\nBAR", &[("A", &["FOOBAR"], 2)]);
        check("A 1 &\n\nB 2", &[("A", &["1", "B", "2"], 3)]);
        check(
            "ENV P C:\\\nCMD ruby a.rb",
            &[("ENV", &["P", "CMD", "ruby", "a.rb"], 2)],
        );
        check(
            "# note &\nMICROSERVICE X y\nCMD ruby a.rb",
            &[("CMD", &["ruby", "a.rb"], 3)],
        );
        check("K 'a ' \\\n'b'", &[("K", &["a b"], 2)]);
        check("K \"a\" +\n\"b\"", &[("K", &["a\nb"], 2)]);
        check(
            "K \"a\" +\n# skipped inside concatenation\n\"b\"",
            &[("K", &["a\nb"], 3)],
        );
        check("A 1 &\n# trailing comment now\n", &[("A", &["1"], 2)]);
    }

    #[test]
    fn a_continuation_open_at_eof_drops_the_line() {
        let t = tokenize("K X\nKEYWORD PARAM1 &");
        assert_eq!(t.lines.len(), 1);
        assert_eq!(t.pending_at_eof, Some(Span::new(4, 19)));
    }

    #[test]
    fn crlf_tabs_nul_and_no_final_newline() {
        check(
            "K\ta\t\"b\tc\"\r\nL x\r",
            &[("K", &["a", "b\tc"], 1), ("L", &["x"], 2)],
        );
        check("\0K a\0", &[("K", &["a"], 1)]);
    }

    #[test]
    fn keywords_are_upcased_ascii_only() {
        check("ünknown_kéyword x", &[("üNKNOWN_KéYWORD", &["x"], 1)]);
    }

    #[test]
    fn no_break_space_is_part_of_a_token() {
        check("K a\u{a0}b", &[("K", &["a\u{a0}b"], 1)]);
    }

    #[test]
    fn spans_point_at_raw_tokens_across_lines() {
        let text = "  K \"a b\" FOO&\nBAR # c";
        let t = tokenize(text);
        let l = &t.lines[0];
        assert_eq!(&text[l.keyword_span.range()], "K");
        assert_eq!(&text[l.params[0].span.range()], "\"a b\"");
        assert_eq!(&text[l.params[1].span.range()], "FOO&\nBAR");
        assert_eq!(&text[l.comment.unwrap().range()], "# c");
        assert_eq!((l.first_line, l.line), (1, 2));
    }

    #[test]
    fn continuation_facts() {
        let t = tokenize("A FOO&\n\nBAR\n# x &\nK y");
        assert_eq!(t.continuations.len(), 2);
        assert!(t.continuations[0].glued && t.continuations[0].blank_after);
        assert!(t.continuations[1].in_comment);
        assert!(t.lines.iter().all(|l| l.keyword != "K"));
    }

    #[test]
    fn crashes_of_the_c_parser_are_errors() {
        let t = tokenize("K a\n+\nL b");
        assert!(matches!(t.errors[..], [LexError::LoneConcatenation { .. }]));
        let t = tokenize("K \"é\" +\n\"b\"");
        assert!(t.errors.is_empty());
        let t = tokenize("K é+\nb");
        assert!(matches!(t.errors[..], [LexError::SplitCharacter { .. }]));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// Text made of the characters that matter to the tokenizer, plus anything.
        fn plugin_text() -> impl Strategy<Value = String> {
            let pieces = prop_oneof![
                Just("\n".to_string()),
                Just("\r\n".to_string()),
                Just(" ".to_string()),
                Just("\t".to_string()),
                Just("\"".to_string()),
                Just("'".to_string()),
                Just("\\".to_string()),
                Just("&".to_string()),
                Just("+".to_string()),
                Just("#".to_string()),
                Just("#{".to_string()),
                Just("\0".to_string()),
                Just("é".to_string()),
                Just("\u{a0}".to_string()),
                "[A-Za-z_0-9]{1,6}",
                any::<char>().prop_map(String::from),
            ];
            proptest::collection::vec(pieces, 0..60).prop_map(|v| v.concat())
        }

        proptest! {
            #[test]
            fn spans_stay_inside_the_input(text in plugin_text()) {
                let t = tokenize(&text);
                let inside = |s: Span| s.start <= s.end && s.end <= text.len()
                    && text.is_char_boundary(s.start) && text.is_char_boundary(s.end);
                for l in &t.lines {
                    prop_assert!(inside(l.span) && inside(l.keyword_span));
                    prop_assert!(l.params.iter().all(|p| inside(p.span)));
                    prop_assert!(l.first_line <= l.line);
                }
                prop_assert!(t.comments.iter().all(|&s| inside(s)));
                prop_assert!(t.continuations.iter().all(|c| inside(c.span) && inside(c.line_span)));
            }

            #[test]
            fn single_line_tokens_are_their_source_text(text in "[^\n&+\\\\]{0,80}") {
                // Without continuations, every value is its raw token minus outer quotes.
                let t = tokenize(&text);
                for l in &t.lines {
                    for p in &l.params {
                        prop_assert_eq!(remove_quotes(&text[p.span.range()]), p.value.as_str());
                    }
                }
            }
        }

        #[test]
        fn a_large_file_is_tokenized_in_one_pass() {
            let line = "MICROSERVICE EXAMPLE \"a quoted name\" # trailing comment\n";
            let text = line.repeat(10 * 1024 * 1024 / line.len());
            let t = tokenize(&text);
            assert_eq!(t.lines.len(), text.lines().count());
        }

        #[test]
        fn a_very_long_continuation_does_not_recurse() {
            let text = "K a &\n".repeat(100_000) + "z";
            let t = tokenize(&text);
            assert_eq!(t.lines.len(), 1);
            assert_eq!(t.lines[0].params.len(), 100_000 * 2);
        }
    }
}
