//! `format`, `sprintf` and `String#%`: Ruby's format directives (`%d %i %u %f %e %g %x
//! %o %b %s %p %c %%`, flags `-+ 0#`, width, precision, `%<name>d` and `%{name}`).
//! Negative numbers in `%x`/`%o`/`%b` are written with a minus sign (Ruby writes
//! `..f` two's-complement forms unless a sign flag is given).

use super::numeric::{kernel_float, kernel_integer};
use crate::value::{Exc, Value};

#[derive(Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    zero: bool,
    alt: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

/// Formats `args` by `fmt`.
pub(crate) fn sprintf(fmt: &str, args: &[Value]) -> Result<String, Exc> {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = fmt.chars().peekable();
    let malformed = |what: &str| Exc::argument(format!("malformed format string - {what}"));
    'directives: while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        let mut named: Option<Value> = None;
        loop {
            match chars.peek() {
                Some('-') => spec.left = true,
                Some('+') => spec.plus = true,
                Some(' ') => spec.space = true,
                Some('0') => spec.zero = true,
                Some('#') => spec.alt = true,
                Some('<') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|&c| c != '>').collect();
                    named = Some(hash_arg(args, &name)?);
                    continue;
                }
                Some('{') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    out.push_str(&hash_arg(args, &name)?.to_s());
                    continue 'directives;
                }
                _ => break,
            }
            chars.next();
        }
        let mut take_arg = |named: &mut Option<Value>| -> Result<Value, Exc> {
            if let Some(v) = named.take() {
                return Ok(v);
            }
            let v = args
                .get(next)
                .cloned()
                .ok_or_else(|| Exc::argument("too few arguments"))?;
            next += 1;
            Ok(v)
        };
        let mut number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
                          named: &mut Option<Value>|
         -> Result<Option<usize>, Exc> {
            if chars.peek() == Some(&'*') {
                chars.next();
                let v = take_arg(named)?;
                return Ok(Some(
                    usize::try_from(super::int_arg(&v)?.unsigned_abs()).unwrap_or(usize::MAX),
                ));
            }
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
                chars.next();
            }
            Ok(n)
        };
        spec.width = number(&mut chars, &mut named)?;
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(number(&mut chars, &mut named)?.unwrap_or(0));
        }
        if spec.width.is_some_and(|w| w > 1 << 20) || spec.precision.is_some_and(|p| p > 1 << 20) {
            return Err(Exc::limit("a format width or precision above 1 MiB"));
        }
        let Some(kind) = chars.next() else {
            return Err(Exc::argument(
                "incomplete format specifier; use %% (double %) instead",
            ));
        };
        let text = match kind {
            '%' => "%".to_string(),
            'd' | 'i' | 'u' => integer(&spec, &take_arg(&mut named)?, 10, "")?,
            'x' => integer(&spec, &take_arg(&mut named)?, 16, "0x")?,
            'X' => integer(&spec, &take_arg(&mut named)?, 16, "0X")?.to_uppercase(),
            'o' => integer(&spec, &take_arg(&mut named)?, 8, "0")?,
            'b' => integer(&spec, &take_arg(&mut named)?, 2, "0b")?,
            'B' => integer(&spec, &take_arg(&mut named)?, 2, "0B")?,
            'f' | 'e' | 'E' | 'g' | 'G' => float(&spec, &take_arg(&mut named)?, kind)?,
            's' | 'p' => {
                let v = take_arg(&mut named)?;
                let s = if kind == 's' { v.to_s() } else { v.inspect() };
                let s = match spec.precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                };
                pad(&spec, String::new(), s, false)
            }
            'c' => {
                let c = match take_arg(&mut named)? {
                    Value::Str(s) => s.chars().next().map(String::from).unwrap_or_default(),
                    v => {
                        let code = super::int_arg(&v)?;
                        let c = u32::try_from(code).ok().and_then(char::from_u32);
                        c.ok_or_else(|| Exc::ruby("RangeError", format!("{code} out of char range")))?
                            .to_string()
                    }
                };
                pad(&spec, String::new(), c, false)
            }
            other => return Err(malformed(&format!("%{other}"))),
        };
        out.push_str(&text);
    }
    Ok(out)
}

fn hash_arg(args: &[Value], name: &str) -> Result<Value, Exc> {
    let Some(Value::Hash(h)) = args.first() else {
        return Err(Exc::argument("one hash required"));
    };
    h.get(&Value::sym(name))
        .cloned()
        .ok_or_else(|| Exc::ruby("KeyError", format!("key<{name}> not found")))
}

