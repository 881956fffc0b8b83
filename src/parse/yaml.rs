//! YAML with positions: text → the same spanned JSON document (`Json`) that JSON files
//! give, so that berth.yaml is validated and located exactly like the JSON formats.
//! Parsed by serde-saphyr (pure Rust, with budgets against alias bombs), which reports
//! where every node was.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::parse::json::{Json, Located};
use crate::source::Span;

/// Why a text is not YAML berth can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub span: Span,
    pub message: String,
}

/// Parses one YAML document into a spanned JSON value. Keys must be strings; duplicate
/// keys are an error, as in JSON Schema's data model.
pub fn parse(text: &str) -> Result<Json, YamlError> {
    if text.trim().is_empty() {
        return Ok(empty());
    }
    let node: Node = serde_saphyr::from_str(text).map_err(|e| YamlError {
        span: e.location().map_or(Span::point(0), |l| span_of(&l, text)),
        message: e.without_snippet().to_string(),
    })?;
    let mut spans = HashMap::new();
    let value = convert(node, String::new(), None, text, &mut spans);
    if value.is_null() {
        return Ok(empty());
    }
    Ok(Json::from_parts(value, spans))
}

/// An empty document (or one of only comments) means "all defaults".
fn empty() -> Json {
    Json::from_parts(serde_json::Value::Object(Default::default()), HashMap::new())
}

/// A YAML node with where it was.
struct Node(Spanned<Kind>);

enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Spanned<String>, Node)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Spanned::<Kind>::deserialize(d).map(Node)
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(Kind::UInt(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<Spanned<String>, Node>()? {
            entries.push((k, v));
        }
        Ok(Kind::Map(entries))
    }
}

/// Byte span of a located node, from serde-saphyr's byte offsets.
fn span_of(location: &serde_saphyr::Location, text: &str) -> Span {
    let s = location.span();
    match (s.byte_offset(), s.byte_len()) {
        (Some(o), Some(l)) => {
            let start = (o as usize).min(text.len());
            Span::new(start, (start + l as usize).min(text.len()))
        }
        _ => Span::point(0),
    }
}

fn convert(
    node: Node,
    pointer: String,
    key: Option<Span>,
    text: &str,
    spans: &mut HashMap<String, Located>,
) -> serde_json::Value {
    use serde_json::Value as V;
    let span = span_of(&node.0.referenced, text);
    let value = match node.0.value {
        Kind::Null => V::Null,
        Kind::Bool(b) => V::Bool(b),
        Kind::Int(i) => V::from(i),
        Kind::UInt(u) => V::from(u),
        Kind::Float(f) => serde_json::Number::from_f64(f).map_or(V::Null, V::Number),
        Kind::Str(s) => V::String(s),
        Kind::Seq(items) => V::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, n)| convert(n, format!("{pointer}/{i}"), None, text, spans))
                .collect(),
        ),
        Kind::Map(entries) => V::Object(
            entries
                .into_iter()
                .map(|(k, n)| {
                    let child = crate::parse::json::child(&pointer, &k.value);
                    let key_span = span_of(&k.referenced, text);
                    let v = convert(n, child, Some(key_span), text, spans);
                    (k.value, v)
                })
                .collect(),
        ),
    };
    spans.insert(pointer, Located { value: span, key });
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_keys_have_spans() {
        let text = "project: demo\nengine:\n  host: tcp://x:2375\nimages:\n  - name: a:1\n    load: a.tar\n";
        let doc = parse(text).unwrap();
        assert_eq!(doc.value["engine"]["host"], "tcp://x:2375");
        assert_eq!(&text[doc.span("/engine/host").unwrap().range()], "tcp://x:2375");
        assert_eq!(&text[doc.key_span("/engine").unwrap().range()], "engine");
        assert_eq!(&text[doc.span("/images/0/load").unwrap().range()], "a.tar");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(!err.message.is_empty());
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.to_lowercase().contains("duplicate"), "{err:?}");
    }

    #[test]
    fn empty_document_is_an_empty_object() {
        assert_eq!(parse("# nothing\n").unwrap().value, serde_json::json!({}));
    }
}
