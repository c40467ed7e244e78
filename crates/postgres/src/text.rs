//! Types whose binary form this crate turns into PostgreSQL's own text form (as its
//! output function writes it, what `psql` shows, with the server's default settings): `interval` (the
//! `postgres` IntervalStyle), `inet`, `cidr`, `macaddr`, `macaddr8` and `timetz`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_HOUR: i64 = 3_600 * MICROS_PER_SECOND;

/// `interval`: 8 bytes of microseconds, 4 of days, 4 of months, shown as PostgreSQL's
/// default style does (`1 year 2 mons 3 days 04:05:06.5`, `-00:00:01`, `00:00:00`).
pub(crate) fn interval(raw: &[u8]) -> Result<String, String> {
    let raw: [u8; 16] = raw
        .try_into()
        .map_err(|_| format!("expected 16 bytes, got {}", raw.len()))?;
    let [
        m0,
        m1,
        m2,
        m3,
        m4,
        m5,
        m6,
        m7,
        d0,
        d1,
        d2,
        d3,
        n0,
        n1,
        n2,
        n3,
    ] = raw;
    let micros = i64::from_be_bytes([m0, m1, m2, m3, m4, m5, m6, m7]);
    let days = i32::from_be_bytes([d0, d1, d2, d3]);
    let months = i32::from_be_bytes([n0, n1, n2, n3]);
    // PostgreSQL 17's infinite intervals: every field at its bound.
    match (micros, days, months) {
        (i64::MAX, i32::MAX, i32::MAX) => return Ok("infinity".to_owned()),
        (i64::MIN, i32::MIN, i32::MIN) => return Ok("-infinity".to_owned()),
        _ => {}
    }
    let mut out = String::new();
    // A negative part makes the next positive one carry a `+`, as PostgreSQL does.
    let mut before = false;
    for (value, unit) in [
        (i64::from(months / 12), "year"),
        (i64::from(months % 12), "mon"),
        (i64::from(days), "day"),
    ] {
        if value == 0 {
            continue;
        }
        let space = if out.is_empty() { "" } else { " " };
        let plus = if before && value > 0 { "+" } else { "" };
        let plural = if value == 1 { "" } else { "s" };
        let _ = write!(out, "{space}{plus}{value} {unit}{plural}");
        before = value < 0;
    }
    if out.is_empty() || micros != 0 {
        let space = if out.is_empty() { "" } else { " " };
        let sign = if micros < 0 {
            "-"
        } else if before {
            "+"
        } else {
            ""
        };
        let abs = micros.unsigned_abs();
        let hours = abs / MICROS_PER_HOUR.unsigned_abs();
        let minutes = abs / 60_000_000 % 60;
        let seconds = abs / 1_000_000 % 60;
        let fraction = abs % 1_000_000;
        let _ = write!(out, "{space}{sign}{hours:02}:{minutes:02}:{seconds:02}");
        push_fraction(&mut out, fraction);
    }
    Ok(out)
}

/// `timetz`: 8 bytes of microseconds of the day, 4 of the zone in seconds west of UTC,
/// shown as `HH:MM:SS[.ffffff]+HH[:MM[:SS]]`.
pub(crate) fn timetz(raw: &[u8]) -> Result<String, String> {
    let raw: [u8; 12] = raw
        .try_into()
        .map_err(|_| format!("expected 12 bytes, got {}", raw.len()))?;
    let [t0, t1, t2, t3, t4, t5, t6, t7, z0, z1, z2, z3] = raw;
    let micros = i64::from_be_bytes([t0, t1, t2, t3, t4, t5, t6, t7]);
    let west = i32::from_be_bytes([z0, z1, z2, z3]);
    let mut out = String::with_capacity(24);
    let abs = micros.unsigned_abs();
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        abs / MICROS_PER_HOUR.unsigned_abs(),
        abs / 60_000_000 % 60,
        abs / 1_000_000 % 60
    );
    push_fraction(&mut out, abs % 1_000_000);
    // Stored west of UTC; shown east of it.
    let east = -i64::from(west);
    let sign = if east < 0 { '-' } else { '+' };
    let east = east.unsigned_abs();
    let _ = write!(out, "{sign}{:02}", east / 3600);
    if east % 3600 != 0 {
        let _ = write!(out, ":{:02}", east / 60 % 60);
        if east % 60 != 0 {
            let _ = write!(out, ":{:02}", east % 60);
        }
    }
    Ok(out)
}

