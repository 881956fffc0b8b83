//! The Ruby lexer: turns the code of one ERB tag into tokens with template spans.
//!
//! It covers the lexical side of the Ruby subset berth evaluates (literals, identifiers,
//! operators, `#{}` interpolation, `%w[]`) and recognises the constructs it does not
//! evaluate (regular expressions, backticks, heredocs, `=begin`) so that they are reported
//! by name rather than as noise. It knows nothing about templates or evaluation.

use std::ops::Range;

use super::codes;

/// The most deeply `#{}` interpolations may nest inside one another.
const MAX_INTERPOLATION_DEPTH: usize = 32;

/// One token. `span` is a template range; `tag` indexes the scanned items, so errors can
/// point at the whole tag.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub span: Range<usize>,
    /// Whitespace (or the start of the code) comes right before the token. Ruby's grammar
    /// uses it to tell `foo -1` (an argument) from `foo - 1`.
    pub space_before: bool,
    pub tag: u32,
}

/// Token kinds. Operators and punctuation are `Punct` with their text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
    Float(f64),
    /// A string literal, with `#{}` parts when it interpolates.
    Str(Vec<StrPart>),
    Sym(String),
    /// `:"..."` with interpolation.
    DSym(Vec<StrPart>),
    /// `%w[...]`
    Words(Vec<String>),
    /// `%i[...]`
    Symbols(Vec<String>),
    Ident(String),
    Const(String),
    GVar(String),
    IVar(String),
    /// `name:` in a hash literal or argument list.
    Label(String),
    Kw(Kw),
    Punct(&'static str),
    /// A literal berth recognises but does not evaluate; the text names it.
    Unsupported(&'static str),
    Newline,
    Semi,
    /// A tag whose code could not be lexed; its error is already reported.
    Broken,
    /// Template text chunk `n` (an index into the scanned items): appends it to the output.
    Text(u32),
    /// Starts the expression of the `<%= %>` tag that is item `n`.
    OutputStart(u32),
    OutputEnd,
    Eof,
}

/// One part of an interpolating string.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StrPart {
    Lit(String),
    Code(Vec<Token>),
}

/// Ruby keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    If,
    Elsif,
    Else,
    End,
    Unless,
    Then,
    Do,
    While,
    Until,
    For,
    In,
    Case,
    When,
    Begin,
    Rescue,
    Ensure,
    Def,
    Class,
    Module,
    Return,
    Break,
    Next,
    Redo,
    Retry,
    Yield,
    /// `self`.
    This,
    Nil,
    True,
    False,
    And,
    Or,
    Not,
    Defined,
    Alias,
    Undef,
    Super,
    BeginBlock,
    EndBlock,
    File,
    Line,
    Encoding,
}

const KEYWORDS: &[(&str, Kw)] = &[
    ("if", Kw::If),
    ("elsif", Kw::Elsif),
    ("else", Kw::Else),
    ("end", Kw::End),
    ("unless", Kw::Unless),
    ("then", Kw::Then),
    ("do", Kw::Do),
    ("while", Kw::While),
    ("until", Kw::Until),
    ("for", Kw::For),
    ("in", Kw::In),
    ("case", Kw::Case),
    ("when", Kw::When),
    ("begin", Kw::Begin),
    ("rescue", Kw::Rescue),
    ("ensure", Kw::Ensure),
    ("def", Kw::Def),
    ("class", Kw::Class),
    ("module", Kw::Module),
    ("return", Kw::Return),
    ("break", Kw::Break),
    ("next", Kw::Next),
    ("redo", Kw::Redo),
    ("retry", Kw::Retry),
    ("yield", Kw::Yield),
    ("self", Kw::This),
    ("nil", Kw::Nil),
    ("true", Kw::True),
    ("false", Kw::False),
    ("and", Kw::And),
    ("or", Kw::Or),
    ("not", Kw::Not),
    ("defined?", Kw::Defined),
    ("alias", Kw::Alias),
    ("undef", Kw::Undef),
    ("super", Kw::Super),
    ("BEGIN", Kw::BeginBlock),
    ("END", Kw::EndBlock),
    ("__FILE__", Kw::File),
    ("__LINE__", Kw::Line),
    ("__ENCODING__", Kw::Encoding),
];

impl Kw {
    fn from_name(name: &str) -> Option<Kw> {
        KEYWORDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    /// The keyword as written.
    pub(crate) fn as_str(self) -> &'static str {
        KEYWORDS.iter().find(|(_, k)| *k == self).map_or("?", |(n, _)| n)
    }
}

/// Operators, longest first so that the first match is the right one.
#[rustfmt::skip]
const OPERATORS: &[&str] = &[
    "**=", "<=>", "===", "...", "<<=", ">>=", "&&=", "||=", "**", "==", "!=", ">=", "<=", "&&", "||", "<<",
    ">>", "=~", "!~", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "::", "..", "=>", "->", "&.", "+",
    "-", "*", "/", "%", "=", "<", ">", "!", "&", "|", "^", "~", "?", ":", ",", ".", "(", ")", "[", "]", "{",
    "}",
];

