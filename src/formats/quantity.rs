//! Kubernetes resource quantities (`500m` CPUs, `512Mi` bytes), as Cumulocity manifests
//! write them: read by the Cumulocity front end and by the lint rules that compare them.

/// Kubernetes CPU quantity → millicores: `500m`, `0.5`, `2`.
pub fn cpu_millis(s: &str) -> Option<u64> {
    if let Some(m) = s.strip_suffix('m') {
        return m.parse().ok();
    }
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let frac_millis = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<3}").parse::<u64>().ok()?
    };
    whole.checked_mul(1000)?.checked_add(frac_millis)
}

/// Kubernetes memory quantity → bytes: `512M` (10^6), `512Mi` (2^20), `1G`, plain bytes.
pub fn memory_bytes(s: &str) -> Option<u64> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = s[digits.len()..].trim();
    let n: u64 = digits.trim().parse().ok()?;
    let factor: u64 = match unit {
        "" => 1,
        "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        _ => return None,
    };
    n.checked_mul(factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(cpu_millis("500m"), Some(500));
        assert_eq!(cpu_millis("0.5"), Some(500));
        assert_eq!(cpu_millis("0.25"), Some(250));
        assert_eq!(cpu_millis("16"), Some(16000));
        assert_eq!(cpu_millis("x"), None);
        assert_eq!(memory_bytes("512M"), Some(512_000_000));
        assert_eq!(memory_bytes("128Mi"), Some(128 << 20));
        assert_eq!(memory_bytes("1G"), Some(1_000_000_000));
        assert_eq!(memory_bytes("1.5G"), None);
        assert_eq!(memory_bytes("512MB"), None);
    }
}
