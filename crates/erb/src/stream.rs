//! Splices a scanned template into one token stream, the way ERB's compiler splices it
//! into one Ruby program: code tags contribute their tokens, text chunks and `<%= %>`
//! tags become statement tokens, and tag boundaries become `;` or line breaks.
//!
//! ERB joins the pieces of one generated line with `"; "` and starts a new line only after
//! a code tag that ends in a newline or after `-%>`. A `#` comment in a code tag therefore
//! comments out everything up to the next line break of the generated program, text
//! included; this is reproduced, since it changes the output.

use std::ops::Range;

use super::lexer::{self, Source, Tok, Token};
use super::template::{Item, Scanned, TagKind};
use super::{ErbError, codes};

/// The whole template as tokens, ending with `Eof`, plus the errors found on the way.
pub(crate) struct Stream {
    pub tokens: Vec<Token>,
    pub errors: Vec<ErbError>,
}

/// Builds the token stream of `scanned`.
pub(crate) fn splice(template: &str, scanned: &Scanned) -> Stream {
    let mut b = Builder {
        template,
        scanned,
        tokens: Vec::new(),
        errors: Vec::new(),
        line_start: false,
        swallowing: false,
    };
    for (i, item) in scanned.items.iter().enumerate() {
        b.item(i as u32, item);
    }
    let end = template.len();
    let last = scanned.items.len().saturating_sub(1) as u32;
    b.tokens.push(Token {
        kind: Tok::Eof,
        span: end..end,
        space_before: true,
        tag: last,
    });
    Stream {
        tokens: b.tokens,
        errors: b.errors,
    }
}

struct Builder<'a> {
    template: &'a str,
    scanned: &'a Scanned,
    tokens: Vec<Token>,
    errors: Vec<ErbError>,
    /// The next piece starts a line of the generated program, so no `;` comes before it.
    /// False at the start: ERB's `_erbout = +''` comes first on the first line.
    line_start: bool,
    /// A `#` comment from an earlier code tag is still running.
    swallowing: bool,
}

impl Builder<'_> {
    fn item(&mut self, i: u32, item: &Item) {
        let span = item.span(&self.scanned.tags);
        match item {
            Item::Text { pieces } => {
                let newline = pieces.iter().any(|p| self.template[p.clone()].contains('\n'));
                if !self.swallowing {
                    self.separator(i, span.start);
                    self.push(Tok::Text(i), span.clone(), i);
                }
                if newline {
                    self.swallowing = false;
                    self.push(Tok::Newline, span.end..span.end, i);
                }
            }
            Item::Tag { tag, content } => {
                let tag = &self.scanned.tags[*tag];
                let src = Source::new(self.template, content);
                match tag.kind {
                    TagKind::Code => self.code(i, &src, span.clone()),
                    TagKind::Output => self.output(i, &src, span.clone()),
                    // ERB pushes one line break per newline of a comment, to keep line
                    // numbers; an empty piece still gets its `;`.
                    TagKind::Comment | TagKind::Escape => {
                        let newline = src.text.contains('\n');
                        if !self.swallowing {
                            self.separator(i, span.start);
                        }
                        if newline {
                            self.swallowing = false;
                            self.push(Tok::Newline, span.end..span.end, i);
                        }
                    }
                }
                if tag.ends_script_line(self.template.len()) {
                    self.swallowing = false;
                    self.push(Tok::Newline, span.end..span.end, i);
                    self.line_start = true;
                }
            }
        }
    }

    fn code(&mut self, i: u32, src: &Source, span: Range<usize>) {
        let mut start = 0;
        if self.swallowing {
            // Only what follows the comment's line break is code.
            match src.text.find('\n') {
                Some(n) => start = n,
                None => return,
            }
            self.swallowing = false;
        } else {
            self.separator(i, span.start);
        }
        self.lex_into(i, src, start, span);
        // ERB chops a trailing newline and starts a new line of the program instead.
        if src.text.ends_with('\n') {
            self.line_start = true;
        }
    }

    fn output(&mut self, i: u32, src: &Source, span: Range<usize>) {
        if self.swallowing {
            if src.text.contains('\n') {
                self.swallowing = false;
                self.errors.push(ErbError::new(
                    span.clone(),
                    codes::SYNTAX,
                    "a `#` comment in an earlier tag comments out the start of this `<%= %>` tag".to_string(),
                    Some("end the comment with a line break inside its tag, or use `<%# %>`".to_string()),
                ));
                self.push(Tok::Broken, span.clone(), i);
            }
            return;
        }
        self.separator(i, span.start);
        self.push(Tok::OutputStart(i), span.start..span.start, i);
        if self.lex_into(i, src, 0, span.clone()) {
            self.swallowing = false;
            self.errors.push(ErbError::new(
                span.clone(),
                codes::SYNTAX,
                "this `#` comment also comments out the end of the `<%= %>` tag".to_string(),
                Some("end the comment with a line break before `%>`".to_string()),
            ));
        }
        self.push(Tok::OutputEnd, span.end..span.end, i);
    }

    /// Lexes `src` from `start` into the stream. Returns whether a comment is left open.
    fn lex_into(&mut self, i: u32, src: &Source, start: usize, span: Range<usize>) -> bool {
        match lexer::lex(src, start, i) {
            Ok(lexed) => {
                self.tokens.extend(lexed.tokens);
                self.swallowing = lexed.open_comment;
                lexed.open_comment
            }
            Err(e) => {
                let help = (e.code == codes::UNSUPPORTED).then(unsupported_help);
                self.errors
                    .push(ErbError::new(src.span(e.span), e.code, e.message, help));
                self.push(Tok::Broken, span, i);
                false
            }
        }
    }

    /// The `; ` ERB puts between two pieces of one generated line.
    fn separator(&mut self, i: u32, at: usize) {
        if !std::mem::take(&mut self.line_start) {
            self.push(Tok::Semi, at..at, i.saturating_sub(1));
        }
    }

    fn push(&mut self, kind: Tok, span: Range<usize>, tag: u32) {
        self.tokens.push(Token {
            kind,
            span,
            space_before: true,
            tag,
        });
    }
}

