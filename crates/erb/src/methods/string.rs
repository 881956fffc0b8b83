//! String and Symbol methods. Indexes and lengths count characters, as Ruby's do for
//! UTF-8 strings; patterns (`gsub`, `split`, `tr`...) are plain strings, since regular
//! expressions are outside the subset.

use std::rc::Rc;

use super::numeric::{str_to_f, str_to_i};
use super::{Found, arity, int_arg, need_block, sprintf, str_arg};
use crate::eval::Interp;
use crate::flow::{BlockVal, R};
use crate::value::{Exc, Value};

/// Bang methods: `name!` changes the receiver and returns it, or nil if nothing changed
/// (except `reverse!` and `succ!`, which always return it).
#[rustfmt::skip]
const BANGS: &[&str] = &[
    "strip", "lstrip", "rstrip", "chomp", "chop", "upcase", "downcase", "capitalize", "swapcase", "squeeze",
    "gsub", "sub", "tr", "delete", "reverse", "succ", "next", "delete_prefix", "delete_suffix",
];

/// Ruby's whitespace for `strip` and `split`: ASCII blanks and NUL.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r' | '\0')
}

impl Interp<'_> {
    pub(crate) fn string_method(
        &mut self,
        recv: &mut Value,
        name: &str,
        args: &[Value],
        blk: Option<BlockVal<'_>>,
    ) -> Found {
        let Value::Str(s) = recv else { return Ok(None) };
        if let Some(base) = name.strip_suffix('!') {
            if !BANGS.contains(&base) {
                return Ok(None);
            }
            let Some(new) = self.string_method(&mut recv.clone(), base, args, blk)? else {
                return Ok(None);
            };
            let changed = !new.equals(recv);
            *recv = new;
            let always = matches!(base, "reverse" | "succ" | "next");
            return Ok(Some(if changed || always {
                recv.clone()
            } else {
                Value::Nil
            }));
        }
        let v = match name {
            "<<" | "concat" | "prepend" | "insert" | "replace" | "clear" | "[]=" => {
                self.string_mutate(Rc::make_mut(s), name, args)?;
                recv.clone()
            }
            "each_char" | "each_line" => {
                let parts = if name == "each_char" { chars(s) } else { lines(s) };
                let Some(b) = blk else {
                    return Ok(Some(Value::array(parts.into_iter().map(Value::str).collect())?));
                };
                for part in parts {
                    self.yield_block(b, vec![Value::str(part)])?;
                }
                recv.clone()
            }
            "gsub" | "sub" => self.substitute(s, name == "gsub", args, blk)?,
            _ => {
                let s = s.clone();
                return Ok(self.string_query(&s, name, args)?);
            }
        };
        Ok(Some(v))
    }

    /// Methods that change the String in place.
    fn string_mutate(&mut self, s: &mut String, name: &str, args: &[Value]) -> Result<(), Exc> {
        match name {
            "<<" | "concat" => {
                for a in args {
                    match a {
                        Value::Int(c) => s.push(
                            u32::try_from(*c)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| Exc::ruby("RangeError", format!("{c} out of char range")))?,
                        ),
                        a => s.push_str(str_arg(a)?),
                    }
                }
            }
            "prepend" => {
                let prefix: String = args.iter().map(str_arg).collect::<Result<_, _>>()?;
                s.insert_str(0, &prefix);
            }
            "insert" => {
                arity(args, 2, 2)?;
                let n = s.chars().count() as i64;
                let i = int_arg(&args[0])?;
                let at = if i < 0 { n + i + 1 } else { i };
                if !(0..=n).contains(&at) {
                    return Err(Exc::ruby("IndexError", format!("index {i} out of string")));
                }
                let byte = char_to_byte(s, at as usize);
                s.insert_str(byte, str_arg(&args[1])?);
            }
            "replace" => {
                arity(args, 1, 1)?;
                *s = str_arg(&args[0])?.to_string();
            }
            "clear" => s.clear(),
            _ => {
                // `[]=`: the last argument replaces what the others select.
                arity(args, 2, 3)?;
                let (sel, value) = args.split_at(args.len() - 1);
                let value = str_arg(&value[0])?;
                let range = match sel {
                    [Value::Str(t)] => match s.find(t.as_str()) {
                        Some(b) => b..b + t.len(),
                        None => return Err(Exc::ruby("IndexError", "string not matched")),
                    },
                    sel => {
                        let n = s.chars().count();
                        let (start, len) = select_range(sel, n)?
                            .ok_or_else(|| Exc::ruby("IndexError", "index out of string"))?;
                        char_to_byte(s, start)..char_to_byte(s, start + len)
                    }
                };
                s.replace_range(range, value);
            }
        }
        self.check_size(s.len())
    }

    /// Methods that only read the String.
    fn string_query(&mut self, s: &str, name: &str, args: &[Value]) -> Result<Option<Value>, Exc> {
        let expect = |min, max| arity(args, min, max);
        let v = match name {
            "+" => {
                expect(1, 1)?;
                let t = str_arg(&args[0])?;
                self.check_size(s.len() + t.len())?;
                Value::str(format!("{s}{t}"))
            }
            "*" => {
                expect(1, 1)?;
                let times =
                    usize::try_from(int_arg(&args[0])?).map_err(|_| Exc::argument("negative argument"))?;
                self.check_size(s.len().saturating_mul(times))?;
                Value::str(s.repeat(times))
            }
            "%" => {
                expect(1, 1)?;
                Value::str(match &args[0] {
                    Value::Array(a) => sprintf(s, a.items())?,
                    v => sprintf(s, std::slice::from_ref(v))?,
                })
            }
            "[]" | "slice" => index(s, args)?,
            "length" | "size" => Value::Int(s.chars().count() as i64),
            "bytesize" => Value::Int(s.len() as i64),
            "to_s" | "to_str" | "+@" | "-@" => Value::str(s),
            "to_i" => {
                expect(0, 1)?;
                let base = args.first().map_or(Ok(10), int_arg)?;
                if !(2..=36).contains(&base) {
                    return Err(Exc::argument(format!("invalid radix {base}")));
                }
                Value::Int(str_to_i(s, base as u32)?)
            }
            "hex" => Value::Int(str_to_i(s, 16)?),
            "oct" => Value::Int(str_to_i(s, 8)?),
            "to_f" => Value::Float(str_to_f(s)),
            "to_sym" | "intern" => Value::sym(s),
            "strip" => Value::str(s.trim_matches(is_blank)),
            "lstrip" => Value::str(s.trim_start_matches(is_blank)),
            "rstrip" => Value::str(s.trim_end_matches(is_blank)),
            "chomp" => {
                expect(0, 1)?;
                Value::str(chomp(s, args.first())?)
            }
            "chop" => Value::str(
                s.strip_suffix("\r\n")
                    .unwrap_or_else(|| s.char_indices().last().map_or("", |(i, _)| &s[..i])),
            ),
            "chars" => Value::array(chars(s).into_iter().map(Value::str).collect())?,
            "lines" => Value::array(lines(s).into_iter().map(Value::str).collect())?,
            "bytes" => Value::array(s.bytes().map(|b| Value::Int(i64::from(b))).collect())?,
            "upcase" => Value::str(s.to_uppercase()),
            "downcase" => Value::str(s.to_lowercase()),
            "capitalize" => Value::str(capitalize(s)),
            "swapcase" => Value::str(swapcase(s)),
            "start_with?" | "end_with?" => {
                let affixes = args.iter().map(str_arg).collect::<Result<Vec<_>, _>>()?;
                let start = name == "start_with?";
                Value::Bool(
                    affixes
                        .iter()
                        .any(|a| if start { s.starts_with(a) } else { s.ends_with(a) }),
                )
            }
            "include?" => {
                expect(1, 1)?;
                Value::Bool(s.contains(str_arg(&args[0])?))
            }
            "index" | "rindex" => {
                expect(1, 2)?;
                find_index(s, name == "rindex", args)?
            }
            "tr" => {
                expect(2, 2)?;
                Value::str(translate(s, str_arg(&args[0])?, str_arg(&args[1])?))
            }
            "delete" | "count" | "squeeze" => {
                let sets = char_sets(args)?;
                if name != "squeeze" && sets.is_empty() {
                    return Err(Exc::arity(0, "1+"));
                }
                let in_sets = |c: char| sets.iter().all(|set| set.contains(c));
                match name {
                    "delete" => Value::str(s.chars().filter(|c| !in_sets(*c)).collect::<String>()),
                    "count" => Value::Int(s.chars().filter(|c| in_sets(*c)).count() as i64),
                    _ => Value::str(squeeze(s, in_sets)),
                }
            }
            "split" => {
                expect(0, 2)?;
                split(s, args)?
            }
            "center" | "ljust" | "rjust" => {
                expect(1, 2)?;
                let width = usize::try_from(int_arg(&args[0])?).unwrap_or(0);
                let pad = args.get(1).map_or(Ok(" "), str_arg)?;
                if pad.is_empty() {
                    return Err(Exc::argument("zero width padding"));
                }
                self.check_size(width.saturating_mul(pad.len()))?;
                Value::str(justify(s, name, width, pad))
            }
            "reverse" => Value::str(s.chars().rev().collect::<String>()),
            "empty?" => Value::Bool(s.is_empty()),
            "ord" => Value::Int(i64::from(u32::from(
                s.chars().next().ok_or_else(|| Exc::argument("empty string"))?,
            ))),
            "chr" => Value::str(s.chars().next().map(String::from).unwrap_or_default()),
            "succ" | "next" => Value::str(successor(s)?),
            "casecmp" | "casecmp?" => {
                expect(1, 1)?;
                let other = str_arg(&args[0])?;
                if name == "casecmp" {
                    super::ordering(
                        s.to_ascii_lowercase()
                            .as_bytes()
                            .cmp(other.to_ascii_lowercase().as_bytes()),
                    )
                } else {
                    Value::Bool(s.to_lowercase() == other.to_lowercase())
                }
            }
            "delete_prefix" | "delete_suffix" => {
                expect(1, 1)?;
                let affix = str_arg(&args[0])?;
                let rest = if name == "delete_prefix" {
                    s.strip_prefix(affix)
                } else {
                    s.strip_suffix(affix)
                };
                Value::str(rest.unwrap_or(s))
            }
            "partition" | "rpartition" => {
                expect(1, 1)?;
                let sep = str_arg(&args[0])?;
                let found = if name == "partition" {
                    s.find(sep)
                } else {
                    s.rfind(sep)
                };
                let parts = match (found, name) {
                    (Some(i), _) => [&s[..i], sep, &s[i + sep.len()..]],
                    (None, "partition") => [s, "", ""],
                    (None, _) => ["", "", s],
                };
                Value::array(parts.iter().map(|p| Value::str(*p)).collect())?
            }
            "ascii_only?" => Value::Bool(s.is_ascii()),
            "valid_encoding?" => Value::Bool(true),
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    /// `gsub`/`sub` with a String pattern and a replacement String, Hash or block.
    fn substitute(&mut self, s: &str, global: bool, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        arity(args, 1, 2)?;
        let pattern = match &args[0] {
            Value::Str(p) => p.as_str(),
            v => {
                return Err(Exc::type_error(format!(
                    "wrong argument type {} (expected Regexp)",
                    v.class_name()
                ))
                .into());
            }
        };
        let matches = match_positions(s, pattern, global);
        let mut out = String::with_capacity(s.len());
        let mut last = 0;
        for at in matches {
            out.push_str(&s[last..at]);
            let end = at + pattern.len();
            let replacement = match (args.get(1), blk) {
                (Some(Value::Str(r)), _) => expand_replacement(r, pattern, &s[..at], &s[end..]),
                (Some(Value::Hash(h)), _) => h.get(&Value::str(pattern)).map(Value::to_s).unwrap_or_default(),
                (Some(v), _) => {
                    return Err(Exc::type_error(format!(
                        "no implicit conversion of {} into String",
                        v.type_label()
                    ))
                    .into());
                }
                (None, b) => self
                    .yield_block(need_block(b)?, vec![Value::str(pattern)])?
                    .to_s(),
            };
            out.push_str(&replacement);
            self.check_size(out.len())?;
            last = end;
        }
        out.push_str(&s[last..]);
        Ok(Value::str(out))
    }

    /// Symbol methods: most are the String method on the name.
    pub(crate) fn symbol_method(&mut self, recv: &mut Value, name: &str, args: &[Value]) -> Found {
        let Value::Sym(s) = recv else { return Ok(None) };
        let s = s.to_string();
        let v = match name {
            "to_s" | "id2name" | "name" => Value::str(s),
            "to_sym" => recv.clone(),
            "to_proc" => return Err(Exc::unsupported("`Symbol#to_proc` outside a `&:name` argument").into()),
            "upcase" | "downcase" | "capitalize" | "swapcase" | "succ" | "next" => self
                .string_query(&s, name, args)?
                .map_or(Value::Nil, |v| Value::sym(&v.to_s())),
            "length" | "size" | "[]" | "slice" | "start_with?" | "end_with?" | "empty?" => {
                return Ok(self.string_query(&s, name, args)?);
            }
            _ => return Ok(None),
        };
        Ok(Some(v))
    }
}

fn chars(s: &str) -> Vec<String> {
    s.chars().map(String::from).collect()
}

/// Lines with their terminators, as `String#lines` gives them.
fn lines(s: &str) -> Vec<String> {
    s.split_inclusive('\n').map(str::to_string).collect()
}

fn swapcase(s: &str) -> String {
    s.chars()
        .flat_map(|c| -> Vec<char> {
            if c.is_uppercase() {
                c.to_lowercase().collect()
            } else {
                c.to_uppercase().collect()
            }
        })
        .collect()
}

/// Runs of the same character collapsed to one, for the characters `squeeze` may touch.
fn squeeze(s: &str, in_sets: impl Fn(char) -> bool) -> String {
    let mut out = String::new();
    let mut last = None;
    for c in s.chars() {
        if last == Some(c) && in_sets(c) {
            continue;
        }
        out.push(c);
        last = Some(c);
    }
    out
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// The byte offset of character `n` (or the end).
fn char_to_byte(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(b, _)| b)
}

/// Ruby's selection by `[index]`, `[start, length]` or `[range]` over `len` elements:
/// the start and length, or `None` where Ruby answers nil. A single index selects one.
pub(crate) fn select_range(sel: &[Value], len: usize) -> Result<Option<(usize, usize)>, Exc> {
    let len = len as i64;
    let (start, count) = match sel {
        [Value::Range(r)] => {
            let start = match &r.start {
                Value::Nil => 0,
                v => int_arg(v)?,
            };
            let (mut end, exclusive) = match &r.end {
                Value::Nil => (len, true),
                v => (int_arg(v)?, r.exclusive),
            };
            let start = if start < 0 { start + len } else { start };
            if start < 0 || start > len {
                return Ok(None);
            }
            if end < 0 {
                end += len;
            }
            if !exclusive {
                end += 1;
            }
            (start, end.min(len) - start)
        }
        [start, count] => {
            let (start, count) = (int_arg(start)?, int_arg(count)?);
            let start = if start < 0 { start + len } else { start };
            if start < 0 || start > len || count < 0 {
                return Ok(None);
            }
            (start, count)
        }
        [i] => {
            let i = int_arg(i)?;
            let i = if i < 0 { i + len } else { i };
            if i < 0 || i >= len {
                return Ok(None);
            }
            (i, 1)
        }
        _ => return Err(Exc::arity(sel.len(), "1..2")),
    };
    let count = count.clamp(0, len - start);
    Ok(Some((start as usize, count as usize)))
}

/// `str[...]`.
fn index(s: &str, args: &[Value]) -> Result<Value, Exc> {
    if let [Value::Str(t)] = args {
        return Ok(if s.contains(t.as_str()) {
            Value::Str(t.clone())
        } else {
            Value::Nil
        });
    }
    let n = s.chars().count();
    Ok(match select_range(args, n)? {
        Some((start, count)) => Value::str(s.chars().skip(start).take(count).collect::<String>()),
        None => Value::Nil,
    })
}

fn find_index(s: &str, reverse: bool, args: &[Value]) -> Result<Value, Exc> {
    let needle = str_arg(&args[0])?;
    let n = s.chars().count() as i64;
    let from = match args.get(1) {
        Some(v) => {
            let i = int_arg(v)?;
            let i = if i < 0 { i + n } else { i };
            if i < 0 || i > n {
                return Ok(Value::Nil);
            }
            Some(i as usize)
        }
        None => None,
    };
    let found = if reverse {
        let limit = from.map_or(s.len(), |i| (char_to_byte(s, i) + needle.len()).min(s.len()));
        let limit = (0..=limit).rev().find(|&b| s.is_char_boundary(b)).unwrap_or(0);
        s[..limit].rfind(needle)
    } else {
        let start = from.map_or(0, |i| char_to_byte(s, i));
        s[start..].find(needle).map(|b| b + start)
    };
    Ok(found.map_or(Value::Nil, |b| Value::Int(s[..b].chars().count() as i64)))
}

fn chomp<'s>(s: &'s str, sep: Option<&Value>) -> Result<&'s str, Exc> {
    Ok(match sep {
        None => s
            .strip_suffix("\r\n")
            .or_else(|| s.strip_suffix('\n'))
            .or_else(|| s.strip_suffix('\r'))
            .unwrap_or(s),
        Some(Value::Nil) => s,
        Some(v) => {
            let sep = str_arg(v)?;
            if sep.is_empty() {
                let mut t = s;
                while let Some(u) = t.strip_suffix("\r\n").or_else(|| t.strip_suffix('\n')) {
                    t = u;
                }
                t
            } else {
                s.strip_suffix(sep).unwrap_or(s)
            }
        }
    })
}

