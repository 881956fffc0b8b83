//! Integer and Float methods, Ruby's number parsing (`String#to_i`, `to_f`, `Integer()`,
//! `Float()`), and Ruby's arithmetic rules: floored division and modulo, Integer/Float
//! mixing, and errors (not wrap-around) when a result does not fit in 64 bits.

use super::{Found, arity, int_arg};
use crate::eval::Interp;
use crate::flow::{BlockVal, R};
use crate::value::{Exc, Value};

fn too_big() -> Exc {
    Exc::unsupported("an Integer beyond 64 bits")
}

fn zero_division() -> Exc {
    Exc::ruby("ZeroDivisionError", "divided by 0")
}

fn to_f(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => f64::NAN,
    }
}

/// `a <op> b` for the arithmetic operators, with Ruby's coercion rules.
pub(crate) fn arith(op: &str, a: &Value, b: &Value) -> Result<Value, Exc> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => int_arith(op, *x, *y),
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            float_arith(op, to_f(a), to_f(b))
        }
        (_, other) => Err(Exc::type_error(format!(
            "{} can't be coerced into {}",
            other.type_label(),
            a.class_name()
        ))),
    }
}

fn int_arith(op: &str, x: i64, y: i64) -> Result<Value, Exc> {
    let v = match op {
        "+" => x.checked_add(y),
        "-" => x.checked_sub(y),
        "*" => x.checked_mul(y),
        "/" | "div" => {
            if y == 0 {
                return Err(zero_division());
            }
            floor_div(x, y)
        }
        "%" | "modulo" => {
            if y == 0 {
                return Err(zero_division());
            }
            floor_mod(x, y)
        }
        "**" | "pow" => {
            if y < 0 {
                return Err(Exc::unsupported(
                    "a Rational result (Integer ** negative Integer)",
                ));
            }
            u32::try_from(y).ok().and_then(|e| x.checked_pow(e)).or(match x {
                0 | 1 => Some(x),
                -1 => Some(if y % 2 == 0 { 1 } else { -1 }),
                _ => None,
            })
        }
        "fdiv" => return Ok(Value::Float(x as f64 / y as f64)),
        _ => return Err(Exc::no_method(op, &Value::Int(x))),
    };
    v.map(Value::Int).ok_or_else(too_big)
}

fn floor_div(x: i64, y: i64) -> Option<i64> {
    let q = x.checked_div(y)?;
    Some(if x % y != 0 && ((x < 0) != (y < 0)) {
        q - 1
    } else {
        q
    })
}

fn floor_mod(x: i64, y: i64) -> Option<i64> {
    let r = x.checked_rem(y)?;
    Some(if r != 0 && ((r < 0) != (y < 0)) { r + y } else { r })
}

fn float_arith(op: &str, x: f64, y: f64) -> Result<Value, Exc> {
    let f = match op {
        "+" => x + y,
        "-" => x - y,
        "*" => x * y,
        "/" | "fdiv" => x / y,
        "%" | "modulo" => {
            let m = x % y;
            if m != 0.0 && (m < 0.0) != (y < 0.0) {
                m + y
            } else {
                m
            }
        }
        "**" | "pow" => {
            if x < 0.0 && y.fract() != 0.0 {
                return Err(Exc::unsupported("a Complex result (negative ** fractional)"));
            }
            x.powf(y)
        }
        "div" => {
            if y == 0.0 {
                return Err(zero_division());
            }
            return float_to_int((x / y).floor());
        }
        _ => return Err(Exc::no_method(op, &Value::Float(x))),
    };
    Ok(Value::Float(f))
}

/// A Float's integer part as an Integer (Ruby's `to_i`).
fn float_to_int(f: f64) -> Result<Value, Exc> {
    if f.is_nan() || f.is_infinite() {
        return Err(Exc::ruby("FloatDomainError", crate::value::float_to_s(f)));
    }
    let t = f.trunc();
    // i64::MIN is exactly -2^63; i64::MAX rounds up to 2^63 as a Float.
    if (-(2f64.powi(63))..2f64.powi(63)).contains(&t) {
        Ok(Value::Int(t as i64))
    } else {
        Err(too_big())
    }
}

