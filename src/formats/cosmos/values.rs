//! COSMOS's parameter conversions (FORMATS.md §1.2 "Helper conversions"): Ruby's
//! `Integer()`, and the nil-like spellings.

/// `handle_nil`: `""`, `NIL`, `NULL`, `NONE` in any case mean nil.
pub fn is_nil_like(value: &str) -> bool {
    value.is_empty()
        || ["NIL", "NULL", "NONE"]
            .iter()
            .any(|n| value.eq_ignore_ascii_case(n))
}

/// Ruby's `Integer(string)`: surrounding whitespace, a sign, `0x`/`0b`/`0o`/`0d`
/// prefixes, a leading `0` meaning octal, and single `_` between digits. `None` when
/// Ruby refuses the text, and also when the number does not fit an `i64` (Ruby would
/// accept it; `is_ruby_integer` tells the two apart).
pub fn ruby_integer(s: &str) -> Option<i64> {
    let (negative, radix, digits) = integer_parts(s)?;
    let magnitude = i128::from_str_radix(&digits, radix).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

/// Whether Ruby's `Integer()` accepts `s`, however large the number.
pub fn is_ruby_integer(s: &str) -> bool {
    integer_parts(s).is_some_and(|(_, radix, digits)| digits.chars().all(|c| c.is_digit(radix)))
}

/// Sign, radix and the digits without separators, when the text has Ruby's integer shape.
fn integer_parts(s: &str) -> Option<(bool, u32, String)> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
    let (negative, t) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = t.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0d") {
        (10, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        // `0_7` is octal 7: the underscore may follow the leading zero.
        (8, lower[1..].strip_prefix('_').unwrap_or(&lower[1..]))
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        // `from_str_radix` would take a second sign (`--8080`, `0x-1A`); Ruby does not.
        || digits.contains(['+', '-'])
    {
        return None;
    }
    Some((negative, radix, digits.chars().filter(|&c| c != '_').collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_follows_ruby() {
        let cases = [
            ("80", Some(80)),
            (" 12 ", Some(12)),
            ("-3", Some(-3)),
            ("+3", Some(3)),
            ("0x1A", Some(26)),
            ("0B101", Some(5)),
            ("0o17", Some(15)),
            ("017", Some(15)),
            ("0_7", Some(7)),
            ("0d19", Some(19)),
            ("1_000", Some(1000)),
            ("0", Some(0)),
            ("08", None),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("", None),
            ("12a", None),
            ("0x", None),
            ("1.5", None),
            ("--8080", None),
            ("0x-1A", None),
        ];
        for (input, expect) in cases {
            assert_eq!(ruby_integer(input), expect, "{input:?}");
            assert_eq!(is_ruby_integer(input), expect.is_some(), "{input:?}");
        }
        // Ruby has big integers: too large for i64 is still an integer.
        assert_eq!(ruby_integer("99999999999999999999999"), None);
        assert!(is_ruby_integer("99999999999999999999999"));
        assert!(!is_ruby_integer("0x1g"));
    }

    #[test]
    fn nil_like() {
        assert!(is_nil_like("") && is_nil_like("nil") && is_nil_like("None") && is_nil_like("NULL"));
        assert!(!is_nil_like("TCP"));
    }
}