/// The code of one tag: its text (with `%%>` already read as `%>`) and where each piece
/// of it sits in the template.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub text: String,
    /// `(text offset, template offset)` at the start of every piece, in order.
    map: Vec<(usize, usize)>,
}

impl Source {
    /// Builds the code from template pieces.
    pub(crate) fn new(template: &str, pieces: &[Range<usize>]) -> Source {
        let mut text = String::new();
        let mut map = Vec::with_capacity(pieces.len());
        for p in pieces {
            map.push((text.len(), p.start));
            text.push_str(&template[p.clone()]);
        }
        if map.is_empty() {
            map.push((0, 0));
        }
        Source { text, map }
    }

    /// The template offset of text offset `at`.
    pub(crate) fn offset(&self, at: usize) -> usize {
        let i = self.map.partition_point(|&(t, _)| t <= at).saturating_sub(1);
        let (t, o) = self.map[i];
        o + (at - t)
    }

    /// The template range of text range `r`. The end maps from the last byte inside the
    /// range, so a range ending at a piece boundary does not run into the next piece.
    pub(crate) fn span(&self, r: Range<usize>) -> Range<usize> {
        let start = self.offset(r.start);
        if r.end <= r.start {
            start..start
        } else {
            start..self.offset(r.end - 1) + 1
        }
    }
}

/// What lexing one tag produced.
#[derive(Debug)]
pub(crate) struct Lexed {
    pub tokens: Vec<Token>,
    /// A `#` comment ran to the end of the code without a newline: in the Ruby program
    /// ERB generates, it comments out the rest of that line too.
    pub open_comment: bool,
}

/// Why a tag's code could not be lexed; `span` is a text range of the tag's `Source`.
#[derive(Debug)]
pub(crate) struct LexError {
    pub span: Range<usize>,
    pub code: &'static str,
    pub message: String,
}

/// Lexes the code `src` of item `tag`, from text offset `start`.
pub(crate) fn lex(src: &Source, start: usize, tag: u32) -> Result<Lexed, LexError> {
    let mut lexer = Lexer {
        src,
        b: src.text.as_bytes(),
        pos: start.min(src.text.len()),
        tag,
        depth: 0,
        value_end: false,
        after_dot: false,
        prev_ident: false,
        ternaries: 0,
        outer_ternaries: Vec::new(),
        open_comment: false,
    };
    let tokens = lexer.tokens(false)?;
    Ok(Lexed {
        tokens,
        open_comment: lexer.open_comment,
    })
}

struct Lexer<'a> {
    src: &'a Source,
    b: &'a [u8],
    pos: usize,
    tag: u32,
    /// Interpolation depth.
    depth: usize,
    /// The previous token ends a value, so `/`, `%`, `?`, `:` and `[` are operators.
    value_end: bool,
    /// The previous token is `.`, `&.` or `::`: a keyword here is a method name.
    after_dot: bool,
    /// The previous token is an identifier, so `foo /x/` may be an argument.
    prev_ident: bool,
    /// Open `?` of ternaries, so `a ? b : c` is not read as a label `b:`.
    ternaries: usize,
    /// The open ternaries outside each open bracket: `c ? {a: 1} : 2` has a label.
    outer_ternaries: Vec<usize>,
    /// See `Lexed::open_comment`.
    open_comment: bool,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