/// Ruby's `round_half_up(x, s)`: rounds `x * s` half away from zero, correcting for the
/// error of the multiplication.
fn round_half_up(x: f64, s: f64) -> f64 {
    let mut f = (x * s).round();
    if s == 1.0 {
        return f;
    }
    if x > 0.0 {
        if (f + 0.5) / s <= x {
            f += 1.0;
        }
    } else if (f - 0.5) / s >= x {
        f -= 1.0;
    }
    f
}

/// `round`, `floor` and `ceil` of a Float to `digits` decimal places.
fn float_round(op: &str, x: f64, digits: i64) -> Result<Value, Exc> {
    if digits > 0 {
        // Ruby returns the Float itself once it has more precision than requested.
        if digits >= 16 || !x.is_finite() {
            return Ok(Value::Float(x));
        }
        let s = 10f64.powi(digits as i32);
        let r = match op {
            "floor" => (x * s).floor() / s,
            "ceil" => (x * s).ceil() / s,
            "truncate" => (x * s).trunc() / s,
            _ => round_half_up(x, s) / s,
        };
        return Ok(Value::Float(r));
    }
    let r = match op {
        "floor" => x.floor(),
        "ceil" => x.ceil(),
        "truncate" => x.trunc(),
        _ => x.round(),
    };
    let Value::Int(i) = float_to_int(r)? else {
        return Err(too_big());
    };
    if digits < 0 {
        int_round(op, i, digits)
    } else {
        Ok(Value::Int(i))
    }
}

/// `round`, `floor` and `ceil` of an Integer to `digits` (negative: tens, hundreds...).
fn int_round(op: &str, x: i64, digits: i64) -> Result<Value, Exc> {
    if digits >= 0 {
        return Ok(Value::Int(x));
    }
    let Some(p) = u32::try_from(-digits).ok().and_then(|d| 10i64.checked_pow(d)) else {
        return Ok(Value::Int(0));
    };
    let down = x.div_euclid(p) * p;
    let v = match op {
        "floor" => Some(down),
        "ceil" => {
            if down == x {
                Some(x)
            } else {
                down.checked_add(p)
            }
        }
        "truncate" => Some(x / p * p),
        _ => {
            let up = x.unsigned_abs() % p as u64 * 2 >= p as u64;
            let base = x / p * p;
            if up {
                base.checked_add(if x < 0 { -p } else { p })
            } else {
                Some(base)
            }
        }
    };
    v.map(Value::Int).ok_or_else(too_big)
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a as i64
}

