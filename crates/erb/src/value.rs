//! Runtime values of the Ruby subset, their Ruby-exact text forms (`to_s`, `inspect`,
//! `Float#to_s`), equality, ordering and hash keys, and the runtime error type.
//!
//! Values have value semantics: an Array or Hash is shared until it is changed, then
//! copied (`Rc::make_mut`). Mutating methods write their result back to the variable or
//! element they were called on, so `list << x` works; what differs from Ruby is only
//! mutation through a second name for the same object. Containers know their nesting
//! depth and refuse to nest deeper than `MAX_DEPTH`, so every recursive walk over a
//! value (inspect, ==, drop) is bounded.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::rc::Rc;

use super::codes;

/// How deeply Arrays and Hashes may nest inside one another.
pub(crate) const MAX_DEPTH: u32 = 64;

/// A Ruby value.
#[derive(Debug, Clone, Default)]
pub(crate) enum Value {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Rc<String>),
    Sym(Rc<str>),
    Array(Rc<Array>),
    Hash(Rc<Hash>),
    Range(Rc<RangeVal>),
    /// The `ENV` object.
    Env,
}

/// An Array's elements and nesting depth.
#[derive(Debug, Clone, Default)]
pub(crate) struct Array {
    items: Vec<Value>,
    depth: u32,
}

/// An insertion-ordered Hash with an index by key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hash {
    entries: Vec<(Value, Value)>,
    index: BTreeMap<Key, usize>,
    depth: u32,
}

/// `start..end` or `start...end`; `nil` ends are open (Ruby's beginless and endless ranges).
#[derive(Debug, Clone)]
pub(crate) struct RangeVal {
    pub start: Value,
    pub end: Value,
    pub exclusive: bool,
}

/// A raised Ruby exception (or a berth limit), before it gets a template span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exc {
    pub code: &'static str,
    pub message: String,
}

impl Exc {
    /// A Ruby exception: the message reads `Class: message`, as COSMOS reports it.
    pub(crate) fn ruby(class: &str, message: impl std::fmt::Display) -> Exc {
        Exc {
            code: codes::RUNTIME,
            message: format!("{class}: {message}"),
        }
    }

    pub(crate) fn type_error(message: impl std::fmt::Display) -> Exc {
        Exc::ruby("TypeError", message)
    }

    pub(crate) fn argument(message: impl std::fmt::Display) -> Exc {
        Exc::ruby("ArgumentError", message)
    }

    pub(crate) fn no_method(name: &str, recv: &Value) -> Exc {
        Exc::ruby(
            "NoMethodError",
            format!("undefined method '{name}' for {}", recv.describe()),
        )
    }

    /// `ArgumentError` for a call with the wrong number of arguments.
    pub(crate) fn arity(given: usize, expected: &str) -> Exc {
        Exc::argument(format!(
            "wrong number of arguments (given {given}, expected {expected})"
        ))
    }

    pub(crate) fn unsupported(what: impl std::fmt::Display) -> Exc {
        Exc {
            code: codes::UNSUPPORTED,
            message: format!("{what} is outside the Ruby subset berth evaluates"),
        }
    }

    pub(crate) fn limit(message: impl Into<String>) -> Exc {
        Exc {
            code: codes::LIMIT,
            message: message.into(),
        }
    }

    fn too_deep() -> Exc {
        Exc::limit(format!(
            "Arrays and Hashes nest more than {MAX_DEPTH} levels deep"
        ))
    }
}

/// A hash key: Ruby's `eql?` equality (`1` and `1.0` are different keys).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Nil,
    Bool(bool),
    Int(i64),
    Float(u64),
    Str(Rc<String>),
    Sym(Rc<str>),
    Array(Vec<Key>),
    Hash(Vec<(Key, Key)>),
    Range(Box<(Key, Key, bool)>),
    Env,
}