fn justify(s: &str, how: &str, width: usize, pad: &str) -> String {
    let n = s.chars().count();
    if width <= n {
        return s.to_string();
    }
    let total = width - n;
    let (left, right) = match how {
        "ljust" => (0, total),
        "rjust" => (total, 0),
        _ => (total / 2, total - total / 2),
    };
    let fill = |k: usize| pad.chars().cycle().take(k).collect::<String>();
    format!("{}{s}{}", fill(left), fill(right))
}

/// Byte offsets where `pattern` matches (an empty pattern matches between characters).
fn match_positions(s: &str, pattern: &str, global: bool) -> Vec<usize> {
    let mut out = Vec::new();
    if pattern.is_empty() {
        for (b, _) in s.char_indices().chain(std::iter::once((s.len(), ' '))) {
            out.push(b);
            if !global {
                break;
            }
        }
        return out;
    }
    let mut from = 0;
    while let Some(i) = s[from..].find(pattern) {
        out.push(from + i);
        from += i + pattern.len();
        if !global {
            break;
        }
    }
    out
}

/// The replacement text of `gsub`/`sub`: `\0` and `\&` are the match, `\\` a backslash,
/// `` \` `` and `\'` the text before and after; group references are empty.
fn expand_replacement(r: &str, matched: &str, pre: &str, post: &str) -> String {
    let mut out = String::new();
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('0' | '&') => out.push_str(matched),
            Some('`') => out.push_str(pre),
            Some('\'') => out.push_str(post),
            Some('\\') => out.push('\\'),
            Some('1'..='9') => {}
            Some('k') => {
                // `\k<name>`: named groups cannot exist without a Regexp.
                chars.next();
                if chars.peek() == Some(&'<') {
                    for c in chars.by_ref() {
                        if c == '>' {
                            break;
                        }
                    }
                    continue;
                }
                out.push_str("\\k");
                continue;
            }
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => {
                out.push('\\');
                continue;
            }
        }
        chars.next();
    }
    out
}