/// The help text of every "outside the subset" error.
pub(crate) fn unsupported_help() -> String {
    "berth renders plugin.txt without a Ruby interpreter; compute the value in a VARIABLE instead".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template;

    /// The stream as short text: code tokens by kind, `T` for text, `<`/`>` around
    /// output, `;` and `/` for separators and line breaks.
    fn shape(template: &str) -> String {
        let scanned = template::scan(template);
        let stream = splice(template, &scanned);
        stream
            .tokens
            .iter()
            .map(|t| match &t.kind {
                Tok::Text(_) => "T".to_string(),
                Tok::OutputStart(_) => "<".to_string(),
                Tok::OutputEnd => ">".to_string(),
                Tok::Semi => ";".to_string(),
                Tok::Newline => "/".to_string(),
                Tok::Ident(n) => n.clone(),
                Tok::Kw(k) => k.as_str().to_string(),
                Tok::Eof => "$".to_string(),
                Tok::Broken => "!".to_string(),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn pieces_are_joined_like_erb() {
        assert_eq!(
            shape("a<% if x %>b<%= y %>c<% end %>"),
            "; T ; if x ; T ; < y > ; T ; end $"
        );
        // A code tag ending in a newline, and `-%>`, start a new line without `;`.
        assert_eq!(shape("<% x\n%>a<% y -%>\nb"), "; x / T ; y / T $");
    }

    #[test]
    fn ruby_comment_swallows_the_rest_of_the_generated_line() {
        // The text after the tag is on the same generated line as the comment; the line
        // ends after the text's literal.
        assert_eq!(shape("<% # note %>TEXT\nmore<% x %>"), "; / ; x $");
        assert_eq!(shape("<% # note %><%= a %>b<% x\ny %>"), "; / y $");
        assert_eq!(shape("<% a # note\n%>b"), "; a / T $");
    }

    #[test]
    fn comment_in_output_tag_is_an_error() {
        let t = "<%= a # c %>";
        let stream = splice(t, &template::scan(t));
        assert_eq!(stream.errors[0].code, codes::SYNTAX);
    }
}
