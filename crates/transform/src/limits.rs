//! Limits that keep hostile bodies from exhausting the stack or memory.

/// How deep and how large a body may be.
///
/// Decoding checks `max_bytes` on the input before it reads a byte of it, and `max_depth`
/// while it parses, so a body of 100,000 nested elements stops at the first element past the
/// limit with [`TransformError::TooDeep`](crate::TransformError::TooDeep), never a stack
/// overflow. Encoding checks `max_depth` on the value and `max_bytes` on the output.
///
/// JSON is parsed by `serde_json`, whose own recursion limit (documented as 128, which lets
/// 127 levels through) stays in force: decoding JSON caps `max_depth` at 127, so the default
/// admits 127 levels of JSON and 128 of XML. Keep `max_depth` in the hundreds at most: values deeper than a few thousand levels are
/// dropped and compared recursively by `serde_json`, on the stack.
///
/// ```
/// use flunq_transform::Limits;
///
/// let strict = Limits { max_depth: 16, max_bytes: 64 * 1024 };
/// assert_eq!(Limits::default().max_depth, 128);
/// # let _ = strict;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of JSON arrays and objects, or of XML elements (the root is level 1).
    pub max_depth: usize,
    /// Largest body to decode, and largest encoded body, in bytes.
    pub max_bytes: usize,
}

impl Limits {
    /// 128 levels (serde_json's own default, 127 in effect for JSON) and 10 MiB (the executor's `MAX_RESPONSE_BYTES`).
    pub const DEFAULT: Self = Self {
        max_depth: 128,
        max_bytes: 10 * 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