/// Digits of an integer literal or string: `s` after any sign and prefix, with single
/// underscores allowed between digits. Returns the value and how many bytes were read.
fn parse_digits(s: &[u8], radix: u32) -> Result<(i64, usize), Exc> {
    let mut value: i128 = 0;
    let mut i = 0;
    let mut any = false;
    while i < s.len() {
        let c = s[i];
        if c == b'_' && any && s.get(i + 1).is_some_and(|d| (*d as char).is_digit(radix)) {
            i += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(radix) else {
            break;
        };
        value = value * i128::from(radix) + i128::from(d);
        if value > i128::from(i64::MAX) + 1 {
            return Err(too_big());
        }
        any = true;
        i += 1;
    }
    Ok((value as i64, if any { i } else { 0 }))
}

fn skip_blanks(s: &[u8]) -> usize {
    s.iter()
        .take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count()
}

/// Ruby's `String#to_i(base)`: the integer at the start of `s`, or 0.
pub(crate) fn str_to_i(s: &str, base: u32) -> Result<i64, Exc> {
    let b = s.as_bytes();
    let mut i = skip_blanks(b);
    let negative = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let prefix = match base {
        16 => ["0x", "0X"].as_slice(),
        2 => &["0b", "0B"],
        8 => &["0o", "0O", "0_"],
        10 => &["0d", "0D"],
        _ => &[],
    };
    if prefix.iter().any(|p| b[i..].starts_with(p.as_bytes()))
        && b.get(i + 2).is_some_and(|c| (*c as char).is_digit(base))
    {
        i += 2;
    }
    let (v, _) = parse_digits(&b[i..], base)?;
    let v = if negative { v.checked_neg() } else { Some(v) };
    match v {
        Some(v) if negative || v >= 0 => Ok(v),
        _ => Err(too_big()),
    }
}

/// Ruby's `String#to_f`: the number at the start of `s`, or 0.0.
pub(crate) fn str_to_f(s: &str) -> f64 {
    float_prefix(s).map_or(0.0, |(f, _)| f)
}

/// The decimal float at the start of `s` (after blanks) and the bytes it spans.
fn float_prefix(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    let mut i = skip_blanks(b);
    let mut text = String::new();
    if let Some(&c @ (b'-' | b'+')) = b.get(i) {
        text.push(c as char);
        i += 1;
    }
    let digits = |i: &mut usize, text: &mut String| {
        let start = *i;
        while let Some(&c) = b.get(*i) {
            if c.is_ascii_digit() {
                text.push(c as char);
            } else if !(c == b'_' && *i > start && b.get(*i + 1).is_some_and(u8::is_ascii_digit)) {
                break;
            }
            *i += 1;
        }
        *i > start
    };
    let int = digits(&mut i, &mut text);
    let mut frac = false;
    if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        text.push('.');
        i += 1;
        frac = digits(&mut i, &mut text);
    }
    if !int && !frac {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        let mut exp = String::from("e");
        if let Some(&c @ (b'-' | b'+')) = b.get(j) {
            exp.push(c as char);
            j += 1;
        }
        if digits(&mut j, &mut exp) {
            text.push_str(&exp);
            i = j;
        }
    }
    text.parse::<f64>().ok().map(|f| (f, i))
}

/// `Integer(v)` / `Integer(v, base)`: strict conversion.
pub(crate) fn kernel_integer(v: &Value, base: Option<i64>) -> Result<Value, Exc> {
    let s = match v {
        Value::Int(_) => return Ok(v.clone()),
        Value::Float(f) => return float_to_int(*f),
        Value::Str(s) => s.as_str(),
        v => {
            return Err(Exc::type_error(format!(
                "can't convert {} into Integer",
                v.type_label()
            )));
        }
    };
    let invalid = || Exc::argument(format!("invalid value for Integer(): {}", v.inspect()));
    let b = s
        .trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'))
        .as_bytes();
    let (negative, b) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let lower = |i: usize| b.get(i).map(u8::to_ascii_lowercase);
    let (radix, skip) = match (b.first(), lower(1)) {
        (Some(b'0'), Some(b'x')) => (16, 2),
        (Some(b'0'), Some(b'b')) => (2, 2),
        (Some(b'0'), Some(b'o')) => (8, 2),
        (Some(b'0'), Some(b'd')) => (10, 2),
        (Some(b'0'), Some(_)) => (8, 1),
        _ => (10, 0),
    };
    let (radix, skip) = match base {
        Some(base) if !(2..=36).contains(&base) => {
            return Err(Exc::argument(format!("invalid radix {base}")));
        }
        Some(base) if base as u32 != radix => (base as u32, 0),
        _ => (radix, skip),
    };
    let digits = &b[skip..];
    let (value, used) = parse_digits(digits, radix)?;
    if used == 0 || used != digits.len() {
        return Err(invalid());
    }
    if negative {
        value.checked_neg().map(Value::Int).ok_or_else(too_big)
    } else if value < 0 {
        Err(too_big())
    } else {
        Ok(Value::Int(value))
    }
}

