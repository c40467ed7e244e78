//! The charsets this crate reads and writes: UTF-8, windows-1252 (which also serves the
//! ISO-8859-1 and US-ASCII labels, as the WHATWG Encoding Standard and every browser do) and
//! UTF-16. A byte-order mark wins over the label.
//!
//! Why no `encoding_rs`: the three families above cover what HTTP APIs send in practice, and
//! windows-1252 is one 32-entry table; the legacy CJK encodings would add half a megabyte of
//! tables for servers that, today, almost all speak UTF-8.

use std::borrow::Cow;

use crate::error::{TransformError, clip};

/// A supported charset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Charset {
    Utf8,
    Windows1252,
    Utf16Le,
    Utf16Be,
}

impl Charset {
    /// The charset for a (lower-cased) label, following the WHATWG label table for the
    /// charsets we support.
    pub(crate) fn from_label(label: &str) -> Result<Self, TransformError> {
        Ok(match label.trim() {
            "utf-8" | "utf8" | "unicode-1-1-utf-8" | "unicode11utf8" | "unicode20utf8"
            | "x-unicode20utf8" => Self::Utf8,
            // WHATWG maps all of these to windows-1252: servers that say latin-1 mostly mean
            // it, and the 0x80-0x9F range is C1 controls in latin-1 that nobody sends.
            "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "iso88591" | "iso_8859-1:1987"
            | "latin1" | "l1" | "cp819" | "ibm819" | "iso-ir-100" | "csisolatin1"
            | "windows-1252" | "cp1252" | "x-cp1252" | "us-ascii" | "ascii" | "ansi_x3.4-1968"
            | "iso-ir-6" | "cp367" | "ibm367" => Self::Windows1252,
            "utf-16le" | "utf-16" | "unicode" | "ucs-2" | "csunicode" | "iso-10646-ucs-2" => {
                Self::Utf16Le
            }
            "utf-16be" | "unicodefffe" => Self::Utf16Be,
            other => {
                return Err(TransformError::UnsupportedCharset {
                    charset: clip(other, 40),
                });
            }
        })
    }

    /// The charset a byte-order mark announces, and the length of the mark.
    pub(crate) fn from_bom(bytes: &[u8]) -> Option<(Self, usize)> {
        match bytes {
            [0xEF, 0xBB, 0xBF, ..] => Some((Self::Utf8, 3)),
            [0xFF, 0xFE, ..] => Some((Self::Utf16Le, 2)),
            [0xFE, 0xFF, ..] => Some((Self::Utf16Be, 2)),
            _ => None,
        }
    }

    /// Decodes `bytes` (after any BOM). With `lossy`, malformed sequences become U+FFFD;
    /// without, they give `None`. Windows-1252 decodes every byte.
    pub(crate) fn decode(self, bytes: &[u8], lossy: bool) -> Option<Cow<'_, str>> {
        match self {
            Self::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => Some(Cow::Borrowed(text)),
                Err(_) if lossy => Some(String::from_utf8_lossy(bytes)),
                Err(_) => None,
            },
            Self::Windows1252 => Some(decode_windows_1252(bytes)),
            Self::Utf16Le => decode_utf16(bytes, u16::from_le_bytes, lossy).map(Cow::Owned),
            Self::Utf16Be => decode_utf16(bytes, u16::from_be_bytes, lossy).map(Cow::Owned),
        }
    }

    /// Encodes `text`; windows-1252 refuses characters it cannot represent.
    pub(crate) fn encode(self, text: &str) -> Result<Vec<u8>, TransformError> {
        match self {
            Self::Utf8 => Ok(text.as_bytes().to_vec()),
            Self::Windows1252 => text
                .chars()
                .map(|c| {
                    encode_windows_1252(c).ok_or(TransformError::Unencodable {
                        charset: "windows-1252",
                        code: u32::from(c),
                    })
                })
                .collect(),
            Self::Utf16Le => Ok(text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
            Self::Utf16Be => Ok(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
        }
    }
}

/// Decodes `bytes`: the BOM's charset if there is one, else `label`'s, else UTF-8.
/// `Ok(None)` when the bytes are malformed and `lossy` is off.
pub(crate) fn decode_text<'a>(
    bytes: &'a [u8],
    label: Option<&str>,
    lossy: bool,
) -> Result<Option<Cow<'a, str>>, TransformError> {
    if let Some((charset, bom)) = Charset::from_bom(bytes) {
        return Ok(charset.decode(&bytes[bom..], lossy));
    }
    let charset = label.map_or(Ok(Charset::Utf8), Charset::from_label)?;
    Ok(charset.decode(bytes, lossy))
}