/// `inet` and `cidr`: family, prefix bits, a cidr flag, the address length, then the
/// address. An `inet` shows its prefix only when it is not the whole address; a `cidr`
/// always does.
pub(crate) fn inet(raw: &[u8], cidr: bool) -> Result<String, String> {
    let Some((&[family, bits, _flag, length], address)) = raw.split_first_chunk::<4>() else {
        return Err(format!("expected at least 4 bytes, got {}", raw.len()));
    };
    if address.len() != usize::from(length) {
        return Err(format!(
            "the address is {} bytes, its length says {length}",
            address.len()
        ));
    }
    // PGSQL_AF_INET is AF_INET (2), PGSQL_AF_INET6 is AF_INET + 1.
    let (text, max) = match (family, address) {
        (2, &[a, b, c, d]) => (Ipv4Addr::new(a, b, c, d).to_string(), 32),
        (3, bytes) => {
            let bytes: [u8; 16] = bytes
                .try_into()
                .map_err(|_| format!("an IPv6 address of {} bytes", bytes.len()))?;
            (ipv6_text(bytes), 128)
        }
        _ => return Err(format!("unknown address family {family}")),
    };
    Ok(if cidr || bits != max {
        format!("{text}/{bits}")
    } else {
        text
    })
}

/// An IPv6 address as PostgreSQL writes it: RFC 5952 (as Rust does), except that an
/// IPv4-compatible address (96 zero bits, then an IPv4 address not within `0.0.x.x`)
/// ends in dotted form, `::1.2.3.4`.
fn ipv6_text(bytes: [u8; 16]) -> String {
    match bytes {
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, a, b, c, d] if a != 0 || b != 0 => {
            format!("::{a}.{b}.{c}.{d}")
        }
        _ => Ipv6Addr::from(bytes).to_string(),
    }
}

/// `macaddr` (6 bytes) and `macaddr8` (8): lowercase hex pairs joined by `:`.
pub(crate) fn macaddr(raw: &[u8], length: usize) -> Result<String, String> {
    if raw.len() != length {
        return Err(format!("expected {length} bytes, got {}", raw.len()));
    }
    let mut out = String::with_capacity(length * 3);
    for (i, byte) in raw.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02x}");
    }
    Ok(out)
}

/// `.ffffff` without trailing zeros, nothing for zero.
fn push_fraction(out: &mut String, micros: u64) {
    if micros != 0 {
        let digits = format!("{micros:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval_of(micros: i64, days: i32, months: i32) -> String {
        let mut raw = Vec::new();
        raw.extend_from_slice(&micros.to_be_bytes());
        raw.extend_from_slice(&days.to_be_bytes());
        raw.extend_from_slice(&months.to_be_bytes());
        interval(&raw).unwrap()
    }

    #[test]
    fn intervals_read_as_postgres_writes_them() {
        assert_eq!(interval_of(0, 0, 0), "00:00:00");
        assert_eq!(
            interval_of(4 * 3_600_000_000 + 5 * 60_000_000 + 6_500_000, 3, 14),
            "1 year 2 mons 3 days 04:05:06.5"
        );
        assert_eq!(interval_of(-1_000_000, 0, 0), "-00:00:01");
        assert_eq!(interval_of(-3_600_000_000, 1, 0), "1 day -01:00:00");
        assert_eq!(interval_of(3_600_000_000, -1, 0), "-1 days +01:00:00");
        assert_eq!(interval_of(0, 0, -13), "-1 years -1 mons");
        assert_eq!(interval_of(0, 1, 1), "1 mon 1 day");
        assert_eq!(interval_of(i64::MAX, i32::MAX, i32::MAX), "infinity");
        assert_eq!(interval_of(i64::MIN, i32::MIN, i32::MIN), "-infinity");
    }

    #[test]
    fn malformed_values_are_errors() {
        assert!(interval(&[0; 15]).is_err());
        assert!(timetz(&[0; 8]).is_err());
        assert!(inet(&[2, 32, 0, 4, 1, 2, 3], false).is_err());
        assert!(inet(&[9, 32, 0, 4, 1, 2, 3, 4], false).is_err());
        assert!(macaddr(&[0; 5], 6).is_err());
    }
}