impl Key {
    /// The key of `v` (a walk bounded by `MAX_DEPTH`).
    pub(crate) fn of(v: &Value) -> Key {
        match v {
            Value::Nil => Key::Nil,
            Value::Bool(b) => Key::Bool(*b),
            Value::Int(i) => Key::Int(*i),
            // `0.0.eql?(-0.0)` is true in Ruby.
            Value::Float(f) => Key::Float(if *f == 0.0 { 0 } else { f.to_bits() }),
            Value::Str(s) => Key::Str(s.clone()),
            Value::Sym(s) => Key::Sym(s.clone()),
            Value::Array(a) => Key::Array(a.items.iter().map(Key::of).collect()),
            Value::Hash(h) => {
                let mut pairs: Vec<(Key, Key)> =
                    h.entries.iter().map(|(k, v)| (Key::of(k), Key::of(v))).collect();
                pairs.sort();
                Key::Hash(pairs)
            }
            Value::Range(r) => Key::Range(Box::new((Key::of(&r.start), Key::of(&r.end), r.exclusive))),
            Value::Env => Key::Env,
        }
    }
}

impl Array {
    pub(crate) fn items(&self) -> &[Value] {
        &self.items
    }

    /// Appends `v`, keeping the depth bound.
    pub(crate) fn push(&mut self, v: Value) -> Result<(), Exc> {
        self.depth = checked_depth(self.depth, &v)?;
        self.items.push(v);
        Ok(())
    }

    /// Replaces the elements with the result of `f`, rechecking the depth bound.
    pub(crate) fn modify<T>(&mut self, f: impl FnOnce(&mut Vec<Value>) -> T) -> Result<T, Exc> {
        let out = f(&mut self.items);
        self.depth = depth_of(&self.items)?;
        Ok(out)
    }
}

impl Hash {
    pub(crate) fn entries(&self) -> &[(Value, Value)] {
        &self.entries
    }

    pub(crate) fn get(&self, key: &Value) -> Option<&Value> {
        self.index.get(&Key::of(key)).map(|&i| &self.entries[i].1)
    }

    /// Sets `key` (a String key is copied, as Ruby dups and freezes it), keeping order.
    pub(crate) fn insert(&mut self, key: Value, value: Value) -> Result<(), Exc> {
        self.depth = checked_depth(checked_depth(self.depth, &key)?, &value)?;
        match self.index.get(&Key::of(&key)) {
            Some(&i) => self.entries[i].1 = value,
            None => {
                self.index.insert(Key::of(&key), self.entries.len());
                self.entries.push((key, value));
            }
        }
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub(crate) fn remove(&mut self, key: &Value) -> Option<Value> {
        let i = self.index.remove(&Key::of(key))?;
        let (_, v) = self.entries.remove(i);
        for slot in self.index.values_mut() {
            if *slot > i {
                *slot -= 1;
            }
        }
        Some(v)
    }
}

/// The depth of a container holding `v` next to elements of depth `current - 1`.
fn checked_depth(current: u32, v: &Value) -> Result<u32, Exc> {
    let d = current.max(v.depth() + 1);
    if d > MAX_DEPTH {
        Err(Exc::too_deep())
    } else {
        Ok(d)
    }
}

fn depth_of(items: &[Value]) -> Result<u32, Exc> {
    items.iter().try_fold(1, checked_depth)
}

impl Value {
    pub(crate) fn str(s: impl Into<String>) -> Value {
        Value::Str(Rc::new(s.into()))
    }

    pub(crate) fn sym(s: &str) -> Value {
        Value::Sym(Rc::from(s))
    }

    pub(crate) fn array(items: Vec<Value>) -> Result<Value, Exc> {
        let depth = depth_of(&items)?;
        Ok(Value::Array(Rc::new(Array { items, depth })))
    }

    pub(crate) fn hash(pairs: Vec<(Value, Value)>) -> Result<Value, Exc> {
        let mut h = Hash::default();
        for (k, v) in pairs {
            h.insert(k, v)?;
        }
        Ok(Value::Hash(Rc::new(h)))
    }

    /// A Range; like Ruby, only ends that can be compared with each other are allowed.
    pub(crate) fn range(start: Value, end: Value, exclusive: bool) -> Result<Value, Exc> {
        let ok = match (&start, &end) {
            (Value::Nil, Value::Nil) => true,
            (Value::Nil, v) | (v, Value::Nil) => matches!(v, Value::Int(_) | Value::Float(_) | Value::Str(_)),
            (a, b) => a.is_numeric() && b.is_numeric() || matches!((a, b), (Value::Str(_), Value::Str(_))),
        };
        if !ok {
            return Err(Exc::argument("bad value for range"));
        }
        Ok(Value::Range(Rc::new(RangeVal {
            start,
            end,
            exclusive,
        })))
    }