/// Code points of windows-1252 bytes 0x80 to 0x9F (the five undefined ones map to the C1
/// control of the same number, as in WHATWG).
const WINDOWS_1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

fn decode_windows_1252(bytes: &[u8]) -> Cow<'_, str> {
    if bytes.is_ascii() {
        // ASCII bytes are valid UTF-8 as they are.
        return String::from_utf8_lossy(bytes);
    }
    let text = bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => WINDOWS_1252_HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect();
    Cow::Owned(text)
}

fn encode_windows_1252(c: char) -> Option<u8> {
    match u32::from(c) {
        code @ (0..=0x7F | 0xA0..=0xFF) => u8::try_from(code).ok(),
        _ => WINDOWS_1252_HIGH
            .iter()
            .position(|&high| high == c)
            .and_then(|i| u8::try_from(0x80 + i).ok()),
    }
}

fn decode_utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16, lossy: bool) -> Option<String> {
    let pairs = bytes.chunks_exact(2);
    let odd_byte = !pairs.remainder().is_empty();
    let units = pairs.map(|pair| unit([pair[0], pair[1]]));
    let mut text = String::with_capacity(bytes.len() / 2);
    for c in char::decode_utf16(units) {
        match c {
            Ok(c) => text.push(c),
            Err(_) if lossy => text.push(char::REPLACEMENT_CHARACTER),
            Err(_) => return None,
        }
    }
    if odd_byte {
        if !lossy {
            return None;
        }
        text.push(char::REPLACEMENT_CHARACTER);
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let text = Charset::Windows1252.decode(&all, false).unwrap();
        assert_eq!(Charset::Windows1252.encode(&text).unwrap(), all);
    }

    #[test]
    fn windows_1252_maps_smart_quotes_and_euro() {
        let text = Charset::Windows1252
            .decode(b"\x93hi\x94 \x80", false)
            .unwrap();
        assert_eq!(text, "\u{201C}hi\u{201D} \u{20AC}");
    }

    #[test]
    fn windows_1252_refuses_what_it_cannot_hold() {
        assert!(Charset::Windows1252.encode("\u{4E2D}").is_err());
    }

    #[test]
    fn utf16_decodes_both_orders_and_checks_pairs() {
        assert_eq!(Charset::Utf16Le.decode(b"h\0i\0", false).unwrap(), "hi");
        assert_eq!(Charset::Utf16Be.decode(b"\0h\0i", false).unwrap(), "hi");
        assert_eq!(Charset::Utf16Le.decode(b"h\0i", false), None);
        assert_eq!(Charset::Utf16Le.decode(b"\x00\xD8", false), None);
        assert_eq!(
            Charset::Utf16Le.decode(b"\x00\xD8", true).unwrap(),
            "\u{FFFD}"
        );
    }

    #[test]
    fn bom_wins_over_label() {
        let text = decode_text(b"\xEF\xBB\xBFcaf\xC3\xA9", Some("iso-8859-1"), false).unwrap();
        assert_eq!(text.unwrap(), "caf\u{e9}");
    }

    #[test]
    fn unknown_label_is_an_error() {
        assert!(matches!(
            decode_text(b"x", Some("shift_jis"), true),
            Err(TransformError::UnsupportedCharset { .. })
        ));
    }
}
