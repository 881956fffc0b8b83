//! Strict JSON with positions (and the `Json` type every JSON-shaped document uses,
//! YAML included): text → `serde_json::Value` plus the span of every value
//! and object key, addressed by JSON pointer, so that a schema violation at
//! `/resources/cpu` can be shown at its line and column. Malformed JSON becomes a
//! `JsonError` at the parser's position with a hint for the usual mistakes.

use std::collections::HashMap;

use jsonc_parser::ast::{ObjectPropName, Value as Ast};
use jsonc_parser::common::Ranged;
use jsonc_parser::errors::ParseErrorKind;
use jsonc_parser::{CollectOptions, ParseOptions, parse_to_ast};

use std::sync::Arc;

use crate::problem::Problem;
use crate::source::{SourceFile, Span};

/// A parsed JSON document.
#[derive(Debug, Clone)]
pub struct Json {
    pub value: serde_json::Value,
    spans: HashMap<String, Located>,
    /// Keys that appear twice in one object: `(pointer, first key span, repeated key span)`.
    pub duplicate_keys: Vec<(String, Span, Span)>,
}

/// Where a value is, and where its key is when it is an object member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    pub value: Span,
    pub key: Option<Span>,
}

/// Why a text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub span: Span,
    pub message: String,
    pub help: &'static str,
}

impl JsonError {
    /// The problem to report for a file that is not JSON.
    pub fn into_problem(self, file: &Arc<SourceFile>) -> Problem {
        Problem::error("berth::parse::json", self.message)
            .at(file, self.span)
            .with_label("here")
            .with_help(self.help)
    }
}

impl Json {
    /// A document built by another front end (YAML) from its own spans.
    pub fn from_parts(value: serde_json::Value, spans: HashMap<String, Located>) -> Json {
        Json {
            value,
            spans,
            duplicate_keys: Vec::new(),
        }
    }

    /// The span of the value at `pointer` (RFC 6901; `""` is the whole document).
    pub fn span(&self, pointer: &str) -> Option<Span> {
        self.spans.get(pointer).map(|l| l.value)
    }

    /// The span of the key of the member at `pointer`, falling back to its value.
    pub fn key_span(&self, pointer: &str) -> Option<Span> {
        self.spans.get(pointer).map(|l| l.key.unwrap_or(l.value))
    }

    /// The closest located ancestor-or-self of `pointer`, for errors about a member that
    /// is missing (whose pointer names the parent) or a pointer that does not exist.
    pub fn nearest_span(&self, pointer: &str) -> Span {
        let mut p = pointer;
        loop {
            if let Some(l) = self.spans.get(p) {
                return l.value;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.spans.get("").map_or(Span::point(0), |l| l.value),
            }
        }
    }
}

/// Parses strict JSON (no comments, trailing commas or other JSON5 extensions). A
/// leading byte order mark is allowed and skipped.
pub fn parse(text: &str) -> Result<Json, JsonError> {
    parse_at(text, 0)
}

/// Parses `text`, a part of a larger file that starts at byte `offset` of it (a JSON
/// example inside a README); every span is an offset into that file.
pub fn parse_at(text: &str, offset: usize) -> Result<Json, JsonError> {
    // Where the JSON text starts in the file: after the part's offset and any BOM.
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let base = offset + bom;
    let body = &text[bom..];
    let strict = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed = parse_to_ast(body, &CollectOptions::default(), &strict).map_err(|e| {
        let r = e.range();
        let (message, help) = describe(e.kind());
        JsonError {
            span: Span::new(base + r.start, base + r.end.max(r.start)),
            message,
            help,
        }
    })?;
    let Some(ast) = parsed.value else {
        return Err(JsonError {
            span: Span::point(offset + text.len()),
            message: "the file holds no JSON value".into(),
            help: "a manifest or config is one JSON object: `{ ... }`",
        });
    };
    let mut json = Json {
        value: serde_json::Value::Null,
        spans: HashMap::new(),
        duplicate_keys: Vec::new(),
    };
    locate(&ast, String::new(), None, base, &mut json);
    json.value = ast.into();
    Ok(json)
}

