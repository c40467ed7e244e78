//! `numeric` exactly: decimal text to and from PostgreSQL's binary format (base-10000
//! digit groups, a weight, a sign and a display scale), and the rule for when a decimal
//! may travel as a JSON number.

use std::fmt::Write as _;

use serde_json::{Number, Value};

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// PostgreSQL's limits: 131072 digits before the point, 16383 after.
const MAX_INT_DIGITS: i64 = 131_072;
const MAX_SCALE: i64 = 16_383;

/// A finite decimal: `digits × 10^exponent`, digits without leading or trailing zeros
/// (empty for zero), plus the scale it was written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
    /// Digits after the point as written (`1.50` has 2), for `numeric`'s display scale.
    scale: i64,
}

impl Decimal {
    /// Parses `[+-]digits[.digits][e[+-]digits]`.
    pub(crate) fn parse(s: &str) -> Option<Decimal> {
        let (negative, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], rest[i + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        if exp.abs() > 1_000_000 {
            return None;
        }
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
        let mut exponent = exp - frac.len() as i64;
        let scale = (-exponent).max(0);
        while digits.last() == Some(&0) {
            digits.pop();
            exponent += 1;
        }
        let leading = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..leading);
        if digits.is_empty() {
            exponent = 0;
        }
        Some(Decimal {
            negative: negative && !digits.is_empty(),
            digits,
            exponent,
            scale,
        })
    }

    fn same_value(&self, other: &Decimal) -> bool {
        self.negative == other.negative
            && self.digits == other.digits
            && self.exponent == other.exponent
    }
}

/// Encodes decimal text (or `NaN`, `Infinity`, `-Infinity`) as binary `numeric`.
pub(crate) fn encode(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let special = match text {
        "NaN" => Some(NUMERIC_NAN),
        "Infinity" | "+Infinity" => Some(NUMERIC_PINF),
        "-Infinity" => Some(NUMERIC_NINF),
        _ => None,
    };
    if let Some(sign) = special {
        write_header(out, 0, 0, sign, 0);
        return Ok(());
    }
    let d = Decimal::parse(text).ok_or_else(|| format!("`{text}` is not a decimal number"))?;
    if d.scale > MAX_SCALE || d.digits.len() as i64 + d.exponent > MAX_INT_DIGITS {
        return Err(format!("`{text}` is out of numeric's range"));
    }
    // Decimal digits with the point placed: `int` before it, `frac` after.
    let point = d.digits.len() as i64 + d.exponent;
    let (int, frac): (Vec<u8>, Vec<u8>) = if d.exponent >= 0 {
        let mut int = d.digits.clone();
        int.extend(std::iter::repeat_n(0, d.exponent as usize));
        (int, Vec::new())
    } else if point > 0 {
        let (i, f) = d.digits.split_at(point as usize);
        (i.to_vec(), f.to_vec())
    } else {
        let mut frac = vec![0; (-point) as usize];
        frac.extend_from_slice(&d.digits);
        (Vec::new(), frac)
    };
    let int_groups = int.len().div_ceil(4);
    let mut padded = vec![0u8; int_groups * 4 - int.len()];
    padded.extend_from_slice(&int);
    padded.extend_from_slice(&frac);
    padded.extend(std::iter::repeat_n(0, (4 - frac.len() % 4) % 4));
    let mut groups: Vec<i16> = padded
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + i16::from(*d)))
        .collect();
    let mut weight = int_groups as i64 - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i64;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign = if d.negative { NUMERIC_NEG } else { NUMERIC_POS };
    // The range checks above bound the weight to ±(131072+16383)/4 and the group count
    // to about 36864, both within i16.
    write_header(
        out,
        groups.len() as i16,
        weight as i16,
        sign,
        d.scale as u16,
    );
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Ok(())
}

fn write_header(out: &mut Vec<u8>, ndigits: i16, weight: i16, sign: u16, scale: u16) {
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&scale.to_be_bytes());
}