/// A `tr`-style character set: `a-z` ranges, `^` negation, `\` escapes.
struct CharSet {
    negated: bool,
    chars: Vec<char>,
}

impl CharSet {
    fn parse(spec: &str) -> CharSet {
        let mut raw: Vec<char> = spec.chars().collect();
        let negated = raw.len() > 1 && raw[0] == '^';
        if negated {
            raw.remove(0);
        }
        let mut chars = Vec::new();
        let mut i = 0;
        while i < raw.len() {
            let c = if raw[i] == '\\' && i + 1 < raw.len() {
                i += 1;
                raw[i]
            } else {
                raw[i]
            };
            if i + 2 < raw.len() && raw[i + 1] == '-' && raw[i] != '\\' {
                let end = raw[i + 2];
                if c <= end {
                    chars.extend((c..=end).take(0x11_0000));
                }
                i += 3;
            } else {
                chars.push(c);
                i += 1;
            }
        }
        CharSet { negated, chars }
    }

    fn contains(&self, c: char) -> bool {
        self.chars.contains(&c) != self.negated
    }
}

fn char_sets(args: &[Value]) -> Result<Vec<CharSet>, Exc> {
    args.iter().map(|a| str_arg(a).map(CharSet::parse)).collect()
}

fn translate(s: &str, from: &str, to: &str) -> String {
    let from = CharSet::parse(from);
    let to = CharSet::parse(to).chars;
    s.chars()
        .filter_map(|c| {
            if from.negated {
                return Some(if from.contains(c) { to.last().copied()? } else { c });
            }
            match from.chars.iter().rposition(|&f| f == c) {
                Some(k) => to.get(k).or(to.last()).copied(),
                None => Some(c),
            }
        })
        .collect()
}