impl Lexer<'_> {
    fn peek(&self, n: usize) -> Option<u8> {
        self.b.get(self.pos + n).copied()
    }

    fn error(&self, span: Range<usize>, code: &'static str, message: impl Into<String>) -> LexError {
        LexError {
            span,
            code,
            message: message.into(),
        }
    }

    fn unsupported(&self, start: usize, what: &str) -> LexError {
        self.error(
            start..self.char_end(start),
            codes::UNSUPPORTED,
            format!("{what} is outside the Ruby subset berth evaluates"),
        )
    }

    /// The end of the character that starts at `at`, so spans never split a character.
    fn char_end(&self, at: usize) -> usize {
        let text = &self.src.text;
        (at + 1..=text.len())
            .find(|&e| text.is_char_boundary(e))
            .unwrap_or(text.len())
    }

    /// Lexes tokens until the end of the code, or (inside `#{`) until the matching `}`.
    fn tokens(&mut self, interpolation: bool) -> Result<Vec<Token>, LexError> {
        let mut out: Vec<Token> = Vec::new();
        let mut braces = 0usize;
        let start = self.pos;
        loop {
            let mut space = self.pos == start;
            while let Some(c) = self.peek(0) {
                match c {
                    b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                    b'\\' if self.peek(1) == Some(b'\n') => self.pos += 2,
                    b'\\' if self.peek(1) == Some(b'\r') && self.peek(2) == Some(b'\n') => self.pos += 3,
                    _ => break,
                }
                space = true;
            }
            let at = self.pos;
            let Some(c) = self.peek(0) else {
                if interpolation {
                    return Err(self.error(start.saturating_sub(2)..at, codes::SYNTAX, "unterminated `#{`"));
                }
                return Ok(out);
            };
            let line_start = at == 0 || self.b[at - 1] == b'\n';
            let kind = match c {
                b'\n' => {
                    self.pos += 1;
                    if out.last().is_some_and(|t| t.kind == Tok::Newline) {
                        continue;
                    }
                    self.value_end = false;
                    Tok::Newline
                }
                b'#' => {
                    match self.b[at..].iter().position(|&b| b == b'\n') {
                        Some(n) => self.pos = at + n,
                        None => {
                            self.pos = self.b.len();
                            self.open_comment = !interpolation;
                        }
                    }
                    continue;
                }
                b'=' if line_start && self.b[at..].starts_with(b"=begin") => {
                    return Err(self.unsupported(at, "`=begin` block comment"));
                }
                b';' => {
                    self.pos += 1;
                    Tok::Semi
                }
                b'0'..=b'9' => self.number()?,
                b'"' | b'\'' => {
                    self.pos += 1;
                    let parts = self.quoted(c, c, c == b'"')?;
                    self.string_or_label(parts)
                }
                b'`' => {
                    self.pos += 1;
                    self.quoted(b'`', b'`', false)?;
                    Tok::Unsupported("a backtick shell command")
                }
                b'@' => self.instance_variable()?,
                b'$' => self.global_variable()?,
                b':' if self.peek(1) == Some(b'"') => {
                    self.pos += 2;
                    Tok::DSym(self.quoted(b'"', b'"', true)?)
                }
                b':' if self.peek(1) != Some(b':') && self.starts_symbol(space) => self.symbol(),
                b'?' if !self.value_end && self.char_literal_ahead() => self.char_literal()?,
                b'%' if self.literal_allowed(space) && self.percent_literal_ahead() => {
                    self.percent_literal()?
                }
                b'/' if self.literal_allowed(space) && (!self.value_end || self.closing_slash_ahead()) => {
                    self.pos += 1;
                    self.regex_body(b'/', b'/')?;
                    Tok::Unsupported("a regular expression literal")
                }
                b'<' if self.heredoc_ahead(space) => return Err(self.unsupported(at, "a heredoc")),
                b'{' if interpolation => {
                    braces += 1;
                    self.pos += 1;
                    Tok::Punct("{")
                }
                b'}' if interpolation && braces == 0 => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'}' if interpolation => {
                    braces -= 1;
                    self.pos += 1;
                    Tok::Punct("}")
                }
                c if is_ident_start(c) => {
                    if line_start && self.b[at..].starts_with(b"__END__") {
                        let rest = &self.b[at + 7..];
                        if rest.is_empty() || rest[0] == b'\n' || rest.starts_with(b"\r\n") {
                            return Err(self.unsupported(at, "`__END__`"));
                        }
                    }
                    self.identifier()
                }
                _ => self.operator(at)?,
            };
            self.note(&kind);
            out.push(Token {
                kind,
                span: self.src.span(at..self.pos),
                space_before: space,
                tag: self.tag,
            });
        }
    }

    /// A string literal, or a `"key": value` label (a Symbol key) right after one.
    fn string_or_label(&mut self, parts: Vec<StrPart>) -> Tok {
        let label = self.peek(0) == Some(b':') && self.peek(1) != Some(b':') && self.ternaries == 0;
        match parts.as_slice() {
            [StrPart::Lit(name)] if label => {
                self.pos += 1;
                Tok::Label(name.clone())
            }
            _ => Tok::Str(parts),
        }
    }

    /// Updates the state that disambiguates the next token.
    fn note(&mut self, kind: &Tok) {
        self.prev_ident = matches!(kind, Tok::Ident(_));
        self.after_dot = matches!(kind, Tok::Punct("." | "&." | "::"));
        self.value_end = match kind {
            Tok::Int(_)
            | Tok::Float(_)
            | Tok::Str(_)
            | Tok::Sym(_)
            | Tok::DSym(_)
            | Tok::Words(_)
            | Tok::Symbols(_)
            | Tok::Ident(_)
            | Tok::Const(_)
            | Tok::GVar(_)
            | Tok::IVar(_)
            | Tok::Unsupported(_)
            | Tok::Punct(")" | "]" | "}") => true,
            Tok::Kw(k) => matches!(k, Kw::End | Kw::This | Kw::Nil | Kw::True | Kw::False),
            _ => false,
        };
        match kind {
            Tok::Punct("?") => self.ternaries += 1,
            Tok::Punct(":") => self.ternaries = self.ternaries.saturating_sub(1),
            Tok::Punct("(" | "[" | "{") => self.outer_ternaries.push(std::mem::take(&mut self.ternaries)),
            Tok::Punct(")" | "]" | "}") => self.ternaries = self.outer_ternaries.pop().unwrap_or(0),
            Tok::Newline | Tok::Semi => self.ternaries = 0,
            _ => {}
        }
    }

    /// A literal may start here (rather than an operator): not after a value, or after an
    /// identifier with a space before and none after (`puts %w[a]`, `foo /x/`).
    fn literal_allowed(&self, space: bool) -> bool {
        !self.value_end
            || (self.prev_ident
                && space
                && self
                    .peek(1)
                    .is_some_and(|c| !c.is_ascii_whitespace() && c != b'='))
    }

    /// `%` followed by a delimiter, or by a literal type letter and a delimiter.
    fn percent_literal_ahead(&self) -> bool {
        let delimiter = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_punctuation());
        match self.peek(1) {
            Some(c) if b"wWiIqQrsx".contains(&c) => delimiter(self.peek(2)),
            c => delimiter(c) && c != Some(b'='),
        }
    }

    /// After an identifier, `foo /x/` is a regular expression only when a closing `/`
    /// follows on the same line; otherwise `a /2` is a division.
    fn closing_slash_ahead(&self) -> bool {
        let rest = &self.b[self.pos + 1..];
        let line = rest.iter().position(|&c| c == b'\n').map_or(rest, |n| &rest[..n]);
        line.contains(&b'/')
    }

    fn starts_symbol(&self, space: bool) -> bool {
        let Some(next) = self.peek(1) else { return false };
        let operand = is_ident_start(next) || b"+-*/%<>=!~^&|[".contains(&next);
        operand && (!self.value_end || (space && self.ternaries == 0))
    }

    fn symbol(&mut self) -> Tok {
        self.pos += 1;
        let start = self.pos;
        if self.peek(0).is_some_and(is_ident_start) {
            while self.peek(0).is_some_and(is_ident_char) {
                self.pos += 1;
            }
            if matches!(self.peek(0), Some(b'?' | b'!' | b'='))
                && !matches!(self.peek(1), Some(b'=' | b'~' | b'>'))
            {
                self.pos += 1;
            }
        } else {
            #[rustfmt::skip]
            const OPERATOR_SYMBOLS: &[&str] = &[
                "[]=", "[]", "<=>", "===", "==", "=~", "!=", "!~", "**", "<<", ">>", "<=", ">=", "+@", "-@",
                "+", "-", "*", "/", "%", "<", ">", "!", "~", "^", "&", "|",
            ];
            let rest = &self.b[start..];
            match OPERATOR_SYMBOLS.iter().find(|op| rest.starts_with(op.as_bytes())) {
                Some(op) => self.pos += op.len(),
                // Not a Symbol after all (`:[`): a plain colon.
                None => return Tok::Punct(":"),
            }
        }
        Tok::Sym(self.src.text[start..self.pos].to_string())
    }

    fn char_literal_ahead(&self) -> bool {
        match (self.peek(1), self.peek(2)) {
            (Some(c), next) if !c.is_ascii_whitespace() => {
                c == b'\\' || c >= 0x80 || !next.is_some_and(is_ident_char)
            }
            _ => false,
        }
    }

    fn char_literal(&mut self) -> Result<Tok, LexError> {
        let start = self.pos;
        self.pos += 1;
        let mut s = Vec::new();
        if self.peek(0) == Some(b'\\') {
            self.escape(&mut s, start)?;
        } else {
            let end = self.char_end(self.pos);
            s.extend_from_slice(&self.b[self.pos..end]);
            self.pos = end;
        }
        self.utf8(s, start).map(|s| Tok::Str(vec![StrPart::Lit(s)]))
    }

    fn heredoc_ahead(&self, space: bool) -> bool {
        if !self.b[self.pos..].starts_with(b"<<") || !self.literal_allowed(space) {
            return false;
        }
        match self.peek(2) {
            Some(b'~' | b'-') => self
                .peek(3)
                .is_some_and(|c| is_ident_start(c) || c == b'"' || c == b'\''),
            Some(c) => c.is_ascii_uppercase() || c == b'"' || c == b'\'',
            None => false,
        }
    }

    fn instance_variable(&mut self) -> Result<Tok, LexError> {
        let start = self.pos;
        if self.peek(1) == Some(b'@') {
            return Err(self.unsupported(start, "a class variable (`@@`)"));
        }
        self.pos += 1;
        if !self.peek(0).is_some_and(is_ident_start) {
            return Err(self.error(start..start + 1, codes::SYNTAX, "`@` must be followed by a name"));
        }
        while self.peek(0).is_some_and(is_ident_char) {
            self.pos += 1;
        }
        Ok(Tok::IVar(self.src.text[start..self.pos].to_string()))
    }

    fn global_variable(&mut self) -> Result<Tok, LexError> {
        let start = self.pos;
        self.pos += 1;
        if self.peek(0).is_some_and(is_ident_start) {
            while self.peek(0).is_some_and(is_ident_char) {
                self.pos += 1;
            }
            return Ok(Tok::GVar(self.src.text[start..self.pos].to_string()));
        }
        Err(self.unsupported(start, "a special global variable"))
    }

    fn identifier(&mut self) -> Tok {
        let start = self.pos;
        while self.peek(0).is_some_and(is_ident_char) {
            self.pos += 1;
        }
        // `empty?`, `strip!`, but not `a!=b` or `x ?a :b`.
        if matches!(self.peek(0), Some(b'?' | b'!')) && self.peek(1) != Some(b'=') {
            self.pos += 1;
        }
        let name = &self.src.text[start..self.pos];
        let label = self.peek(0) == Some(b':') && self.peek(1) != Some(b':') && self.ternaries == 0;
        if label && !self.after_dot {
            self.pos += 1;
            return Tok::Label(name.to_string());
        }
        if !self.after_dot
            && let Some(kw) = Kw::from_name(name)
        {
            return Tok::Kw(kw);
        }
        if name.as_bytes()[0].is_ascii_uppercase() {
            Tok::Const(name.to_string())
        } else {
            Tok::Ident(name.to_string())
        }
    }

    fn operator(&mut self, at: usize) -> Result<Tok, LexError> {
        let rest = &self.b[at..];
        match OPERATORS.iter().find(|op| rest.starts_with(op.as_bytes())) {
            Some(op) => {
                self.pos += op.len();
                Ok(Tok::Punct(op))
            }
            None => {
                let end = self.char_end(at);
                let ch = &self.src.text[at..end];
                Err(self.error(
                    at..end,
                    codes::SYNTAX,
                    format!("unexpected character `{}`", ch.escape_debug()),
                ))
            }
        }
    }

    fn number(&mut self) -> Result<Tok, LexError> {
        let start = self.pos;
        let radix = match (self.peek(0), self.peek(1).map(|c| c.to_ascii_lowercase())) {
            (Some(b'0'), Some(b'x')) => 16,
            (Some(b'0'), Some(b'b')) => 2,
            (Some(b'0'), Some(b'o')) => 8,
            (Some(b'0'), Some(b'd')) => 10,
            (Some(b'0'), Some(b'0'..=b'9' | b'_')) => 8,
            _ => 0,
        };
        if radix != 0 {
            self.pos += if self.peek(1).is_some_and(|c| c.is_ascii_alphabetic()) {
                2
            } else {
                1
            };
            let digits_start = self.pos;
            while self
                .peek(0)
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                self.pos += 1;
            }
            let digits: String = self.src.text[digits_start..self.pos]
                .chars()
                .filter(|&c| c != '_')
                .collect();
            let bad = || self.error(start..self.pos, codes::SYNTAX, "invalid number literal");
            if digits.is_empty() || self.src.text[digits_start..self.pos].contains("__") {
                return Err(bad());
            }
            return match i64::from_str_radix(&digits, radix) {
                Ok(n) => Ok(Tok::Int(n)),
                Err(_) if digits.chars().all(|c| c.is_digit(radix)) => {
                    Ok(Tok::Unsupported("an Integer beyond 64 bits"))
                }
                Err(_) => Err(bad()),
            };
        }
        let digits = |l: &mut Self| {
            while l.peek(0).is_some_and(|c| {
                c.is_ascii_digit() || (c == b'_' && l.peek(1).is_some_and(|d| d.is_ascii_digit()))
            }) {
                l.pos += 1;
            }
        };
        digits(self);
        let mut float = false;
        if self.peek(0) == Some(b'.') && self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
            float = true;
            self.pos += 1;
            digits(self);
        }
        if matches!(self.peek(0), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(self.peek(1), Some(b'+' | b'-')));
            if self.peek(1 + sign).is_some_and(|c| c.is_ascii_digit()) {
                float = true;
                self.pos += 1 + sign;
                digits(self);
            }
        }
        if self.peek(0).is_some_and(is_ident_char) {
            let suffix = self.peek(0) == Some(b'r') || self.peek(0) == Some(b'i');
            if suffix && !self.peek(1).is_some_and(is_ident_char) {
                self.pos += 1;
                return Ok(Tok::Unsupported("a Rational or Complex literal"));
            }
            return Err(self.error(
                start..self.char_end(self.pos),
                codes::SYNTAX,
                "invalid number literal",
            ));
        }
        let text: String = self.src.text[start..self.pos]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        if float {
            // Rust's parser rounds correctly, as Ruby's does.
            return text
                .parse::<f64>()
                .map(Tok::Float)
                .map_err(|_| self.error(start..self.pos, codes::SYNTAX, "invalid number literal"));
        }
        Ok(text
            .parse::<i64>()
            .map_or(Tok::Unsupported("an Integer beyond 64 bits"), Tok::Int))
    }

    /// A string body up to `close` (the opening delimiter is consumed). `open != close`
    /// delimiters nest, as in `%q(a (b) c)`.
    fn quoted(&mut self, open: u8, close: u8, interpolate: bool) -> Result<Vec<StrPart>, LexError> {
        let start = self.pos.saturating_sub(1);
        let mut parts = Vec::new();
        let mut lit: Vec<u8> = Vec::new();
        let mut nesting = 0usize;
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.error(start..self.pos, codes::SYNTAX, "unterminated string literal"));
            };
            match c {
                c if c == close && nesting == 0 => {
                    self.pos += 1;
                    break;
                }
                c if c == close => {
                    nesting -= 1;
                    lit.push(c);
                    self.pos += 1;
                }
                c if c == open && open != close => {
                    nesting += 1;
                    lit.push(c);
                    self.pos += 1;
                }
                b'\\' if interpolate => self.escape(&mut lit, start)?,
                b'\\' => {
                    // Single quotes: only `\\` and an escaped delimiter lose the backslash.
                    match self.peek(1) {
                        Some(n) if n == b'\\' || n == close || n == open => {
                            lit.push(n);
                            self.pos += 2;
                        }
                        _ => {
                            lit.push(b'\\');
                            self.pos += 1;
                        }
                    }
                }
                b'#' if interpolate && self.interpolation_ahead() => {
                    let code = self.interpolation()?;
                    if !lit.is_empty() {
                        parts.push(StrPart::Lit(self.utf8(std::mem::take(&mut lit), start)?));
                    }
                    parts.push(StrPart::Code(code));
                }
                _ => {
                    lit.push(c);
                    self.pos += 1;
                }
            }
        }
        if !lit.is_empty() || parts.is_empty() {
            parts.push(StrPart::Lit(self.utf8(lit, start)?));
        }
        Ok(parts)
    }

    /// `#{`, or `#$name` / `#@name` (otherwise `#` is plain text).
    fn interpolation_ahead(&self) -> bool {
        match self.peek(1) {
            Some(b'{') => true,
            Some(b'$' | b'@') => self.peek(2).is_some_and(|c| is_ident_start(c) || c == b'@'),
            _ => false,
        }
    }

    /// `#{code}`, `#$global` or `#@ivar` inside a double-quoted string (at `#`).
    fn interpolation(&mut self) -> Result<Vec<Token>, LexError> {
        let at = self.pos;
        if self.peek(1) != Some(b'{') {
            self.pos += 1;
            let sigil = self.peek(0);
            let kind = if sigil == Some(b'$') {
                self.global_variable()?
            } else {
                self.instance_variable()?
            };
            let token = Token {
                kind,
                span: self.src.span(at + 1..self.pos),
                space_before: false,
                tag: self.tag,
            };
            return Ok(vec![token]);
        }
        if self.depth >= MAX_INTERPOLATION_DEPTH {
            return Err(self.error(
                at..at + 2,
                codes::LIMIT,
                "string interpolations are nested too deeply",
            ));
        }
        self.pos += 2;
        let saved = (self.value_end, self.after_dot, self.prev_ident, self.ternaries);
        (self.value_end, self.after_dot, self.prev_ident, self.ternaries) = (false, false, false, 0);
        let outer = std::mem::take(&mut self.outer_ternaries);
        self.depth += 1;
        let tokens = self.tokens(true);
        self.depth -= 1;
        (self.value_end, self.after_dot, self.prev_ident, self.ternaries) = saved;
        self.outer_ternaries = outer;
        tokens
    }

    /// A backslash escape in a double-quoted string (at `\`), appended to `out`.
    fn escape(&mut self, out: &mut Vec<u8>, start: usize) -> Result<(), LexError> {
        let at = self.pos;
        self.pos += 1;
        let Some(c) = self.peek(0) else {
            return Err(self.error(start..self.pos, codes::SYNTAX, "unterminated string literal"));
        };
        self.pos += 1;
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b's' => Some(b' '),
            b'r' => Some(b'\r'),
            b'e' => Some(0x1b),
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'v' => Some(0x0b),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            return Ok(());
        }
        match c {
            b'\n' => {}
            b'0'..=b'7' => {
                let mut n = u32::from(c - b'0');
                for _ in 0..2 {
                    match self.peek(0) {
                        Some(d @ b'0'..=b'7') => {
                            n = n * 8 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                out.push((n & 0xff) as u8);
            }
            b'x' => {
                let digits = self.hex_digits(2);
                if digits.is_empty() {
                    return Err(self.error(at..self.pos, codes::SYNTAX, "invalid hex escape"));
                }
                out.push(u8::from_str_radix(&digits, 16).unwrap_or(0));
            }
            b'u' => {
                let codes: Vec<String> = if self.peek(0) == Some(b'{') {
                    self.pos += 1;
                    let mut codes = Vec::new();
                    loop {
                        while self.peek(0) == Some(b' ') {
                            self.pos += 1;
                        }
                        if self.peek(0) == Some(b'}') {
                            self.pos += 1;
                            break;
                        }
                        let d = self.hex_digits(6);
                        if d.is_empty() {
                            return Err(self.error(at..self.pos, codes::SYNTAX, "invalid Unicode escape"));
                        }
                        codes.push(d);
                    }
                    codes
                } else {
                    vec![self.hex_digits(4)]
                };
                for code in codes {
                    let ch = u32::from_str_radix(&code, 16).ok().and_then(char::from_u32);
                    let Some(ch) = ch.filter(|_| code.len() >= 4 || self.b[at + 2] == b'{') else {
                        return Err(self.error(at..self.pos, codes::SYNTAX, "invalid Unicode escape"));
                    };
                    out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                }
            }
            b'c' | b'C' | b'M' => return Err(self.unsupported(at, "a control or meta escape")),
            _ => {
                // Any other escaped character stands for itself (whole UTF-8 character).
                let end = self.char_end(self.pos - 1);
                out.extend_from_slice(&self.b[self.pos - 1..end]);
                self.pos = end;
            }
        }
        Ok(())
    }

    fn hex_digits(&mut self, max: usize) -> String {
        let start = self.pos;
        while self.pos - start < max && self.peek(0).is_some_and(|c| c.is_ascii_hexdigit()) {
            self.pos += 1;
        }
        self.src.text[start..self.pos].to_string()
    }

    fn utf8(&self, bytes: Vec<u8>, start: usize) -> Result<String, LexError> {
        String::from_utf8(bytes).map_err(|_| {
            self.error(
                start..self.pos,
                codes::UNSUPPORTED,
                "a string that is not valid UTF-8 is outside the Ruby subset berth evaluates",
            )
        })
    }

    /// `%w[]`, `%i[]`, `%q()`, `%Q()`, `%()`, and the unsupported `%r`, `%x`, `%W`, `%I`.
    fn percent_literal(&mut self) -> Result<Tok, LexError> {
        let start = self.pos;
        let (kind, open_at) = match self.peek(1) {
            Some(c) if c.is_ascii_alphabetic() => (c, 2),
            _ => (b'Q', 1),
        };
        let Some(open) = self
            .peek(open_at)
            .filter(|c| !c.is_ascii_alphanumeric() && !c.is_ascii_whitespace())
        else {
            return Err(self.error(start..self.char_end(start), codes::SYNTAX, "unknown `%` literal"));
        };
        let close = match open {
            b'(' => b')',
            b'[' => b']',
            b'{' => b'}',
            b'<' => b'>',
            c => c,
        };
        self.pos += open_at + 1;
        match kind {
            b'q' => Ok(Tok::Str(self.quoted(open, close, false)?)),
            b'Q' => Ok(Tok::Str(self.quoted(open, close, true)?)),
            b's' => {
                let parts = self.quoted(open, close, false)?;
                Ok(Tok::Sym(literal_text(&parts)))
            }
            b'w' | b'i' => {
                let parts = self.quoted(open, close, false)?;
                let words = literal_text(&parts)
                    .split_ascii_whitespace()
                    .map(str::to_string)
                    .collect();
                Ok(if kind == b'w' {
                    Tok::Words(words)
                } else {
                    Tok::Symbols(words)
                })
            }
            b'r' => {
                self.regex_body(open, close)?;
                Ok(Tok::Unsupported("a regular expression literal"))
            }
            b'x' => {
                self.quoted(open, close, false)?;
                Ok(Tok::Unsupported("a `%x` shell command"))
            }
            b'W' | b'I' => {
                self.quoted(open, close, true)?;
                Ok(Tok::Unsupported("an interpolating `%W`/`%I` array"))
            }
            _ => Err(self.error(start..self.pos, codes::SYNTAX, "unknown `%` literal")),
        }
    }

    /// Skips a regular expression body and its flags (the opening delimiter is consumed).
    fn regex_body(&mut self, open: u8, close: u8) -> Result<(), LexError> {
        let start = self.pos.saturating_sub(1);
        let mut class = false;
        let mut nesting = 0usize;
        loop {
            let Some(c) = self.peek(0) else {
                return Err(self.error(start..self.pos, codes::SYNTAX, "unterminated regular expression"));
            };
            self.pos += 1;
            match c {
                b'\\' => self.pos = (self.pos + 1).min(self.b.len()),
                b'[' if close == b'/' => class = true,
                b']' if close == b'/' => class = false,
                c if c == close && nesting == 0 && !class => break,
                c if c == close => nesting = nesting.saturating_sub(1),
                c if c == open && open != close => nesting += 1,
                _ => {}
            }
        }
        while self.peek(0).is_some_and(|c| c.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        // A `\` right before the end can step into the middle of a character.
        while !self.src.text.is_char_boundary(self.pos) {
            self.pos += 1;
        }
        Ok(())
    }
}

/// The text of a non-interpolating literal.
fn literal_text(parts: &[StrPart]) -> String {
    parts
        .iter()
        .map(|p| match p {
            StrPart::Lit(s) => s.as_str(),
            StrPart::Code(_) => "",
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(code: &str) -> Vec<Tok> {
        let src = Source::new(code, std::slice::from_ref(&(0..code.len())));
        lex(&src, 0, 0)
            .expect("lexes")
            .tokens
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn error(code: &str) -> String {
        let src = Source::new(code, std::slice::from_ref(&(0..code.len())));
        lex(&src, 0, 0).expect_err("fails").message
    }

    fn lit(s: &str) -> Tok {
        Tok::Str(vec![StrPart::Lit(s.to_string())])
    }

    #[test]
    fn numbers() {
        assert_eq!(
            kinds("1_000 0x1F 0b11 017 1.5 2e3 1.0e-5"),
            vec![
                Tok::Int(1000),
                Tok::Int(31),
                Tok::Int(3),
                Tok::Int(15),
                Tok::Float(1.5),
                Tok::Float(2000.0),
                Tok::Float(1.0e-5)
            ]
        );
        assert_eq!(kinds("1..5"), vec![Tok::Int(1), Tok::Punct(".."), Tok::Int(5)]);
        assert_eq!(
            kinds("99999999999999999999"),
            vec![Tok::Unsupported("an Integer beyond 64 bits")]
        );
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            kinds(r#"'a\'b\n' "a\tb\u00e9\x41""#),
            vec![lit("a'b\\n"), lit("a\tbéA")]
        );
        assert_eq!(
            kinds("%w[a b  c]"),
            vec![Tok::Words(vec!["a".into(), "b".into(), "c".into()])]
        );
        assert_eq!(kinds("%q(a (b) c)"), vec![lit("a (b) c")]);
        assert_eq!(kinds("?a"), vec![lit("a")]);
    }

    #[test]
    fn interpolation_nests() {
        let toks = kinds(r##""x#{a + "#{b}"}y""##);
        let Tok::Str(parts) = &toks[0] else {
            panic!("{toks:?}")
        };
        assert_eq!(parts.len(), 3);
        assert!(matches!(&parts[1], StrPart::Code(t) if t.len() == 3));
    }

    #[test]
    fn identifiers_keywords_labels() {
        assert_eq!(
            kinds("x.empty? a!=b"),
            vec![
                Tok::Ident("x".into()),
                Tok::Punct("."),
                Tok::Ident("empty?".into()),
                Tok::Ident("a".into()),
                Tok::Punct("!="),
                Tok::Ident("b".into())
            ]
        );
        assert_eq!(kinds("{a: 1}")[1], Tok::Label("a".into()));
        assert_eq!(kinds("{'a b': 1}")[1], Tok::Label("a b".into()));
        assert_eq!(kinds("x ? 'a': 'b'")[2], lit("a"));
        assert_eq!(kinds("x ? {a: 1} : 2")[3], Tok::Label("a".into()));
        assert_eq!(kinds("r.end")[2], Tok::Ident("end".into()));
        assert_eq!(kinds("c ? a : b")[3], Tok::Punct(":"));
        assert_eq!(
            kinds(":sym :+ A::B")[..2],
            [Tok::Sym("sym".into()), Tok::Sym("+".into())]
        );
    }

    #[test]
    fn slash_and_percent_are_operators_after_values() {
        assert_eq!(kinds("a / 2 % 3")[1], Tok::Punct("/"));
        assert_eq!(
            kinds("x.gsub(/a/, 'b')")[4],
            Tok::Unsupported("a regular expression literal")
        );
        assert_eq!(kinds("a %w[x]")[1], Tok::Words(vec!["x".into()]));
    }

    #[test]
    fn comments_and_newlines() {
        let src = Source::new("a # c", std::slice::from_ref(&(0..5)));
        assert!(lex(&src, 0, 0).unwrap().open_comment);
        assert_eq!(
            kinds("a # c\nb"),
            vec![Tok::Ident("a".into()), Tok::Newline, Tok::Ident("b".into())]
        );
    }

    #[test]
    fn unsupported_and_errors() {
        assert!(error("x = <<~EOS\nhi\nEOS").contains("heredoc"));
        assert!(error("'abc").contains("unterminated"));
        assert!(error("=begin\nx\n=end").contains("=begin"));
        assert_eq!(kinds("`ls`"), vec![Tok::Unsupported("a backtick shell command")]);
    }

    #[test]
    fn spans_follow_pieces() {
        // Code `'%>'` written as `'%%>'`: the second piece starts one byte later.
        let template = "<%= '%%>' %>";
        let src = Source::new(template, &[3..5, 6..10]);
        assert_eq!(src.text, " '%>' ");
        let toks = lex(&src, 0, 0).unwrap().tokens;
        assert_eq!(toks[0].span, 4..9);
    }
}
