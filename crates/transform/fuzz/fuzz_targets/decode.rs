//! Feeds arbitrary bytes, content types and formats to the decoders, then re-encodes what
//! decoded. Nothing may panic, overflow the stack or run away with memory.
//!
//! Input layout: byte 0 picks the format; byte 1 picks a content type from `CONTENT_TYPES`,
//! or (from 0xC0 up) says that the next `byte - 0xC0` bytes are the content type itself;
//! the rest is the body.
#![no_main]

use flunq_transform::{Limits, ResponseFormat, decode_with_limits, encode_with_limits};
use libfuzzer_sys::fuzz_target;

const FORMATS: [ResponseFormat; 5] = [
    ResponseFormat::Auto,
    ResponseFormat::Json,
    ResponseFormat::Xml,
    ResponseFormat::Text,
    ResponseFormat::Base64,
];

const CONTENT_TYPES: [Option<&str>; 8] = [
    Some("application/json"),
    Some("application/xml"),
    Some("text/xml; charset=iso-8859-1"),
    Some("application/x-www-form-urlencoded"),
    Some("text/plain; charset=windows-1252"),
    Some("text/plain; charset=utf-16"),
    Some("image/png"),
    None,
];

const LIMITS: Limits = Limits {
    max_depth: 32,
    max_bytes: 64 * 1024,
};

fuzz_target!(|data: &[u8]| {
    let [format, selector, rest @ ..] = data else {
        return;
    };
    let format = FORMATS[usize::from(*format) % FORMATS.len()];
    let (content_type, body) = if *selector >= 0xC0 {
        let len = usize::from(*selector - 0xC0).min(rest.len());
        let (content_type, body) = rest.split_at(len);
        (
            Some(String::from_utf8_lossy(content_type).into_owned()),
            body,
        )
    } else {
        let index = usize::from(*selector) % CONTENT_TYPES.len();
        (CONTENT_TYPES[index].map(str::to_owned), rest)
    };
    let Ok(value) = decode_with_limits(body, content_type.as_deref(), format, LIMITS) else {
        return;
    };
    // Whatever decoding produced, encoding it must not panic either.
    for content_type in [
        "application/json",
        "application/xml",
        "application/x-www-form-urlencoded",
        "text/plain; charset=latin1",
        "application/octet-stream",
    ] {
        let _ = encode_with_limits(&value, content_type, LIMITS);
    }
    // And XML that decoded must re-encode and decode to the same value (the documented
    // round trip for the shape decoding produces).
    if format == ResponseFormat::Xml {
        if let Ok(encoded) = encode_with_limits(&value, "application/xml", LIMITS) {
            let again = decode_with_limits(&encoded.bytes, None, ResponseFormat::Xml, LIMITS);
            assert_eq!(
                again.as_ref().ok(),
                Some(&value),
                "XML round trip changed the value"
            );
        }
    }
});