/// Decodes binary `numeric` into its text form, as PostgreSQL prints it.
pub(crate) fn decode(raw: &[u8]) -> Result<String, String> {
    let short = || "truncated numeric value".to_owned();
    let word = |i: usize| -> Result<[u8; 2], String> {
        raw.get(i * 2..i * 2 + 2)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(short)
    };
    let ndigits = i16::from_be_bytes(word(0)?);
    let weight = i64::from(i16::from_be_bytes(word(1)?));
    let sign = u16::from_be_bytes(word(2)?);
    let scale = usize::from(u16::from_be_bytes(word(3)?));
    match sign {
        NUMERIC_NAN => return Ok("NaN".to_owned()),
        NUMERIC_PINF => return Ok("Infinity".to_owned()),
        NUMERIC_NINF => return Ok("-Infinity".to_owned()),
        NUMERIC_POS | NUMERIC_NEG => {}
        other => return Err(format!("unknown numeric sign {other:#x}")),
    }
    let groups = (0..usize::try_from(ndigits).map_err(|_| short())?)
        .map(|i| word(4 + i).map(i16::from_be_bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let group = |idx: i64| -> i16 {
        usize::try_from(idx)
            .ok()
            .and_then(|i| groups.get(i).copied())
            .unwrap_or(0)
    };
    let mut s = String::new();
    if sign == NUMERIC_NEG && !groups.is_empty() {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for idx in 0..=weight {
            if idx == 0 {
                let _ = write!(s, "{}", group(idx));
            } else {
                let _ = write!(s, "{:04}", group(idx));
            }
        }
    }
    if scale > 0 {
        let mut frac = String::with_capacity(scale + 4);
        let mut idx = weight + 1;
        while frac.len() < scale {
            let _ = write!(frac, "{:04}", group(idx));
            idx += 1;
        }
        frac.truncate(scale);
        s.push('.');
        s.push_str(&frac);
    }
    Ok(s)
}

/// The JSON form of a decimal: a number when a JSON reader gets exactly this value back
/// (integers within ±2^53; other decimals whose nearest `f64` prints as the same
/// decimal), otherwise the text. `NaN` and the infinities stay strings.
pub(crate) fn to_json(text: &str) -> Value {
    let Some(d) = Decimal::parse(text) else {
        return Value::String(text.to_owned());
    };
    if d.exponent >= 0 && d.digits.len() as i64 + d.exponent <= 16 {
        if let Ok(i) = text.split('.').next().unwrap_or(text).parse::<i64>()
            && i.unsigned_abs() <= 1 << 53
        {
            return Value::Number(i.into());
        }
        return Value::String(text.to_owned());
    }
    if d.exponent >= 0 {
        return Value::String(text.to_owned());
    }
    let exact = text
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .filter(|n| Decimal::parse(&n.to_string()).is_some_and(|back| back.same_value(&d)));
    match exact {
        Some(n) => Value::Number(n),
        None => Value::String(text.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let mut buf = Vec::new();
        encode(text, &mut buf).unwrap();
        decode(&buf).unwrap()
    }

    #[test]
    fn encodes_and_decodes_exactly() {
        for s in [
            "0",
            "1",
            "-1",
            "1.50",
            "0.00001",
            "10000",
            "12345678901234567890.123456789",
            "-0.5",
            "99999999",
            "0.000",
            "NaN",
            "Infinity",
            "-Infinity",
        ] {
            assert_eq!(round_trip(s), s);
        }
    }

    #[test]
    fn exponents_are_expanded() {
        assert_eq!(round_trip("1.5e3"), "1500");
        assert_eq!(round_trip("25e-3"), "0.025");
    }

    #[test]
    fn known_binary_form_of_one_point_five() {
        let mut buf = Vec::new();
        encode("1.5", &mut buf).unwrap();
        assert_eq!(buf, [0, 2, 0, 0, 0, 0, 0, 1, 0, 1, 0x13, 0x88]);
    }

    #[test]
    fn json_numbers_only_when_exact() {
        assert_eq!(to_json("1.5"), serde_json::json!(1.5));
        assert_eq!(to_json("1.50"), serde_json::json!(1.5));
        assert_eq!(to_json("42"), serde_json::json!(42));
        assert_eq!(to_json("42.000"), serde_json::json!(42));
        assert_eq!(
            to_json("9007199254740993"),
            serde_json::json!("9007199254740993")
        );
        assert_eq!(
            to_json("12345678901234567890.123456789"),
            serde_json::json!("12345678901234567890.123456789")
        );
        assert_eq!(to_json("NaN"), serde_json::json!("NaN"));
    }

    #[test]
    fn garbage_is_refused() {
        for s in ["", "-", ".", "1.2.3", "1e", "abc", " 1"] {
            assert!(encode(s, &mut Vec::new()).is_err(), "{s}");
        }
    }
}