/// `Float(v)`: strict conversion.
pub(crate) fn kernel_float(v: &Value) -> Result<Value, Exc> {
    match v {
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::Float(_) => Ok(v.clone()),
        Value::Str(s) => {
            let trimmed = s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'));
            let unsigned = trimmed.trim_start_matches(['-', '+']);
            if (unsigned.starts_with("0x") || unsigned.starts_with("0X"))
                && let Ok(Value::Int(i)) = kernel_integer(&Value::str(trimmed), Some(16))
            {
                return Ok(Value::Float(i as f64));
            }
            match float_prefix(trimmed) {
                Some((f, used)) if used == trimmed.len() && !trimmed.ends_with('.') => Ok(Value::Float(f)),
                _ => Err(Exc::argument(format!(
                    "invalid value for Float(): {}",
                    v.inspect()
                ))),
            }
        }
        v => Err(Exc::type_error(format!(
            "can't convert {} into Float",
            v.type_label()
        ))),
    }
}

impl Interp<'_> {
    /// Integer and Float methods.
    pub(crate) fn numeric_method(
        &mut self,
        recv: &mut Value,
        name: &str,
        args: &[Value],
        blk: Option<BlockVal<'_>>,
    ) -> Found {
        match (name, &*recv) {
            ("+" | "-" | "*" | "/" | "%" | "**" | "modulo" | "div" | "fdiv" | "pow", _) => {
                arity(args, 1, 1)?;
                Ok(Some(arith(name, recv, &args[0])?))
            }
            ("divmod", _) => {
                arity(args, 1, 1)?;
                let q = match arith("div", recv, &args[0])? {
                    Value::Float(f) => float_to_int(f.floor())?,
                    q => q,
                };
                Ok(Some(Value::array(vec![q, arith("%", recv, &args[0])?])?))
            }
            (_, Value::Int(i)) => self.int_method(*i, name, args, blk),
            (_, Value::Float(f)) => Ok(float_method(*f, name, args)?),
            _ => Ok(None),
        }
    }

    fn int_method(&mut self, i: i64, name: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> Found {
        let bits = |op: fn(i64, i64) -> Option<i64>| -> Result<Value, Exc> {
            arity(args, 1, 1)?;
            match &args[0] {
                Value::Int(j) => op(i, *j).map(Value::Int).ok_or_else(too_big),
                v => Err(Exc::type_error(format!(
                    "{} can't be coerced into Integer",
                    v.type_label()
                ))),
            }
        };
        let checked = |v: Option<i64>| v.map(Value::Int).ok_or_else(too_big);
        let v = match name {
            "to_s" | "inspect" => {
                arity(args, 0, 1)?;
                Value::str(radix_string(i, args.first().map_or(Ok(10), int_arg)?)?)
            }
            "to_i" | "to_int" | "ord" | "+@" => Value::Int(i),
            "to_f" => Value::Float(i as f64),
            "chr" => match u8::try_from(i) {
                Ok(b) if b.is_ascii() => Value::str((b as char).to_string()),
                Ok(_) => return Err(Exc::unsupported("`chr` of a byte above 127 (a binary String)").into()),
                Err(_) => return Err(Exc::ruby("RangeError", format!("{i} out of char range")).into()),
            },
            "-@" => checked(i.checked_neg())?,
            "~" => Value::Int(!i),
            "&" => bits(|a, b| Some(a & b))?,
            "|" => bits(|a, b| Some(a | b))?,
            "^" => bits(|a, b| Some(a ^ b))?,
            "<<" => bits(shift_left)?,
            ">>" => bits(|a, b| shift_left(a, b.checked_neg()?))?,
            "abs" | "magnitude" => checked(i.checked_abs())?,
            "succ" | "next" => checked(i.checked_add(1))?,
            "pred" => checked(i.checked_sub(1))?,
            "even?" => Value::Bool(i % 2 == 0),
            "odd?" => Value::Bool(i % 2 != 0),
            "zero?" => Value::Bool(i == 0),
            "nonzero?" => {
                if i == 0 {
                    Value::Nil
                } else {
                    Value::Int(i)
                }
            }
            "positive?" => Value::Bool(i > 0),
            "negative?" => Value::Bool(i < 0),
            "integer?" | "finite?" => Value::Bool(true),
            "infinite?" => Value::Nil,
            "floor" | "ceil" | "round" | "truncate" => {
                int_round(name, i, args.first().map_or(Ok(0), int_arg)?)?
            }
            "gcd" => bits(|a, b| Some(gcd(a, b)))?,
            "lcm" => bits(|a, b| {
                if a == 0 || b == 0 {
                    Some(0)
                } else {
                    (a / gcd(a, b)).checked_mul(b).map(i64::abs)
                }
            })?,
            "bit_length" => Value::Int(i64::from(
                64 - if i < 0 {
                    (!i).leading_zeros()
                } else {
                    i.leading_zeros()
                },
            )),
            "digits" => {
                if i < 0 {
                    return Err(Exc::ruby("Math::DomainError", "out of domain").into());
                }
                let mut out = vec![Value::Int(i % 10)];
                let mut n = i / 10;
                while n > 0 {
                    out.push(Value::Int(n % 10));
                    n /= 10;
                }
                Value::array(out)?
            }
            "times" | "upto" | "downto" | "step" => self.int_loop(i, name, args, blk)?,
            _ => return Ok(None),
        };
        Ok(Some(v))
    }

    /// `times`, `upto`, `downto` and `step`: yield each number, or return them as an
    /// Array without a block (standing in for Ruby's Enumerator).
    fn int_loop(&mut self, i: i64, name: &str, args: &[Value], blk: Option<BlockVal<'_>>) -> R {
        let (from, to, step) = match name {
            "times" => {
                arity(args, 0, 0)?;
                (0, i.saturating_sub(1), 1)
            }
            "upto" => {
                arity(args, 1, 1)?;
                (i, int_arg(&args[0])?, 1)
            }
            "downto" => {
                arity(args, 1, 1)?;
                (i, int_arg(&args[0])?, -1)
            }
            _ => {
                arity(args, 1, 2)?;
                let step = args.get(1).map_or(Ok(1), int_arg)?;
                if step == 0 {
                    return Err(Exc::argument("step can't be 0").into());
                }
                (i, int_arg(&args[0])?, step)
            }
        };
        let mut collected = Vec::new();
        let mut n = from;
        while (step > 0 && n <= to) || (step < 0 && n >= to) {
            self.charge(1)?;
            match blk {
                Some(b) => {
                    self.yield_block(b, vec![Value::Int(n)])?;
                }
                None => collected.push(Value::Int(n)),
            }
            match n.checked_add(step) {
                Some(next) => n = next,
                None => break,
            }
        }
        if blk.is_none() {
            return Ok(Value::array(collected)?);
        }
        Ok(Value::Int(i))
    }
}

