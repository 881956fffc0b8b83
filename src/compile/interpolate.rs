//! `$ENV(name)` and `$SECRET(name)` references inside strings (Sesam's syntax, also used
//! for secrets in berth.yaml): splitting a string into literal text and references, with
//! the span of each reference, and the errors for malformed ones.

use crate::model::{Piece, Text};
use crate::source::Span;

/// One part of an interpolated string. Spans are byte offsets within the string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<'a> {
    Literal(&'a str),
    Env {
        name: &'a str,
        span: std::ops::Range<usize>,
    },
    Secret {
        name: &'a str,
        span: std::ops::Range<usize>,
    },
}

/// A malformed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefError {
    pub span: std::ops::Range<usize>,
    pub message: String,
}

/// Splits `s` into parts. `$` not followed by `ENV(` or `SECRET(` is literal text.
pub fn split(s: &str) -> Result<Vec<Part<'_>>, RefError> {
    let mut parts = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    while let Some(found) = s[i..].find('$') {
        let start = i + found;
        let rest = &s[start..];
        let (kind, open) = if rest.starts_with("$ENV(") {
            ("ENV", 5)
        } else if rest.starts_with("$SECRET(") {
            ("SECRET", 8)
        } else {
            i = start + 1;
            continue;
        };
        let body_start = start + open;
        let Some(close) = s[body_start..].find(')') else {
            return Err(RefError {
                span: start..s.len(),
                message: format!("`${kind}(` is never closed"),
            });
        };
        let name = &s[body_start..body_start + close];
        let end = body_start + close + 1;
        if name.is_empty() {
            return Err(RefError {
                span: start..end,
                message: format!("`${kind}()` names nothing"),
            });
        }
        if name.contains('$') || name.contains('(') {
            return Err(RefError {
                span: start..end,
                message: "references cannot be nested".into(),
            });
        }
        if literal_start < start {
            parts.push(Part::Literal(&s[literal_start..start]));
        }
        parts.push(match kind {
            "ENV" => Part::Env {
                name,
                span: start..end,
            },
            _ => Part::Secret {
                name,
                span: start..end,
            },
        });
        literal_start = end;
        i = end;
    }
    if literal_start < s.len() || parts.is_empty() {
        parts.push(Part::Literal(&s[literal_start..]));
    }
    Ok(parts)
}

/// A berth.yaml setting as model text for variable `var`: `$SECRET` references stay
/// references, and a password written in plain text is used but never shown.
pub fn credential(var: &str, value: &str) -> Text {
    let text = secret_text(value);
    if crate::model::looks_secret(var) {
        text.sensitive()
    } else {
        text
    }
}

/// A string as model text: `$SECRET(name)` references become secret pieces; anything
/// else (including `$ENV` references, resolved earlier or left as written) is literal.
/// A malformed reference leaves the whole string literal: the front end reports it.
pub fn secret_text(s: &str) -> Text {
    match split(s) {
        Ok(parts) => Text(
            parts
                .into_iter()
                .map(|p| match p {
                    Part::Secret { name, .. } => Piece::Secret(name.to_string()),
                    Part::Literal(l) => Piece::Literal(l.to_string()),
                    Part::Env { span, .. } => Piece::Literal(s[span].to_string()),
                })
                .collect(),
        ),
        Err(_) => Text::literal(s),
    }
}

/// The file span of `decoded[range]`, a part of a JSON string whose literal is `token`
/// in `text`. The part is found in the literal as written (escapes before it shift
/// offsets); references and placeholders contain nothing JSON escapes.
pub fn span_in_token(text: &str, token: Span, decoded: &str, range: &std::ops::Range<usize>) -> Span {
    let needle = &decoded[range.clone()];
    let nth = decoded[..range.start].matches(needle).count();
    let raw = text.get(token.range()).unwrap_or_default();
    match raw.match_indices(needle).nth(nth) {
        Some((at, _)) => Span::new(token.start + at, token.start + at + needle.len()),
        // Not found as written (it held an escape): the whole string.
        None => token,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_in_tokens_survive_escapes() {
        let text = r#"{"k": "a\nb\u20ac$ENV(x) and $ENV(x)"}"#;
        let token = Span::new(6, text.len() - 1);
        let decoded = "a\nb€$ENV(x) and $ENV(x)";
        let first = decoded.find("$ENV").unwrap();
        let second = decoded.rfind("$ENV").unwrap();
        for start in [first, second] {
            let span = span_in_token(text, token, decoded, &(start..start + 7));
            assert_eq!(&text[span.range()], "$ENV(x)");
        }
        let second_span = span_in_token(text, token, decoded, &(second..second + 7));
        assert_eq!(second_span.start, text.rfind("$ENV").unwrap());
    }

    #[test]
    fn splits_references_inside_text() {
        let got = split("http://$ENV(host):$ENV(port)/x?t=$SECRET(tok)").unwrap();
        assert_eq!(
            got,
            [
                Part::Literal("http://"),
                Part::Env {
                    name: "host",
                    span: 7..17
                },
                Part::Literal(":"),
                Part::Env {
                    name: "port",
                    span: 18..28
                },
                Part::Literal("/x?t="),
                Part::Secret {
                    name: "tok",
                    span: 33..45
                },
            ]
        );
        assert_eq!(split("costs $5").unwrap(), [Part::Literal("costs $5")]);
        assert_eq!(split("").unwrap(), [Part::Literal("")]);
    }

    #[test]
    fn malformed_references() {
        assert!(split("$ENV(a").unwrap_err().message.contains("never closed"));
        assert!(split("$SECRET()").unwrap_err().message.contains("names nothing"));
        assert!(split("$ENV($SECRET(x))").unwrap_err().message.contains("nested"));
    }
}
