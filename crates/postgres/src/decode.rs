//! Column values, in PostgreSQL's binary format, to JSON.
//!
//! Results always come back in binary (tokio-postgres asks for it, and the extended
//! protocol cannot mix text for unknown types without knowing them in advance), so each
//! type's binary form is decoded here. Types whose binary form is their text (text,
//! varchar, bpchar, name, xml, citext, enums) come back as strings, and so do interval,
//! timetz, inet, cidr, macaddr and macaddr8, in the text PostgreSQL shows; types this crate
//! does not know come back as `{"type": "<name>", "base64": "<raw binary>"}`: honest,
//! lossless, and never a guess at a text form the server did not send.

use base64::Engine as _;
use serde_json::{Number, Value, json};
use tokio_postgres::types::{FromSql, Kind, Type};

use crate::{array, datetime, numeric};

/// Integers beyond ±2^53 lose precision in most JSON readers: they travel as strings.
const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// One column value as JSON, or why it could not be decoded (kept, not thrown, so the
/// caller can name the column).
#[derive(Debug)]
pub(crate) struct Cell(pub(crate) Result<Value, String>);

impl<'a> FromSql<'a> for Cell {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Cell(decode(ty, raw)))
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Cell(Ok(Value::Null)))
    }

    // Every type has a JSON form here, if only the fallback one.
    fn accepts(_ty: &Type) -> bool {
        true
    }
}

/// Decodes one non-NULL value of type `ty`.
pub(crate) fn decode(ty: &Type, raw: &[u8]) -> Result<Value, String> {
    match ty.kind() {
        Kind::Array(element) => {
            return array::decode(raw, |item| match item {
                None => Ok(Value::Null),
                Some(bytes) => decode(element, bytes),
            });
        }
        Kind::Domain(base) => return decode(base, raw),
        Kind::Enum(_) => return text(raw),
        _ => {}
    }
    match *ty {
        Type::BOOL => Ok(Value::Bool(fixed::<1>(raw)?[0] != 0)),
        Type::INT2 => Ok(json!(i16::from_be_bytes(fixed(raw)?))),
        Type::INT4 => Ok(json!(i32::from_be_bytes(fixed(raw)?))),
        Type::INT8 => Ok(int8(i64::from_be_bytes(fixed(raw)?))),
        Type::OID => Ok(json!(u32::from_be_bytes(fixed(raw)?))),
        Type::FLOAT4 => Ok(float4(f32::from_be_bytes(fixed(raw)?))),
        Type::FLOAT8 => Ok(float(f64::from_be_bytes(fixed(raw)?))),
        Type::NUMERIC => Ok(numeric::to_json(&numeric::decode(raw)?)),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::XML => {
            text(raw)
        }
        Type::CHAR => Ok(Value::String(char::from(fixed::<1>(raw)?[0]).to_string())),
        Type::JSON => json_value(raw),
        Type::JSONB => match raw.split_first() {
            Some((1, rest)) => json_value(rest),
            _ => Err("unknown jsonb format version".to_owned()),
        },
        Type::BYTEA => Ok(Value::String(base64(raw))),
        Type::UUID => Ok(Value::String(
            uuid::Uuid::from_bytes(fixed(raw)?).hyphenated().to_string(),
        )),
        Type::DATE => Ok(Value::String(datetime::format_date(i32::from_be_bytes(
            fixed(raw)?,
        )))),
        Type::TIME => Ok(Value::String(datetime::format_time(i64::from_be_bytes(
            fixed(raw)?,
        )))),
        Type::TIMESTAMP => Ok(Value::String(datetime::format_timestamp(
            i64::from_be_bytes(fixed(raw)?),
            false,
        ))),
        Type::TIMESTAMPTZ => Ok(Value::String(datetime::format_timestamp(
            i64::from_be_bytes(fixed(raw)?),
            true,
        ))),
        Type::INTERVAL => crate::text::interval(raw).map(Value::String),
        Type::TIMETZ => crate::text::timetz(raw).map(Value::String),
        Type::INET => crate::text::inet(raw, false).map(Value::String),
        Type::CIDR => crate::text::inet(raw, true).map(Value::String),
        Type::MACADDR => crate::text::macaddr(raw, 6).map(Value::String),
        Type::MACADDR8 => crate::text::macaddr(raw, 8).map(Value::String),
        _ if ty.name() == "citext" => text(raw),
        _ => Ok(json!({ "type": ty.name(), "base64": base64(raw) })),
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], String> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", raw.len()))
}

fn text(raw: &[u8]) -> Result<Value, String> {
    std::str::from_utf8(raw)
        .map(|s| Value::String(s.to_owned()))
        .map_err(|_| "not valid UTF-8".to_owned())
}

fn json_value(raw: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(raw).map_err(|e| format!("not valid JSON: {e}"))
}

fn base64(raw: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn int8(i: i64) -> Value {
    if i.unsigned_abs() <= MAX_EXACT_INTEGER {
        Value::Number(i.into())
    } else {
        Value::String(i.to_string())
    }
}

/// A float4 as the shortest decimal that reads back as the same f32 (widening it to f64
/// first would print `0.1` as `0.10000000149011612`).
fn float4(f: f32) -> Value {
    if f.is_finite()
        && let Ok(wide) = f.to_string().parse::<f64>()
    {
        return float(wide);
    }
    float(f64::from(f))
}

fn float(f: f64) -> Value {
    match Number::from_f64(f) {
        Some(n) => Value::Number(n),
        None if f.is_nan() => Value::String("NaN".to_owned()),
        None if f > 0.0 => Value::String("Infinity".to_owned()),
        None => Value::String("-Infinity".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_int8_travels_as_a_string() {
        assert_eq!(int8(42), json!(42));
        assert_eq!(int8(i64::MAX), json!("9223372036854775807"));
    }

    #[test]
    fn non_finite_floats_are_strings() {
        assert_eq!(float(f64::NAN), json!("NaN"));
        assert_eq!(float(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(float(0.25), json!(0.25));
    }

    #[test]
    fn unknown_types_fall_back_to_named_base64() {
        let v = decode(&Type::POINT, &[0; 16]).unwrap();
        assert_eq!(v["type"], "point");
        assert_eq!(v["base64"], "AAAAAAAAAAAAAAAAAAAAAA==");
    }

    #[test]
    fn float4_values_print_as_their_f32_decimal() {
        // 0.1f32 widened to f64 prints as 0.10000000149011612: keep the f32's digits.
        let v = decode(&Type::FLOAT4, &0.1f32.to_be_bytes()).unwrap();
        assert_eq!(v, json!(0.1));
    }
}
