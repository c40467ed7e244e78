//! PostgreSQL's binary array format, any number of dimensions:
//! `ndim: i32, has_nulls: i32, element_oid: u32, (len: i32, lower_bound: i32) × ndim`,
//! then each element as `len: i32` (`-1` for NULL) and its bytes.

use serde_json::Value;

/// Reads a binary array into nested JSON arrays, each element decoded by `element`.
pub(crate) fn decode(
    raw: &[u8],
    mut element: impl FnMut(Option<&[u8]>) -> Result<Value, String>,
) -> Result<Value, String> {
    let mut cursor = Cursor { raw, at: 0 };
    let ndim = cursor.i32()?;
    let _has_nulls = cursor.i32()?;
    let _element_oid = cursor.i32()?;
    if ndim == 0 {
        return Ok(Value::Array(Vec::new()));
    }
    let dims = (0..ndim)
        .map(|_| {
            let len = cursor.i32()?;
            let _lower_bound = cursor.i32()?;
            usize::try_from(len).map_err(|_| "negative array dimension".to_owned())
        })
        .collect::<Result<Vec<_>, String>>()?;
    let total = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d));
    let total = total.ok_or("array too large")?;
    let mut flat = Vec::with_capacity(total.min(raw.len()));
    for _ in 0..total {
        let len = cursor.i32()?;
        let bytes = match usize::try_from(len) {
            Ok(len) => Some(cursor.take(len)?),
            Err(_) => None,
        };
        flat.push(element(bytes)?);
    }
    Ok(nest(&mut flat.into_iter(), &dims))
}

fn nest(flat: &mut impl Iterator<Item = Value>, dims: &[usize]) -> Value {
    match dims.split_first() {
        None => flat.next().unwrap_or(Value::Null),
        Some((len, [])) => Value::Array(flat.take(*len).collect()),
        Some((len, inner)) => Value::Array((0..*len).map(|_| nest(flat, inner)).collect()),
    }
}

struct Cursor<'a> {
    raw: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).ok_or("truncated array")?;
        let bytes = self.raw.get(self.at..end).ok_or("truncated array")?;
        self.at = end;
        Ok(bytes)
    }

    fn i32(&mut self) -> Result<i32, String> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// The shape of nested JSON arrays: the length of each dimension. Ragged arrays are
/// refused, as PostgreSQL refuses them.
pub(crate) fn shape(value: &[Value], nested: bool) -> Result<Vec<usize>, String> {
    let mut dims = vec![value.len()];
    if !nested {
        return Ok(dims);
    }
    let mut level: Vec<&Value> = value.iter().collect();
    while let Some(Value::Array(first)) = level.first() {
        let len = first.len();
        let mut next = Vec::with_capacity(level.len() * len);
        for v in &level {
            match v {
                Value::Array(a) if a.len() == len => next.extend(a.iter()),
                _ => return Err("multi-dimensional arrays must be rectangular".to_owned()),
            }
        }
        dims.push(len);
        level = next;
        if len == 0 {
            break;
        }
    }
    if level.iter().any(|v| v.is_array()) {
        return Err("multi-dimensional arrays must be rectangular".to_owned());
    }
    Ok(dims)
}

/// The leaves of nested arrays in row-major order, `depth` levels down.
pub(crate) fn leaves(value: &[Value], depth: usize) -> Vec<&Value> {
    let mut level: Vec<&Value> = value.iter().collect();
    for _ in 1..depth {
        level = level
            .into_iter()
            .flat_map(|v| v.as_array().into_iter().flatten())
            .collect();
    }
    level
}

/// Writes an array header; the caller appends the elements.
pub(crate) fn write_header(out: &mut Vec<u8>, dims: &[usize], has_nulls: bool, oid: u32) {
    let dims: &[usize] = if dims.contains(&0) { &[] } else { dims };
    out.extend_from_slice(&(dims.len() as i32).to_be_bytes());
    out.extend_from_slice(&i32::from(has_nulls).to_be_bytes());
    out.extend_from_slice(&oid.to_be_bytes());
    for d in dims {
        // `shape` counts JSON array lengths, which fit in i32 for any request that
        // passed the server's size limit; `try_from` keeps that honest.
        out.extend_from_slice(&i32::try_from(*d).unwrap_or(i32::MAX).to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_of_nested_arrays() {
        let v = json!([[1, 2, 3], [4, 5, 6]]);
        assert_eq!(shape(v.as_array().unwrap(), true).unwrap(), vec![2, 3]);
        let ragged = json!([[1, 2], [3]]);
        assert!(shape(ragged.as_array().unwrap(), true).is_err());
        let mixed = json!([[1], 2]);
        assert!(shape(mixed.as_array().unwrap(), true).is_err());
    }

    #[test]
    fn leaves_are_row_major() {
        let v = json!([[1, 2], [3, 4]]);
        let l: Vec<_> = leaves(v.as_array().unwrap(), 2)
            .into_iter()
            .cloned()
            .collect();
        assert_eq!(l, vec![json!(1), json!(2), json!(3), json!(4)]);
    }
}
