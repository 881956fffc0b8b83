//! JSON documents against berth's schemas (`schemas/`): the schemas are embedded and
//! compiled once; every violation becomes a `Problem` at the exact span of the offending
//! value or key, with the schema's own description as the hint. Pure.

use std::sync::{Arc, OnceLock};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use crate::parse::json::Json;
use crate::problem::{Problem, closest};
use crate::source::{SourceFile, Span};

/// The schemas documents are checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    Cumulocity,
    SesamMicroservice,
    Berth,
}

/// The problem code of every schema violation.
pub const CODE: &str = "berth::schema::violation";

struct Compiled {
    raw: Value,
    validator: Validator,
}

impl Schema {
    fn text(self) -> &'static str {
        match self {
            Schema::Cumulocity => include_str!("../../schemas/cumulocity.schema.json"),
            Schema::SesamMicroservice => include_str!("../../schemas/sesam-microservice.schema.json"),
            Schema::Berth => include_str!("../../schemas/berth.schema.json"),
        }
    }

    fn compiled(self) -> &'static Compiled {
        static CUMULOCITY: OnceLock<Compiled> = OnceLock::new();
        static SESAM: OnceLock<Compiled> = OnceLock::new();
        static BERTH: OnceLock<Compiled> = OnceLock::new();
        let cell = match self {
            Schema::Cumulocity => &CUMULOCITY,
            Schema::SesamMicroservice => &SESAM,
            Schema::Berth => &BERTH,
        };
        cell.get_or_init(|| {
            // The schemas are part of the binary and tested (`schemas_compile`), so a
            // failure here is a build defect, not an input problem.
            let raw: Value = serde_json::from_str(self.text()).expect("embedded schema is JSON");
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&raw)
                .expect("embedded schema compiles");
            Compiled { raw, validator }
        })
    }
}

/// Every violation of `schema` in `value`, located through `json`: the document `value`
/// came from (or an earlier version of it with the same shape), in which `value` sits at
/// the pointer `base` (`""` for the whole document, `/2` for the third entity of an array).
pub fn validate(
    schema: Schema,
    value: &Value,
    json: &Json,
    base: &str,
    file: &Arc<SourceFile>,
) -> Vec<Problem> {
    let compiled = schema.compiled();
    if compiled.validator.is_valid(value) {
        return Vec::new();
    }
    let mut problems: Vec<Problem> = compiled
        .validator
        .iter_errors(value)
        .flat_map(|e| describe(&e, &compiled.raw, json, base, file))
        .collect();
    problems.sort_by_key(|p| p.span.map(|s| (s.start, s.end)));
    problems.dedup_by(|a, b| a.span == b.span && a.message == b.message);
    problems
}

/// One problem per violation; several for a set of unexpected keys.
fn describe(
    e: &ValidationError,
    schema: &Value,
    json: &Json,
    base: &str,
    file: &Arc<SourceFile>,
) -> Vec<Problem> {
    let relative = e.instance_path().as_str().to_string();
    let pointer = format!("{base}{relative}");
    // Names and schema lookups are relative to the validated value; spans to the file.
    let field = field_name(&relative);
    let hint = description(schema, &relative);
    let at = |p: &str| json.key_span(p).unwrap_or_else(|| json.nearest_span(p));
    let with_hint = |p: Problem| match &hint {
        Some(h) => p.with_help(h.clone()),
        None => p,
    };
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|key| {
                let child = crate::parse::json::child(&pointer, key);
                let allowed = allowed_keys(schema, &relative);
                let mut p = Problem::error(CODE, format!("unknown field `{key}` in {field}"))
                    .at(file, json.key_span(&child).unwrap_or_else(|| at(&pointer)))
                    .with_label("not allowed here");
                if let Some(s) = closest(key, allowed.iter().map(String::as_str)) {
                    p = p.with_help(format!("did you mean `{s}`?"));
                } else if !allowed.is_empty() {
                    p = p.with_help(format!("allowed here: {}", allowed.join(", ")));
                }
                p
            })
            .collect(),
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            let span = if relative.is_empty() {
                // The opening brace of the validated object.
                json.span(&pointer)
                    .map_or(Span::point(0), |s| Span::new(s.start, s.start + 1))
            } else {
                at(&pointer)
            };
            let mut p = Problem::error(CODE, format!("missing required field `{name}` in {field}"))
                .at(file, span)
                .with_label(format!("`{name}` is required here"));
            if let Some(h) = description(schema, &format!("{relative}/{name}")) {
                p = p.with_help(format!("`{name}`: {h}"));
            }
            vec![p]
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(ts) => {
                    let names: Vec<String> = (*ts).into_iter().map(|t| t.to_string()).collect();
                    names.join(" or ")
                }
            };
            let found = type_name(e.instance());
            vec![with_hint(
                Problem::error(CODE, format!("{field} must be {expected}, not {found}"))
                    .at(file, at_value(json, &pointer))
                    .with_label(format!("this is {found}")),
            )]
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(|o| o.to_string()).collect())
                .unwrap_or_default();
            vec![
                Problem::error(CODE, format!("{field} must be one of {}", options.join(", ")))
                    .at(file, at_value(json, &pointer))
                    .with_label(format!("{} is not allowed", shown(e.instance(), &pointer)))
                    .with_help(
                        hint.clone()
                            .unwrap_or_else(|| format!("use one of {}", options.join(", "))),
                    ),
            ]
        }
        ValidationErrorKind::Pattern { .. }
        | ValidationErrorKind::AnyOf { .. }
        | ValidationErrorKind::OneOfNotValid { .. } => {
            // The raw message would print a regular expression or a list of sub-schema
            // errors; the schema's description says the rule in words.
            vec![with_hint(
                Problem::error(
                    CODE,
                    format!("{field} has an invalid value {}", shown(e.instance(), &pointer)),
                )
                .at(file, at_value(json, &pointer))
                .with_label("not in the allowed form"),
            )]
        }
        _ => {
            let message = if looks_secret(&pointer) {
                format!("{field} is not valid")
            } else {
                format!("{field}: {e}")
            };
            vec![with_hint(
                Problem::error(CODE, message)
                    .at(file, at_value(json, &pointer))
                    .with_label("does not match the schema"),
            )]
        }
    }
}