    pub(crate) fn is_numeric(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Float(_))
    }

    fn depth(&self) -> u32 {
        match self {
            Value::Array(a) => a.depth,
            Value::Hash(h) => h.depth,
            _ => 0,
        }
    }

    pub(crate) fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    /// Ruby's class name.
    pub(crate) fn class_name(&self) -> &'static str {
        match self {
            Value::Nil => "NilClass",
            Value::Bool(true) => "TrueClass",
            Value::Bool(false) => "FalseClass",
            Value::Int(_) => "Integer",
            Value::Float(_) => "Float",
            Value::Str(_) => "String",
            Value::Sym(_) => "Symbol",
            Value::Array(_) => "Array",
            Value::Hash(_) => "Hash",
            Value::Range(_) => "Range",
            Value::Env => "Object",
        }
    }

    /// How Ruby 3.4 names the receiver in a NoMethodError: `nil`, `an instance of String`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Nil => "nil".to_string(),
            Value::Bool(b) => b.to_string(),
            v => format!("an instance of {}", v.class_name()),
        }
    }

    /// How Ruby names a value in TypeErrors (`nil`, `true`, or the class).
    pub(crate) fn type_label(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(true) => "true",
            Value::Bool(false) => "false",
            v => v.class_name(),
        }
    }

    /// `to_s`.
    pub(crate) fn to_s(&self) -> String {
        match self {
            Value::Nil => String::new(),
            Value::Str(s) => s.as_str().to_string(),
            Value::Sym(s) => s.to_string(),
            Value::Range(r) => format!("{}{}{}", r.start.to_s(), r.dots(), r.end.to_s()),
            Value::Env => "ENV".to_string(),
            v => v.inspect(),
        }
    }

    /// `inspect`.
    pub(crate) fn inspect(&self) -> String {
        let mut out = String::new();
        self.write_inspect(&mut out);
        out
    }

    fn write_inspect(&self, out: &mut String) {
        match self {
            Value::Nil => out.push_str("nil"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&float_to_s(*f)),
            Value::Str(s) => inspect_str(s, out),
            Value::Sym(s) => out.push_str(&inspect_sym(s)),
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write_inspect(out);
                }
                out.push(']');
            }
            Value::Hash(h) => {
                out.push('{');
                for (i, (k, v)) in h.entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    // Ruby 3.4: `{name: 1, "odd key": 2, "str" => 3}`.
                    match k {
                        Value::Sym(s) if is_label(s) => {
                            out.push_str(s);
                            out.push_str(": ");
                        }
                        Value::Sym(s) => {
                            inspect_str(s, out);
                            out.push_str(": ");
                        }
                        k => {
                            k.write_inspect(out);
                            out.push_str(" => ");
                        }
                    }
                    v.write_inspect(out);
                }
                out.push('}');
            }
            Value::Range(r) => {
                if !matches!(r.start, Value::Nil) || matches!(r.end, Value::Nil) {
                    r.start.write_inspect(out);
                }
                out.push_str(r.dots());
                if !matches!(r.end, Value::Nil) {
                    r.end.write_inspect(out);
                }
            }
            Value::Env => out.push_str("ENV"),
        }
    }

    /// `==`.
    pub(crate) fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) | (Value::Env, Value::Env) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(a), Value::Float(b)) | (Value::Float(b), Value::Int(a)) => {
                int_float_cmp(*a, *b) == Some(Ordering::Equal)
            }
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Sym(a), Value::Sym(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => {
                a.items.len() == b.items.len() && a.items.iter().zip(&b.items).all(|(x, y)| x.equals(y))
            }
            (Value::Hash(a), Value::Hash(b)) => {
                a.entries.len() == b.entries.len()
                    && a.entries
                        .iter()
                        .all(|(k, v)| b.get(k).is_some_and(|w| v.equals(w)))
            }
            (Value::Range(a), Value::Range(b)) => {
                a.exclusive == b.exclusive && a.start.eql(&b.start) && a.end.eql(&b.end)
            }
            _ => false,
        }
    }

    /// `eql?`: equality without numeric conversion.
    pub(crate) fn eql(&self, other: &Value) -> bool {
        Key::of(self) == Key::of(other)
    }

    /// `<=>`, or `None` where Ruby returns nil.
    pub(crate) fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
            (Value::Int(a), Value::Float(b)) => int_float_cmp(*a, *b),
            (Value::Float(a), Value::Int(b)) => int_float_cmp(*b, *a).map(Ordering::reverse),
            (Value::Str(a), Value::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::Sym(a), Value::Sym(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::Array(a), Value::Array(b)) => {
                for (x, y) in a.items.iter().zip(&b.items) {
                    match x.compare(y)? {
                        Ordering::Equal => {}
                        o => return Some(o),
                    }
                }
                Some(a.items.len().cmp(&b.items.len()))
            }
            (a, b) if a.equals(b) => Some(Ordering::Equal),
            _ => None,
        }
    }

    /// `<=>` for sorting and `<`: an ArgumentError where Ruby raises one.
    pub(crate) fn compare_or_fail(&self, other: &Value) -> Result<Ordering, Exc> {
        self.compare(other).ok_or_else(|| {
            let other_label = match other {
                Value::Nil | Value::Bool(_) => other.inspect(),
                v => v.class_name().to_string(),
            };
            Exc::argument(format!(
                "comparison of {} with {other_label} failed",
                self.class_name()
            ))
        })
    }
}