/// `split`, with Ruby's awk-style default and its `limit` rules.
fn split(s: &str, args: &[Value]) -> Result<Value, Exc> {
    let limit = args.get(1).map_or(Ok(0), int_arg)?;
    let sep = match args.first() {
        None | Some(Value::Nil) => None,
        Some(v) => Some(str_arg(v)?),
    };
    let mut fields: Vec<String> = Vec::new();
    let max = usize::try_from(limit).ok().filter(|&l| l > 0);
    let full = |fields: &Vec<String>| max.is_some_and(|m| fields.len() + 1 >= m);
    match sep {
        None | Some(" ") => {
            let mut rest = s.trim_start_matches(is_blank);
            while !rest.is_empty() {
                if full(&fields) {
                    fields.push(rest.to_string());
                    break;
                }
                let end = rest.find(is_blank).unwrap_or(rest.len());
                fields.push(rest[..end].to_string());
                let after = &rest[end..];
                rest = after.trim_start_matches(is_blank);
                if rest.is_empty() && !after.is_empty() && limit < 0 {
                    fields.push(String::new());
                }
            }
        }
        Some("") => {
            for (b, c) in s.char_indices() {
                if full(&fields) {
                    fields.push(s[b..].to_string());
                    break;
                }
                fields.push(c.to_string());
            }
        }
        Some(sep) => {
            let mut rest = s;
            loop {
                if full(&fields) {
                    fields.push(rest.to_string());
                    break;
                }
                match rest.find(sep) {
                    Some(i) => {
                        fields.push(rest[..i].to_string());
                        rest = &rest[i + sep.len()..];
                    }
                    None => {
                        fields.push(rest.to_string());
                        break;
                    }
                }
            }
        }
    }
    if s.is_empty() {
        fields.clear();
    }
    if limit == 0 {
        while fields.last().is_some_and(String::is_empty) {
            fields.pop();
        }
    }
    Value::array(fields.into_iter().map(Value::str).collect())
}