fn shift_left(a: i64, b: i64) -> Option<i64> {
    if b < 0 {
        let s = u32::try_from(b.checked_neg()?).unwrap_or(u32::MAX).min(63);
        return Some(a >> s);
    }
    let s = u32::try_from(b).ok().filter(|s| *s < 64)?;
    let shifted = a.checked_shl(s)?;
    (shifted >> s == a).then_some(shifted)
}

fn radix_string(i: i64, base: i64) -> Result<String, Exc> {
    if !(2..=36).contains(&base) {
        return Err(Exc::argument(format!("invalid radix {base}")));
    }
    let mut n = i.unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(std::char::from_digit((n % base as u64) as u32, base as u32).unwrap_or('?'));
        n /= base as u64;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        digits.push('-');
    }
    Ok(digits.iter().rev().collect())
}

fn float_method(f: f64, name: &str, args: &[Value]) -> Result<Option<Value>, Exc> {
    // `round(half: :even)` and friends: the keyword Hash is ignored.
    let digits = || {
        args.iter()
            .find(|a| !matches!(a, Value::Hash(_)))
            .map_or(Ok(0), int_arg)
    };
    let v = match name {
        "to_s" | "inspect" => Value::str(crate::value::float_to_s(f)),
        "to_f" | "+@" => Value::Float(f),
        "-@" => Value::Float(-f),
        "to_i" | "to_int" => float_to_int(f)?,
        "floor" | "ceil" | "round" | "truncate" => float_round(name, f, digits()?)?,
        "abs" | "magnitude" => Value::Float(f.abs()),
        "nan?" => Value::Bool(f.is_nan()),
        "finite?" => Value::Bool(f.is_finite()),
        "infinite?" if f.is_infinite() => Value::Int(if f > 0.0 { 1 } else { -1 }),
        "infinite?" => Value::Nil,
        "integer?" => Value::Bool(false),
        "zero?" => Value::Bool(f == 0.0),
        "nonzero?" => {
            if f == 0.0 {
                Value::Nil
            } else {
                Value::Float(f)
            }
        }
        "positive?" => Value::Bool(f > 0.0),
        "negative?" => Value::Bool(f < 0.0),
        _ => return Ok(None),
    };
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floored_division_and_modulo() {
        let i = |v: i64| Value::Int(v);
        assert_eq!(arith("/", &i(-7), &i(2)).unwrap().inspect(), "-4");
        assert_eq!(arith("%", &i(-7), &i(3)).unwrap().inspect(), "2");
        assert_eq!(arith("%", &i(7), &i(-3)).unwrap().inspect(), "-2");
        assert_eq!(arith("%", &Value::Float(-7.5), &i(2)).unwrap().inspect(), "0.5");
        assert_eq!(arith("/", &i(7), &Value::Float(2.0)).unwrap().inspect(), "3.5");
        assert!(
            arith("/", &i(1), &i(0))
                .unwrap_err()
                .message
                .contains("ZeroDivisionError")
        );
        assert_eq!(
            arith("*", &i(i64::MAX), &i(2)).unwrap_err().code,
            crate::codes::UNSUPPORTED
        );
        assert!(
            arith("+", &i(1), &Value::str("a"))
                .unwrap_err()
                .message
                .contains("String can't be coerced into Integer")
        );
    }

    #[test]
    fn string_conversions() {
        assert_eq!(str_to_i("  42abc", 10).unwrap(), 42);
        assert_eq!(str_to_i("abc", 10).unwrap(), 0);
        assert_eq!(str_to_i("-1_000", 10).unwrap(), -1000);
        assert_eq!(str_to_i("0x1f", 16).unwrap(), 31);
        assert_eq!(str_to_f("3.25xyz"), 3.25);
        assert_eq!(str_to_f(".5"), 0.5);
        assert_eq!(str_to_f("1e3"), 1000.0);
        assert_eq!(str_to_f("abc"), 0.0);
        assert_eq!(kernel_integer(&Value::str("0x1A"), None).unwrap().inspect(), "26");
        assert_eq!(kernel_integer(&Value::str("010"), None).unwrap().inspect(), "8");
        assert!(
            kernel_integer(&Value::str("12abc"), None)
                .unwrap_err()
                .message
                .contains("invalid value for Integer(): \"12abc\"")
        );
        assert_eq!(kernel_float(&Value::str(" 1.5 ")).unwrap().inspect(), "1.5");
        assert!(kernel_float(&Value::str("1.")).is_err());
    }

    #[test]
    fn rounding() {
        assert_eq!(float_round("round", 2.5, 0).unwrap().inspect(), "3");
        assert_eq!(float_round("round", -2.5, 0).unwrap().inspect(), "-3");
        assert_eq!(float_round("round", 1.23456, 2).unwrap().inspect(), "1.23");
        assert_eq!(float_round("round", 1234.5, -2).unwrap().inspect(), "1200");
        assert_eq!(int_round("round", 25, -1).unwrap().inspect(), "30");
        assert_eq!(int_round("round", -25, -1).unwrap().inspect(), "-30");
        assert_eq!(int_round("floor", -25, -1).unwrap().inspect(), "-30");
    }
}
