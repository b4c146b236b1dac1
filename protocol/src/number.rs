//! Numbers as Redis reads and writes them. Replies must match `redis-server` byte for byte, so
//! integers are parsed with the rules of its `string2ll`, floats with those of `strtold` plus
//! its own checks, and doubles are written as C's `%.17g` (Redis 7.0's format).

/// The multiplier of a memory unit as Redis's config reads it (`memtoull`): none or `b`; `k`,
/// `m`, `g` powers of 1000; `kb`, `mb`, `gb` powers of 1024; any case. `None`: not a unit.
pub fn memory_unit(unit: &str) -> Option<u64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    })
}

/// Parses a signed 64-bit integer the way Redis's `string2ll` does: an optional `-`, then
/// digits without leading zeros (except `0` itself), no `+`, no spaces, no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if negative {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses an unsigned 64-bit integer with the same strictness as [`parse_i64`].
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s == b"0" {
        return Some(0);
    }
    match s.first() {
        Some(b'1'..=b'9') if s.len() <= 20 => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

/// Parses a float the way Redis's `getDoubleFromObject`/`string2ld` do: the whole string must
/// be a number (`strtod` syntax: decimal or exponent form, `inf`/`infinity` with a sign), no
/// leading space, and never NaN.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5000 || s[0].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let lower = text.to_ascii_lowercase();
    let body = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    let v = if body == "inf" || body == "infinity" {
        if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    } else {
        // Rust's parser accepts "nan", "inf" spellings handled above, and otherwise the
        // strtod decimal syntax; hexadecimal floats (rare) are not accepted.
        if body.contains("nan") || body.contains("inf") {
            return None;
        }
        text.parse::<f64>().ok()?
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// Formats a double as C's `printf("%.17g")`, with Redis's spellings `inf` and `-inf`.
pub fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d.is_nan() {
        return "nan".into();
    }
    format_g(d, 17)
}

/// C's `%.{precision}g` for finite values.
pub fn format_g(d: f64, precision: usize) -> String {
    if d == 0.0 {
        return if d.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let p = precision.max(1);
    // `{:.N e}` rounds correctly to N+1 significant digits, as printf does.
    let sci = format!("{:.*e}", p - 1, d);
    let (mantissa, exp) = sci.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    if exp < -4 || exp >= p as i32 {
        let mut m = mantissa.to_string();
        if m.contains('.') {
            let t = m.trim_end_matches('0').trim_end_matches('.').len();
            m.truncate(t);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let mut s = format!("{:.*}", decimals, d);
        if s.contains('.') {
            let t = s.trim_end_matches('0').trim_end_matches('.').len();
            s.truncate(t);
        }
        s
    }
}

/// Formats a float result of INCRBYFLOAT / HINCRBYFLOAT. Redis prints a `long double` with
/// `%.17Lf` and trims trailing zeros; with a 64-bit double the shortest representation that
/// reads back to the same value gives the same text for the values users type (`10.6`, not
/// `10.59999999999999964`).
pub fn format_human_double(d: f64) -> String {
    if d.is_infinite() {
        return if d > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if d == d.trunc() && d.abs() < 1e17 {
        return format!("{}", d as i64);
    }
    let mut buf = ryu::Buffer::new();
    let s = buf.format_finite(d);
    if let Some((m, e)) = s.split_once('e') {
        // ryu uses exponent form for very large/small values; %Lf never does.
        let exp: i32 = e.parse().unwrap_or(0);
        let (neg, m) = m.strip_prefix('-').map_or((false, m), |m| (true, m));
        let (int, frac) = m.split_once('.').unwrap_or((m, ""));
        let digits = format!("{int}{frac}");
        let point = int.len() as i32 + exp;
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{digits}{}", "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        return if neg { format!("-{body}") } else { body };
    }
    s.trim_end_matches(".0").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in
            [&b""[..], b"-", b"+1", b"01", b"-0", b" 1", b"1 ", b"9223372036854775808", b"1.0"]
        {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_follow_redis() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        for bad in [&b""[..], b"nan", b" 1", b"1 ", b"abc", b"1.0.0"] {
            assert_eq!(parse_f64(bad), None);
        }
    }

    #[test]
    fn doubles_print_like_percent_17g() {
        assert_eq!(format_double(1.1), "1.1000000000000001");
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(0.5), "0.5");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(1.5e-7), "1.4999999999999999e-07");
        assert_eq!(format_double(123456789012345678.0), "1.2345678901234568e+17");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(f64::INFINITY), "inf");
    }

    #[test]
    fn human_doubles_read_like_redis() {
        assert_eq!(format_human_double(10.5 + 0.1), "10.6");
        assert_eq!(format_human_double(3.0), "3");
        assert_eq!(format_human_double(-0.25), "-0.25");
        assert_eq!(format_human_double(5.0e-5), "0.00005");
        assert_eq!(format_human_double(1.5e20), "150000000000000000000");
    }
}