/// `String#succ` for strings with letters or digits: increments the rightmost one,
/// carrying leftwards over other letters and digits ("az" → "ba", "zz" → "aaa").
fn successor(s: &str) -> Result<String, Exc> {
    let mut chars: Vec<char> = s.chars().collect();
    let Some(mut i) = chars.iter().rposition(char::is_ascii_alphanumeric) else {
        return Err(Exc::unsupported("`succ` of a String without letters or digits"));
    };
    loop {
        let (next, carry) = match chars[i] {
            'z' => ('a', Some('a')),
            'Z' => ('A', Some('A')),
            '9' => ('0', Some('1')),
            c => (char::from_u32(u32::from(c) + 1).unwrap_or(c), None),
        };
        chars[i] = next;
        let Some(first) = carry else { break };
        match chars[..i].iter().rposition(char::is_ascii_alphanumeric) {
            Some(j) => i = j,
            None => {
                chars.insert(i, first);
                break;
            }
        }
    }
    Ok(chars.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_of(s: &str, args: &[Value]) -> Vec<String> {
        let Value::Array(a) = split(s, args).unwrap() else {
            unreachable!()
        };
        a.items().iter().map(Value::to_s).collect()
    }

    #[test]
    fn split_like_ruby() {
        assert_eq!(split_of("  a b\tc  ", &[]), ["a", "b", "c"]);
        assert_eq!(split_of("a,b,,c,,", &[Value::str(",")]), ["a", "b", "", "c"]);
        assert_eq!(
            split_of("a,b,,c,,", &[Value::str(","), Value::Int(-1)]),
            ["a", "b", "", "c", "", ""]
        );
        assert_eq!(split_of("a b c", &[Value::str(" "), Value::Int(2)]), ["a", "b c"]);
        assert_eq!(split_of("abc", &[Value::str("")]), ["a", "b", "c"]);
        assert!(split_of("", &[Value::str(",")]).is_empty());
    }

    #[test]
    fn replacement_escapes() {
        assert_eq!(expand_replacement("<\\0>", "x", "", ""), "<x>");
        assert_eq!(expand_replacement("a\\\\b", "x", "", ""), "a\\b");
        assert_eq!(expand_replacement("\\1", "x", "", ""), "");
    }

    #[test]
    fn tr_and_succ() {
        assert_eq!(translate("hello", "el", "ip"), "hippo");
        assert_eq!(translate("hello", "a-y", "b-z"), "ifmmp");
        assert_eq!(translate("hello", "^l", "*"), "**ll*");
        assert_eq!(successor("az").unwrap(), "ba");
        assert_eq!(successor("zz").unwrap(), "aaa");
        assert_eq!(successor("a9").unwrap(), "b0");
        assert_eq!(successor("1.9").unwrap(), "2.0");
    }

    #[test]
    fn selections() {
        let sel = |args: &[Value]| select_range(args, 5).unwrap();
        assert_eq!(sel(&[Value::Int(-2)]), Some((3, 1)));
        assert_eq!(sel(&[Value::Int(5), Value::Int(2)]), Some((5, 0)));
        assert_eq!(sel(&[Value::Int(6), Value::Int(2)]), None);
        let r = Value::range(Value::Int(1), Value::Int(-2), false).unwrap();
        assert_eq!(sel(&[r]), Some((1, 3)));
    }
}