impl RangeVal {
    pub(crate) fn dots(&self) -> &'static str {
        if self.exclusive { "..." } else { ".." }
    }
}

/// Compares an Integer with a Float exactly (no rounding of large integers).
fn int_float_cmp(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 9.223_372_036_854_776e18 {
        return Some(Ordering::Less);
    }
    if f < -9.223_372_036_854_776e18 {
        return Some(Ordering::Greater);
    }
    let t = f.trunc();
    match i.cmp(&(t as i64)) {
        Ordering::Equal => 0.0.partial_cmp(&(f - t)),
        o => Some(o),
    }
}

/// Ruby's `Float#to_s`: the shortest digits that read back as the same Float, in fixed
/// notation when the decimal exponent is in -4..16, else as `1.0e+20`.
pub(crate) fn float_to_s(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let sign = if f.is_sign_negative() { "-" } else { "" };
    if f == 0.0 {
        return format!("{sign}0.0");
    }
    // Rust's `{:e}` prints the shortest round-trip digits, as Ruby's dtoa mode 0 does.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let decpt = exp.parse::<i32>().unwrap_or(0) + 1;
    let n = digits.len() as i32;
    let body = if 0 < decpt && decpt <= 16 {
        if n <= decpt {
            format!("{digits}{}.0", "0".repeat((decpt - n) as usize))
        } else {
            format!("{}.{}", &digits[..decpt as usize], &digits[decpt as usize..])
        }
    } else if -4 < decpt && decpt <= 0 {
        format!("0.{}{digits}", "0".repeat((-decpt) as usize))
    } else {
        let rest = if n > 1 { &digits[1..] } else { "0" };
        format!("{}.{rest}e{:+03}", &digits[..1], decpt - 1)
    };
    format!("{sign}{body}")
}

/// Ruby's `String#inspect` for a UTF-8 string.
pub(crate) fn inspect_str(s: &str, out: &mut String) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\x1b' => out.push_str("\\e"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A Symbol that Ruby prints bare (`:name`, `name:`): an identifier, maybe ending in `?`
/// or `!`, or a setter.
fn is_simple_symbol(s: &str) -> bool {
    let body = s.strip_suffix(['?', '!', '=']).unwrap_or(s);
    let mut chars = body.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || !c.is_ascii())
        && chars.all(|c| c.is_alphanumeric() || c == '_' || !c.is_ascii())
}

/// A Symbol Ruby 3.4 writes as a bare Hash label (`name: 1`): not a setter or operator.
fn is_label(s: &str) -> bool {
    is_simple_symbol(s) && !s.ends_with('=')
}

