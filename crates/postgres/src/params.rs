//! JSON parameters bound as typed values, by the types the server inferred at prepare.
//!
//! Each value is encoded here, in PostgreSQL's binary format for the parameter's type,
//! before anything is sent: an error names the parameter (`params[1]`) and the type.

use base64::Engine as _;
use bytes::BytesMut;
use serde_json::Value;
use tokio_postgres::types::{IsNull, Kind, ToSql, Type, to_sql_checked};

use crate::error::DatabaseError;
use crate::{array, datetime, numeric};

/// One parameter, already in its binary form (`None` is SQL NULL).
#[derive(Debug)]
pub(crate) struct EncodedParam(Option<Vec<u8>>);

impl ToSql for EncodedParam {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match &self.0 {
            None => Ok(IsNull::Yes),
            Some(bytes) => {
                out.extend_from_slice(bytes);
                Ok(IsNull::No)
            }
        }
    }

    // The bytes were encoded for exactly the statement's parameter type.
    fn accepts(_ty: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Encodes every parameter for the statement's parameter types.
pub(crate) fn encode_all(
    params: &[Value],
    types: &[Type],
) -> Result<Vec<EncodedParam>, DatabaseError> {
    if params.len() != types.len() {
        return Err(DatabaseError::ParameterCount {
            expected: types.len(),
            given: params.len(),
        });
    }
    params
        .iter()
        .zip(types)
        .enumerate()
        .map(|(index, (value, ty))| {
            let mut out = Vec::new();
            match encode(value, ty, &mut out) {
                Ok(IsNull::Yes) => Ok(EncodedParam(None)),
                Ok(IsNull::No) => Ok(EncodedParam(Some(out))),
                Err(reason) => Err(DatabaseError::invalid_parameter(index, ty, reason)),
            }
        })
        .collect()
}

/// Encodes one value; `Err` is the reason, without the parameter's index.
fn encode(value: &Value, ty: &Type, out: &mut Vec<u8>) -> Result<IsNull, String> {
    if value.is_null() {
        return Ok(IsNull::Yes);
    }
    match ty.kind() {
        Kind::Array(element) => return encode_array(value, element, out).map(|()| IsNull::No),
        Kind::Domain(base) => return encode(value, base, out),
        Kind::Enum(_) => {
            let label = value.as_str().ok_or("expected a string (an enum label)")?;
            out.extend_from_slice(label.as_bytes());
            return Ok(IsNull::No);
        }
        _ => {}
    }
    encode_scalar(value, ty, out)?;
    Ok(IsNull::No)
}

fn encode_scalar(value: &Value, ty: &Type, out: &mut Vec<u8>) -> Result<(), String> {
    match *ty {
        Type::BOOL => {
            let b = value.as_bool().ok_or("expected true or false")?;
            out.push(u8::from(b));
        }
        Type::INT2 => out.extend_from_slice(&integer::<i16>(value)?.to_be_bytes()),
        Type::INT4 => out.extend_from_slice(&integer::<i32>(value)?.to_be_bytes()),
        Type::INT8 => out.extend_from_slice(&integer::<i64>(value)?.to_be_bytes()),
        Type::OID => out.extend_from_slice(&integer::<u32>(value)?.to_be_bytes()),
        Type::FLOAT4 => {
            let f = float(value)?;
            let narrow = f as f32;
            if f.is_finite() && !narrow.is_finite() {
                return Err(format!("{f} is out of range for float4"));
            }
            out.extend_from_slice(&narrow.to_be_bytes());
        }
        Type::FLOAT8 => out.extend_from_slice(&float(value)?.to_be_bytes()),
        Type::NUMERIC => {
            let text = match value {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.trim().to_owned(),
                _ => return Err("expected a number or a decimal string".to_owned()),
            };
            numeric::encode(&text, out)?;
        }
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::XML => {
            match value {
                Value::String(s) => out.extend_from_slice(s.as_bytes()),
                Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
                Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
                _ => return Err("expected a string".to_owned()),
            }
        }
        Type::CHAR => {
            let s = value.as_str().ok_or("expected a one-byte string")?;
            match s.as_bytes() {
                [b] => out.push(*b),
                _ => return Err("expected a one-byte string".to_owned()),
            }
        }
        Type::JSON => write_json(value, out)?,
        Type::JSONB => {
            out.push(1); // jsonb's binary format version
            write_json(value, out)?;
        }
        Type::BYTEA => {
            let s = value.as_str().ok_or("expected a base64 string")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("not valid base64: {e}"))?;
            out.extend_from_slice(&bytes);
        }
        Type::UUID => {
            let s = value.as_str().ok_or("expected a UUID string")?;
            let id = uuid::Uuid::parse_str(s).map_err(|_| format!("`{s}` is not a UUID"))?;
            out.extend_from_slice(id.as_bytes());
        }
        Type::DATE => {
            let s = value
                .as_str()
                .ok_or("expected a date string (YYYY-MM-DD)")?;
            out.extend_from_slice(&datetime::parse_date(s)?.to_be_bytes());
        }
        Type::TIME => {
            let s = value.as_str().ok_or("expected a time string (HH:MM:SS)")?;
            out.extend_from_slice(&datetime::parse_time(s)?.to_be_bytes());
        }
        Type::TIMESTAMP | Type::TIMESTAMPTZ => {
            let s = value
                .as_str()
                .ok_or("expected an RFC 3339 timestamp string")?;
            out.extend_from_slice(&datetime::parse_timestamp(s)?.to_be_bytes());
        }
        _ if ty.name() == "citext" => {
            let s = value.as_str().ok_or("expected a string")?;
            out.extend_from_slice(s.as_bytes());
        }
        _ => {
            return Err(format!(
                "binding a JSON value to type {} is not supported: cast the parameter in SQL (e.g. $1::text::{})",
                ty.name(),
                ty.name()
            ));
        }
    }
    Ok(())
}