/// Records the span of `value` and, recursively, of everything inside it. Depth is
/// bounded by the parser's nesting limit (512).
fn locate(value: &Ast, pointer: String, key: Option<Span>, base: usize, json: &mut Json) {
    let shift = |r: jsonc_parser::common::Range| Span::new(base + r.start, base + r.end);
    match value {
        Ast::Object(obj) => {
            let mut seen: HashMap<&str, Span> = HashMap::new();
            for prop in &obj.properties {
                let name = match &prop.name {
                    ObjectPropName::String(s) => s.value.as_ref(),
                    ObjectPropName::Word(w) => w.value,
                };
                let key_span = shift(prop.name.range());
                let child = format!("{pointer}/{}", escape(name));
                if let Some(first) = seen.insert(name, key_span) {
                    json.duplicate_keys.push((child.clone(), first, key_span));
                }
                locate(&prop.value, child, Some(key_span), base, json);
            }
        }
        Ast::Array(arr) => {
            for (i, element) in arr.elements.iter().enumerate() {
                locate(element, format!("{pointer}/{i}"), None, base, json);
            }
        }
        _ => {}
    }
    json.spans.insert(
        pointer,
        Located {
            value: shift(value.range()),
            key,
        },
    );
}

/// The pointer of member `key` of the value at `pointer`.
pub fn child(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", escape(key))
}

/// RFC 6901 escaping of one pointer segment.
pub fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A message and a hint for each way strict JSON goes wrong.
fn describe(kind: &ParseErrorKind) -> (String, &'static str) {
    use ParseErrorKind as K;
    let hint = match kind {
        K::TrailingCommasNotAllowed => "JSON allows no comma after the last member or element: remove it",
        K::CommentsNotAllowed => "JSON has no comments: remove it, or move the note into a README",
        K::SingleQuotedStringsNotAllowed => "JSON strings use double quotes: \"like this\"",
        K::ExpectedComma => "a comma is missing between two members or elements",
        K::UnterminatedObject => "a closing `}` is missing",
        K::UnterminatedArray => "a closing `]` is missing",
        K::UnexpectedCloseBrace | K::UnexpectedCloseBracket => {
            "a bracket closes here that was never opened, or a value is missing before it"
        }
        K::ExpectedStringObjectProperty => "object keys are strings in double quotes",
        K::ExpectedColonAfterObjectKey => "a `:` must follow each key",
        K::MultipleRootJsonValues => "a JSON file holds exactly one value; wrap several in `[ ... ]`",
        K::NestingDepthExceeded => "nesting deeper than 512 levels is refused",
        K::HexadecimalNumbersNotAllowed
        | K::UnaryPlusNumbersNotAllowed
        | K::BareDecimalPointNumbersNotAllowed => "JSON numbers are plain decimals such as 0.5 or 10",
        K::NonFiniteNumbersNotAllowed => "JSON has no NaN or Infinity; use a string or null",
        _ => "check the JSON syntax at this position",
    };
    (format!("invalid JSON: {kind}"), hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_map_to_values_and_keys() {
        let text = "\u{feff}{\r\n\t\"a\": {\"b/c\": [1, \"x\"]},\"d\":null}";
        let json = parse(text).unwrap();
        let at = |p: &str| &text[json.span(p).unwrap().range()];
        assert_eq!(at("/a/b~1c/1"), "\"x\"");
        assert_eq!(at("/d"), "null");
        assert_eq!(&text[json.key_span("/a").unwrap().range()], "\"a\"");
        assert_eq!(
            &text[json.nearest_span("/a/missing").range()],
            "{\"b/c\": [1, \"x\"]}"
        );
        assert_eq!(json.value["a"]["b/c"][0], 1);
    }

    #[test]
    fn malformed_json_points_at_the_mistake_with_a_hint() {
        let err = parse("{\n  \"a\": 1,\n}").unwrap_err();
        assert_eq!(err.help, TRAILING);
        assert_eq!(err.span.start, 10);
        let err = parse("{\"a\": 1 // note\n}").unwrap_err();
        assert!(err.help.contains("no comments"));
        let err = parse("{\"a\": 1").unwrap_err();
        assert!(err.help.contains('}'), "{err:?}");
    }

    const TRAILING: &str = "JSON allows no comma after the last member or element: remove it";

    #[test]
    fn duplicate_keys_are_reported() {
        let json = parse("{\"a\": 1, \"a\": 2}").unwrap();
        assert_eq!(json.duplicate_keys.len(), 1);
        assert_eq!(json.value["a"], 2);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(parse(&text).unwrap_err().message.contains("nesting"));
    }
}
