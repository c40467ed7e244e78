//! JSON, XML, form and text encodings of HTTP bodies, to and from [`serde_json::Value`].
//!
//! A workflow engine describes a request body as JSON whatever the upstream speaks, and wants
//! the response back as JSON whatever the upstream answered. This crate does both halves:
//! [`encode`] turns a value into the bytes that a `Content-Type` calls for, and [`decode`]
//! turns a response body into a value, by its `Content-Type` or by an explicit
//! [`ResponseFormat`]. Use it wherever a JSON-shaped API must talk to XML, form or text
//! endpoints (the flunq executor does, for the `body` and `result.body` of an http task).
//!
//! # Example
//!
//! ```
//! use flunq_transform::{decode, encode, ResponseFormat};
//! use serde_json::json;
//!
//! let order = json!({"order": {"@id": "42", "item": ["tea", "milk"], "note": "5 < 6 & 7"}});
//! let body = encode(&order, "application/xml; charset=utf-8")?;
//! assert_eq!(
//!     String::from_utf8_lossy(&body.bytes),
//!     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
//!      <order id=\"42\"><item>tea</item><item>milk</item><note>5 &lt; 6 &amp; 7</note></order>"
//! );
//!
//! // And back: the same shape, so decode(encode(x)) == x for values of that shape.
//! let back = decode(&body.bytes, Some("application/xml"), ResponseFormat::Auto)?;
//! assert_eq!(back, order);
//!
//! // Other syntaxes, chosen by Content-Type (parameters and case ignored).
//! assert_eq!(encode(&json!({"a": 1}), "Application/JSON; charset=utf-8")?.bytes, br#"{"a":1}"#);
//! assert_eq!(decode(b"a=1&a=2&b=x", Some("application/x-www-form-urlencoded"),
//!                   ResponseFormat::Auto)?, json!({"a": ["1", "2"], "b": "x"}));
//! assert_eq!(decode(b"caf\xE9", Some("text/plain; charset=ISO-8859-1"),
//!                   ResponseFormat::Auto)?, json!("caf\u{e9}"));
//! assert_eq!(decode(&[0xFF, 0x00], Some("image/png"), ResponseFormat::Auto)?,
//!            json!({"base64": "/wA="}));
//! # Ok::<(), flunq_transform::TransformError>(())
//! ```
//!
//! # Encoding a request body
//!
//! The `Content-Type` is parsed with its parameters and case ignored
//! (`Application/JSON; charset=utf-8` is JSON).
//!
//! | content type | the value | becomes |
//! | --- | --- | --- |
//! | `application/json`, `text/json`, `*/*+json` | any | its JSON text |
//! | `application/xml`, `text/xml`, `*/*+xml` | `{"root": ...}` | an XML document (below) |
//! | `application/x-www-form-urlencoded` | a flat object | `k=v&k=v`: scalars as text, null as empty, an array as the key repeated; a nested object or array is refused |
//! | `text/*` (or any type with a `charset`) | a string | the string as is, in the charset |
//! | `text/*` | anything else | its compact JSON text: `42`, `true`, `null`, `{"a":1}` |
//! | anything else | a string, or `{"base64": "..."}` | the string's UTF-8 bytes, or the decoded bytes |
//!
//! For XML and form content types a *string* is taken as a body the caller already wrote in
//! that syntax and is sent unchanged. Text is encoded in the `charset` of the content type
//! (UTF-8, ISO-8859-1/windows-1252 or UTF-16); generated JSON and XML are UTF-8 and refuse a
//! content type that names another charset.
//!
//! # The XML mapping
//!
//! A convention, in both directions:
//!
//! * the single top-level key is the root element (`{}` or two keys is an error, as is an
//!   array under the root key: a document has one root);
//! * an object key is a child element, in key order (`serde_json`'s `preserve_order` is on,
//!   since XML schemas often fix the order of elements);
//! * a key `"@name"` is the attribute `name`; `"#text"` is the element's text;
//! * an array is the element repeated under the same name;
//! * a string, number or boolean is text; `null` is an empty element `<a/>`;
//! * names keep their prefixes (`"soap:Envelope"`, `"@xmlns:soap"`): namespaces are not
//!   resolved, so the document round-trips as written;
//! * names must be XML names: a key like `"first name"` or `"1st"` is an error naming it;
//! * text and attributes are escaped (`&amp;`, `&lt;`, `&gt;`, so `]]>` cannot appear;
//!   `&quot;` and `&#10;`-style references for quotes and line breaks in attributes); a
//!   character XML 1.0 forbids (such as U+0001) is an error naming the key.
//!
//! ```text
//! {"soap:Envelope": {                      <soap:Envelope xmlns:soap="urn:s">
//!   "@xmlns:soap": "urn:s",                  <soap:Body>
//!   "soap:Body": {                             <price currency="EUR">9.5</price>
//!     "price": {"@currency": "EUR",            <tag>a</tag><tag>b</tag>
//!               "#text": 9.5},                 <gift/>
//!     "tag": ["a", "b"],                     </soap:Body>
//!     "gift": null}}}                      </soap:Envelope>
//! ```
//!
//! Decoding reads the same shape back: attributes as `"@name"`; an element with neither
//! attributes nor children as a plain string (`<a/>` and `<a></a>` are `""`); text next to
//! attributes or children as `"#text"` (trimmed when there are children, so indentation does
//! not count); repeated elements as an array. The left side above, decoded from the right,
//! comes back with `"9.5"` for the price and `""` for the gift: XML has no types, so every
//! scalar comes back a string, and `null` comes back `""`. Hence `decode(encode(x)) == x`
//! holds for values whose scalars are strings, whose arrays have at least two items, whose
//! objects are not empty and not `#text` alone, and whose `#text` beside children has no
//! surrounding spaces: the shape decoding produces. The round-trip tests generate exactly
//! these.
//!
//! The XML declaration, comments, processing instructions and the DOCTYPE are skipped.
//! CDATA sections are text. Character references and the five predefined entities are
//! resolved; any other entity is an error and is never expanded, so a DTD cannot turn a small
//! body into a huge one. A tag or attribute name that is not an XML name (`<#text>`,
//! `@x="1"`) and a character XML 1.0 forbids are errors too, which keeps the mapping
//! unambiguous: no element can pose as `#text` or as an attribute.
//!
//! # Decoding a response body
//!
//! | format | body |
//! | --- | --- |
//! | `json` / `xml` | parsed, whatever the `Content-Type`; invalid is an error |
//! | `text` | a string in the `Content-Type`'s charset; malformed bytes become U+FFFD |
//! | `base64` | `{"base64": "..."}` |
//! | `auto` (default) | by `Content-Type`, as follows |
//!
//! Under `auto`: JSON types are parsed as JSON, XML types as XML, form data into an object
//! (a repeated key becomes an array of its values, in order), `text/*` and types with a
//! `charset` into a string, anything else into `{"base64": "..."}`. Without a
//! `Content-Type`, valid UTF-8 is a string and anything else base64. A body that is not what
//! its header claims (an HTML error page sent as `application/json`) falls back to a string,
//! or to base64 when it is not valid text: the server is at fault, not the caller, and the
//! body is still worth seeing. An empty JSON or XML body is `null`.
//!
//! Charsets: a byte-order mark wins, then the `charset` parameter (then, for XML, the
//! `encoding` of its declaration), then UTF-8. Supported are UTF-8, UTF-16 and windows-1252,
//! which also serves ISO-8859-1 and US-ASCII labels as browsers do (the WHATWG Encoding
//! Standard); byte `0xE9` is `é` under all three labels.
//!
//! # Limits
//!
//! [`Limits`] bounds nesting depth (JSON arrays and objects, XML elements; default 128, and
//! never more than 127 for JSON, serde_json's own recursion limit) and size (default 10 MiB,
//! checked before a byte is parsed). JSON depth is checked by a scan before `serde_json`
//! parses, XML depth by the iterative reader's own stack, so 100,000 nested arrays or
//! elements stop with [`TransformError::TooDeep`] at the first level past the limit rather
//! than overflowing the stack. Encoding checks the depth of the value the same way. No input
//! panics: the decoders are fuzzed (`crates/transform/fuzz`) and property-tested.
//!
//! # Compared with other crates
//!
//! * **`quick-xml`'s serde support and `serde-xml-rs`** map XML onto Rust *types*: the shape
//!   is fixed at compile time by a struct. A workflow engine has no struct, only JSON it was
//!   handed at run time. Deserialized into a `serde_json::Value` instead, an element is a map
//!   with repeated keys, so repeated elements collapse into the last one, and the root
//!   element's name is dropped. So we use a *convention* that any JSON value maps through,
//!   on `quick-xml`'s reader (fast, streaming, iterative). Its serde support spells
//!   attributes `@name` too, and text `$text` where we write `#text`.
//! * **n8n's XML node** (and much of the JavaScript world) uses `xml2js`, with `$` for the
//!   attribute object and `_` for text: `{"price": {"$": {"currency": "EUR"}, "_": "9.5"}}`
//!   is our `{"price": {"@currency": "EUR", "#text": "9.5"}}`. We follow the `@`/`#text`
//!   convention of Newtonsoft.Json and `xmltodict`, where each attribute is its own key. Like
//!   `xml2js` with `explicitArray: false`, a single element is a value and a repeated one an
//!   array: friendlier to read, at the price that the same element may be either shape
//!   depending on how many the server sent.
//! * **`serde_urlencoded`** encodes structs; for a `Value` it refuses arrays, which here
//!   become repeated keys (`tag=a&tag=b`, what most servers expect).
//!
//! What we lack: namespace resolution (prefixes are kept verbatim), mixed content keeps its
//! text but not its interleaving with children, and charsets beyond UTF-8, UTF-16 and
//! windows-1252 (the legacy CJK ones, say) are refused on encode and fall back to UTF-8 or
//! base64 on decode.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod charset;
mod decode;
mod encode;
mod error;
mod form;
mod format;
mod json;
mod limits;
mod media;
mod xml;

pub use decode::{decode, decode_with_limits};
pub use encode::{Encoded, encode, encode_with_limits};
pub use error::TransformError;
pub use format::ResponseFormat;
pub use limits::Limits;