fn inspect_sym(s: &str) -> String {
    #[rustfmt::skip]
    const OPERATORS: &[&str] = &[
        "[]", "[]=", "<=>", "==", "===", "=~", "!=", "!~", "**", "<<", ">>", "<=", ">=", "+@", "-@", "+",
        "-", "*", "/", "%", "<", ">", "!", "~", "^", "&", "|",
    ];
    if is_simple_symbol(s) || OPERATORS.contains(&s) {
        format!(":{s}")
    } else {
        let mut out = String::from(":");
        inspect_str(s, &mut out);
        out
    }
}

/// `pattern === value`, as `case`/`when` uses it.
pub(crate) fn case_equal(pattern: &Value, v: &Value) -> bool {
    match pattern {
        Value::Range(r) => range_covers(r, v),
        p => p.equals(v),
    }
}

/// `range.cover?(v)`.
pub(crate) fn range_covers(r: &RangeVal, v: &Value) -> bool {
    let above_start = match &r.start {
        Value::Nil => true,
        s => matches!(s.compare(v), Some(Ordering::Less | Ordering::Equal)),
    };
    let below_end = match &r.end {
        Value::Nil => true,
        e => match v.compare(e) {
            Some(Ordering::Less) => true,
            Some(Ordering::Equal) => !r.exclusive,
            _ => false,
        },
    };
    above_start && below_end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_to_s_matches_ruby() {
        let cases = [
            (7200.0, "7200.0"),
            (0.5, "0.5"),
            (1.0e20, "1.0e+20"),
            (1.0e-5, "1.0e-05"),
            (0.0001, "0.0001"),
            (1.0e15, "1000000000000000.0"),
            (1.0e16, "1.0e+16"),
            (123456789.123, "123456789.123"),
            (-0.0, "-0.0"),
            (1.0 / 3.0, "0.3333333333333333"),
            (2.5e-300, "2.5e-300"),
            (f64::INFINITY, "Infinity"),
        ];
        for (f, s) in cases {
            assert_eq!(float_to_s(f), s, "{f:?}");
        }
    }

    #[test]
    fn inspect_forms() {
        let v = Value::array(vec![
            Value::Nil,
            Value::str("a\"#{b}\n"),
            Value::sym("x y"),
            Value::Int(1),
        ])
        .unwrap();
        assert_eq!(v.inspect(), r#"[nil, "a\"\#{b}\n", :"x y", 1]"#);
        let h = Value::hash(vec![
            (Value::sym("a"), Value::Int(1)),
            (Value::str("b"), Value::Float(2.0)),
        ])
        .unwrap();
        assert_eq!(h.inspect(), r#"{a: 1, "b" => 2.0}"#);
        let r = Value::range(Value::Int(1), Value::Nil, false).unwrap();
        assert_eq!((r.inspect(), r.to_s()), ("1..".to_string(), "1..".to_string()));
    }

    #[test]
    fn equality_and_order() {
        assert!(Value::Int(1).equals(&Value::Float(1.0)));
        assert!(!Value::Int(1).eql(&Value::Float(1.0)));
        assert_eq!(Value::Int(2).compare(&Value::Float(1.5)), Some(Ordering::Greater));
        assert_eq!(Value::str("a").compare(&Value::Int(1)), None);
        assert!(
            Value::str("a")
                .compare_or_fail(&Value::Int(1))
                .unwrap_err()
                .message
                .contains("comparison of String with Integer failed")
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut v = Value::Nil;
        for _ in 0..MAX_DEPTH {
            v = Value::array(vec![v]).unwrap();
        }
        assert_eq!(Value::array(vec![v]).unwrap_err().code, codes::LIMIT);
    }

    #[test]
    fn hash_keys_use_eql() {
        let Value::Hash(mut h) = Value::hash(vec![(Value::Int(1), Value::str("int"))]).unwrap() else {
            unreachable!()
        };
        let h = Rc::make_mut(&mut h);
        h.insert(Value::Float(1.0), Value::str("float")).unwrap();
        assert_eq!(h.entries().len(), 2);
        assert_eq!(
            h.remove(&Value::Int(1)).map(|v| v.to_s()),
            Some("int".to_string())
        );
        assert_eq!(
            h.get(&Value::Float(1.0)).map(Value::to_s),
            Some("float".to_string())
        );
    }
}