fn at_value(json: &Json, pointer: &str) -> Span {
    json.span(pointer).unwrap_or_else(|| json.nearest_span(pointer))
}

/// `/docker/port` → "`docker.port`"; the root is "the document".
fn field_name(pointer: &str) -> String {
    if pointer.is_empty() {
        return "the document".into();
    }
    let path: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    format!("`{}`", path.join("."))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value for a message, unless it may be a secret.
fn shown(v: &Value, pointer: &str) -> String {
    if looks_secret(pointer) {
        "this value".into()
    } else {
        v.to_string()
    }
}

/// Whether the field at `pointer` holds a secret, whose value must never be echoed.
fn looks_secret(pointer: &str) -> bool {
    crate::model::looks_secret(pointer.rsplit('/').next().unwrap_or_default())
}

/// The schema node that describes the instance at `pointer`, following `properties`,
/// `items`, `additionalProperties`, local `$ref`s and the `else` of a shorthand (`if` a
/// string, `else` the object form). Best effort: `None` when the path goes through other
/// combinators.
fn schema_node<'a>(schema: &'a Value, pointer: &str) -> Option<&'a Value> {
    let resolve = |mut node: &'a Value| {
        // Local references only; bounded so a cyclic `$ref` cannot loop.
        for _ in 0..16 {
            match (node.get("$ref").and_then(Value::as_str), node.get("else")) {
                (Some(r), _) => node = schema.pointer(r.strip_prefix('#')?)?,
                (None, Some(object_form)) => node = object_form,
                (None, None) => return Some(node),
            }
        }
        None
    };
    let mut node = resolve(schema)?;
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        let next = node
            .get("properties")
            .and_then(|p| p.get(&seg))
            .or_else(|| node.get("items").filter(|_| seg.parse::<usize>().is_ok()))
            .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))?;
        node = resolve(next)?;
    }
    Some(node)
}

fn description(schema: &Value, pointer: &str) -> Option<String> {
    schema_node(schema, pointer)?
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn allowed_keys(schema: &Value, pointer: &str) -> Vec<String> {
    schema_node(schema, pointer)
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::json::parse;

    fn check(schema: Schema, text: &str) -> Vec<(String, String)> {
        let file = SourceFile::new("t.json", text);
        let json = parse(text).unwrap();
        validate(schema, &json.value, &json, "", &file)
            .into_iter()
            .map(|p| (text[p.span.unwrap().range()].to_string(), p.message))
            .collect()
    }

    #[test]
    fn schemas_compile() {
        for s in [Schema::Cumulocity, Schema::SesamMicroservice, Schema::Berth] {
            let _ = s.compiled();
        }
    }

    #[test]
    fn violations_point_at_values_and_keys() {
        let got = check(
            Schema::Cumulocity,
            r#"{"apiVersion": "2", "version": "1.0", "provider": {"name": "x"}, "replicas": "2"}"#,
        );
        assert_eq!(
            got,
            [
                ("\"1.0\"".to_string(), got[0].1.clone()),
                (
                    "\"2\"".to_string(),
                    "`replicas` must be integer, not a string".to_string()
                ),
            ]
        );
        assert!(got[0].1.starts_with("`version`"), "{got:?}");
    }

    #[test]
    fn unknown_keys_in_berth_yaml_suggest_the_right_one() {
        let text = r#"{"engine": {"hots": "unix:///x"}}"#;
        let file = SourceFile::new("berth.json", text);
        let json = parse(text).unwrap();
        let problems = validate(Schema::Berth, &json.value, &json, "", &file);
        assert_eq!(problems.len(), 1);
        assert_eq!(&text[problems[0].span.unwrap().range()], "\"hots\"");
        assert_eq!(problems[0].help.as_deref(), Some("did you mean `host`?"));
    }

    #[test]
    fn missing_fields_point_at_their_object() {
        let got = check(
            Schema::SesamMicroservice,
            r#"{"_id": "ms", "type": "system:microservice", "docker": {"image": "a:1"}}"#,
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].1, "missing required field `port` in `docker`");
        assert_eq!(got[0].0, "\"docker\"");
    }
}