fn write_json(value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    serde_json::to_writer(out, value).map_err(|e| format!("cannot serialize JSON: {e}"))
}

/// An integer from a JSON integer, a float with no fraction, or a string of digits.
fn integer<T: TryFrom<i64> + TryFrom<u64>>(value: &Value) -> Result<T, String> {
    let out_of_range = || format!("{value} is out of range");
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                T::try_from(i).map_err(|_| out_of_range())
            } else if let Some(u) = n.as_u64() {
                T::try_from(u).map_err(|_| out_of_range())
            } else {
                match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                        T::try_from(f as i64).map_err(|_| out_of_range())
                    }
                    _ => Err(format!("{n} is not an integer")),
                }
            }
        }
        Value::String(s) => {
            let trimmed = s.trim();
            let digits = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("`{s}` is not an integer"));
            }
            let i: i64 = trimmed.parse().map_err(|_| out_of_range())?;
            T::try_from(i).map_err(|_| out_of_range())
        }
        _ => Err("expected an integer".to_owned()),
    }
}

/// A float from a JSON number, or a string: a decimal, `NaN`, `Infinity`, `-Infinity`.
fn float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
        Value::String(s) => match s.trim() {
            "NaN" => Ok(f64::NAN),
            "Infinity" | "+Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            t => t.parse().map_err(|_| format!("`{s}` is not a number")),
        },
        _ => Err("expected a number".to_owned()),
    }
}

fn encode_array(value: &Value, element: &Type, out: &mut Vec<u8>) -> Result<(), String> {
    let items = value.as_array().ok_or("expected a JSON array")?;
    // A JSON array inside a json[]/jsonb[] is one element, not a dimension.
    let nested = !matches!(*element, Type::JSON | Type::JSONB);
    let dims = array::shape(items, nested)?;
    let leaves = array::leaves(items, dims.len());
    array::write_header(
        out,
        &dims,
        leaves.iter().any(|v| v.is_null()),
        element.oid(),
    );
    for (i, leaf) in leaves.into_iter().enumerate() {
        let len_at = out.len();
        out.extend_from_slice(&[0; 4]);
        match encode(leaf, element, out).map_err(|e| format!("element {i}: {e}"))? {
            IsNull::Yes => out[len_at..len_at + 4].copy_from_slice(&(-1i32).to_be_bytes()),
            IsNull::No => {
                let len = i32::try_from(out.len() - len_at - 4)
                    .map_err(|_| format!("element {i} is too large"))?;
                out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn enc(v: &Value, ty: &Type) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        encode(v, ty, &mut out).map(|_| out)
    }

    #[test]
    fn integers_accept_digit_strings_and_check_range() {
        assert_eq!(
            enc(&json!("-7"), &Type::INT4).unwrap(),
            (-7i32).to_be_bytes()
        );
        assert!(
            enc(&json!(40000), &Type::INT2)
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            enc(&json!(1.5), &Type::INT8)
                .unwrap_err()
                .contains("not an integer")
        );
        assert!(enc(&json!("12a"), &Type::INT8).is_err());
    }

    #[test]
    fn errors_name_the_parameter_and_type() {
        let err = encode_all(&[json!(1), json!("x")], &[Type::INT4, Type::INT4]).unwrap_err();
        assert_eq!(err.to_string(), "params[1] (int4): `x` is not an integer");
    }

    #[test]
    fn one_dimensional_array_with_null() {
        let out = enc(&json!([1, null]), &Type::INT4_ARRAY).unwrap();
        let mut expected = Vec::new();
        for word in [1i32, 1, 23, 2, 1, 4, 1, -1] {
            expected.extend_from_slice(&word.to_be_bytes());
        }
        assert_eq!(out, expected);
    }

    #[test]
    fn unsupported_types_say_so() {
        let err = enc(&json!("(1,2)"), &Type::POINT).unwrap_err();
        assert!(err.contains("point"), "{err}");
    }
}