/// Pads `sign` + `body` to the width: spaces outside, or zeros between sign and digits.
fn pad(spec: &Spec, sign: String, body: String, numeric: bool) -> String {
    let len = sign.chars().count() + body.chars().count();
    let fill = spec.width.unwrap_or(0).saturating_sub(len);
    if spec.left {
        format!("{sign}{body}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        format!("{sign}{}{body}", "0".repeat(fill))
    } else {
        format!("{}{sign}{body}", " ".repeat(fill))
    }
}

fn sign(spec: &Spec, negative: bool) -> String {
    if negative {
        "-".to_string()
    } else if spec.plus {
        "+".to_string()
    } else if spec.space {
        " ".to_string()
    } else {
        String::new()
    }
}

fn integer(spec: &Spec, v: &Value, radix: u32, prefix: &str) -> Result<String, Exc> {
    let i = match v {
        Value::Str(_) => kernel_integer(v, None)?,
        Value::Int(_) | Value::Float(_) => kernel_integer(v, None)?,
        v => {
            return Err(Exc::type_error(format!(
                "can't convert {} into Integer",
                v.type_label()
            )));
        }
    };
    let Value::Int(i) = i else {
        return Err(Exc::type_error("can't convert into Integer"));
    };
    let mut n = i.unsigned_abs();
    let mut digits = Vec::new();
    loop {
        digits.push(std::char::from_digit((n % u64::from(radix)) as u32, radix).unwrap_or('?'));
        n /= u64::from(radix);
        if n == 0 {
            break;
        }
    }
    let mut body: String = digits.iter().rev().collect();
    if let Some(p) = spec.precision.filter(|p| body.len() < *p) {
        body = format!("{}{body}", "0".repeat(p - body.len()));
    }
    let mut sign = sign(spec, i < 0);
    if spec.alt && i != 0 {
        sign.push_str(prefix);
    }
    let zero = Spec {
        zero: spec.zero && spec.precision.is_none(),
        ..*spec
    };
    Ok(pad(&zero, sign, body, true))
}

fn float(spec: &Spec, v: &Value, kind: char) -> Result<String, Exc> {
    let Value::Float(f) = kernel_float(v)? else {
        return Err(Exc::type_error("can't convert into Float"));
    };
    let negative = f.is_sign_negative() && !f.is_nan();
    if !f.is_finite() {
        let body = if f.is_nan() { "NaN" } else { "Inf" };
        return Ok(pad(
            &Spec { zero: false, ..*spec },
            sign(spec, negative),
            body.to_string(),
            true,
        ));
    }
    let precision = spec.precision.unwrap_or(6);
    let a = f.abs();
    let mut body = match kind {
        'f' => format!("{a:.precision$}"),
        'e' | 'E' => exponent_form(a, precision),
        _ => general_form(a, precision, spec.alt),
    };
    if spec.alt && precision == 0 && matches!(kind, 'f' | 'e' | 'E') && !body.contains('.') {
        body = match body.find('e') {
            Some(i) => format!("{}.{}", &body[..i], &body[i..]),
            None => format!("{body}."),
        };
    }
    if kind.is_ascii_uppercase() {
        body = body.to_uppercase();
    }
    Ok(pad(spec, sign(spec, negative), body, true))
}

/// C's `%e`: `d.ddde+XX`.
fn exponent_form(a: f64, precision: usize) -> String {
    let s = format!("{a:.precision$e}");
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// C's `%g`: `%e` or `%f` by the exponent, trailing zeros removed unless `#`.
fn general_form(a: f64, precision: usize, alt: bool) -> String {
    let p = precision.max(1);
    let e = format!("{a:.*e}", p - 1);
    let exp: i64 = e.split_once('e').and_then(|(_, x)| x.parse().ok()).unwrap_or(0);
    let mut body = if exp < -4 || exp >= p as i64 {
        exponent_form(a, p - 1)
    } else {
        let decimals = (p as i64 - 1 - exp).max(0) as usize;
        format!("{a:.decimals$}")
    };
    if !alt {
        let (num, exp) = match body.find('e') {
            Some(i) => (body[..i].to_string(), body[i..].to_string()),
            None => (body.clone(), String::new()),
        };
        let num = if num.contains('.') {
            num.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            num
        };
        body = format!("{num}{exp}");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(fmt: &str, args: &[Value]) -> String {
        sprintf(fmt, args).unwrap()
    }

    #[test]
    fn directives() {
        assert_eq!(
            f(
                "%05d|%-4s|%x",
                &[Value::Int(42), Value::str("ab"), Value::Int(255)]
            ),
            "00042|ab  |ff"
        );
        assert_eq!(
            f(
                "%.2f %e %g %g",
                &[
                    Value::Float(2.345678),
                    Value::Float(1234.5),
                    Value::Float(0.0001),
                    Value::Float(1e20)
                ]
            ),
            "2.35 1.234500e+03 0.0001 1e+20"
        );
        assert_eq!(
            f("%+d %s%% %p", &[Value::Int(5), Value::Int(7), Value::str("q")]),
            "+5 7% \"q\""
        );
        assert_eq!(
            f(
                "%#x %#o %08.3f",
                &[Value::Int(255), Value::Int(8), Value::Float(-2.345678)]
            ),
            "0xff 010 -002.346"
        );
        assert_eq!(f("%d", &[Value::str("0x1f")]), "31");
    }

    #[test]
    fn named_references() {
        let h = Value::hash(vec![(Value::sym("port"), Value::Int(80))]).unwrap();
        assert_eq!(f("%<port>05d and %{port}", &[h]), "00080 and 80");
    }

    #[test]
    fn errors() {
        assert!(
            sprintf("%d", &[])
                .unwrap_err()
                .message
                .contains("too few arguments")
        );
        assert!(
            sprintf("%y", &[Value::Int(1)])
                .unwrap_err()
                .message
                .contains("malformed")
        );
        assert!(
            sprintf("%d", &[Value::Nil])
                .unwrap_err()
                .message
                .contains("can't convert nil into Integer")
        );
    }
}
