//! JSON value to XML text, by the mapping described in the crate docs.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::name::{is_xml_char, is_xml_name};
use crate::error::{TransformError, json_type};

/// Encodes `{"root": ...}` as a UTF-8 XML document with a declaration.
pub(crate) fn encode(value: &Value, max_depth: usize) -> Result<String, TransformError> {
    let (root, content) = match value {
        Value::Object(map) if map.len() == 1 => match map.iter().next() {
            Some(entry) => entry,
            // Unreachable: the guard says the map has exactly one entry.
            None => return Err(root_error(value)),
        },
        _ => return Err(root_error(value)),
    };
    if content.is_array() {
        return Err(TransformError::XmlRoot {
            found: format!("an array under {root:?} (a document has one root element)"),
        });
    }
    let mut writer = XmlWriter {
        out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
        path: Vec::new(),
        max_depth,
    };
    writer.child(root, content, 1)?;
    Ok(writer.out)
}

fn root_error(value: &Value) -> TransformError {
    let found = match value {
        Value::Object(map) => format!("an object with {} keys", map.len()),
        other => json_type(other).to_owned(),
    };
    TransformError::XmlRoot { found }
}

/// One step of the key path shown in errors.
#[derive(Debug, Clone, Copy)]
enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

struct XmlWriter<'v> {
    out: String,
    path: Vec<Step<'v>>,
    max_depth: usize,
}

impl<'v> XmlWriter<'v> {
    /// Writes `value` under the element name `key`: once, or once per item of an array.
    fn child(
        &mut self,
        key: &'v str,
        value: &'v Value,
        depth: usize,
    ) -> Result<(), TransformError> {
        self.path.push(Step::Key(key));
        if !is_xml_name(key) {
            return Err(self.invalid_name(key));
        }
        match value {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.path.push(Step::Index(index));
                    if item.is_array() {
                        return Err(self.shape("an array inside an array has no XML form"));
                    }
                    self.element(key, item, depth)?;
                    self.path.pop();
                }
            }
            _ => self.element(key, value, depth)?,
        }
        self.path.pop();
        Ok(())
    }

    /// Writes one element; `value` is not an array.
    fn element(
        &mut self,
        name: &str,
        value: &'v Value,
        depth: usize,
    ) -> Result<(), TransformError> {
        if depth > self.max_depth {
            return Err(TransformError::TooDeep {
                format: "XML",
                max: self.max_depth,
                at: self.path_text(),
            });
        }
        self.out.push('<');
        self.out.push_str(name);
        match value {
            Value::Null => self.out.push_str("/>"),
            Value::Object(map) => self.object_content(name, map, depth)?,
            scalar => {
                self.out.push('>');
                self.scalar(scalar, false)?;
                self.close(name);
            }
        }
        Ok(())
    }

    /// Writes the attributes, then text and children in key order, then the end tag (or
    /// turns the start tag into an empty-element tag when nothing was written).
    fn object_content(
        &mut self,
        name: &str,
        map: &'v Map<String, Value>,
        depth: usize,
    ) -> Result<(), TransformError> {
        for (key, value) in map {
            let Some(attribute) = key.strip_prefix('@') else {
                continue;
            };
            self.path.push(Step::Key(key));
            if !is_xml_name(attribute) {
                return Err(self.invalid_name(attribute));
            }
            if value.is_array() || value.is_object() {
                return Err(
                    self.shape("an attribute value must be a string, number, boolean or null")
                );
            }
            self.out.push(' ');
            self.out.push_str(attribute);
            self.out.push_str("=\"");
            self.scalar(value, true)?;
            self.out.push('"');
            self.path.pop();
        }
        self.out.push('>');
        let content_start = self.out.len();
        for (key, value) in map {
            if key.starts_with('@') {
                continue;
            }
            if key == "#text" {
                self.path.push(Step::Key(key));
                if value.is_array() || value.is_object() {
                    return Err(self.shape("#text must be a string, number, boolean or null"));
                }
                self.scalar(value, false)?;
                self.path.pop();
            } else {
                self.child(key, value, depth + 1)?;
            }
        }
        if self.out.len() == content_start {
            self.out.pop();
            self.out.push_str("/>");
        } else {
            self.close(name);
        }
        Ok(())
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    /// Writes a scalar as escaped text; null writes nothing.
    fn scalar(&mut self, value: &Value, in_attribute: bool) -> Result<(), TransformError> {
        match value {
            Value::String(text) => self.escaped(text, in_attribute),
            Value::Number(n) => {
                // Writing to a String cannot fail.
                let _ = write!(self.out, "{n}");
                Ok(())
            }
            Value::Bool(b) => {
                self.out.push_str(if *b { "true" } else { "false" });
                Ok(())
            }
            Value::Null | Value::Array(_) | Value::Object(_) => Ok(()),
        }
    }

    /// Escapes markup characters, and in attributes the quote and the whitespace that
    /// attribute-value normalization would otherwise turn into spaces. `\r` is escaped
    /// everywhere, since a parser turns a literal one into `\n`.
    fn escaped(&mut self, text: &str, in_attribute: bool) -> Result<(), TransformError> {
        for c in text.chars() {
            match c {
                '&' => self.out.push_str("&amp;"),
                '<' => self.out.push_str("&lt;"),
                // Always escaped, which also keeps "]]>" out of text.
                '>' => self.out.push_str("&gt;"),
                '\r' => self.out.push_str("&#13;"),
                '"' if in_attribute => self.out.push_str("&quot;"),
                '\n' if in_attribute => self.out.push_str("&#10;"),
                '\t' if in_attribute => self.out.push_str("&#9;"),
                c if is_xml_char(c) => self.out.push(c),
                c => {
                    return Err(TransformError::InvalidXmlChar {
                        path: self.path_text(),
                        code: u32::from(c),
                    });
                }
            }
        }
        Ok(())
    }

    fn invalid_name(&self, key: &str) -> TransformError {
        TransformError::InvalidXmlName {
            key: crate::error::clip(key, 60),
            path: self.path_text(),
        }
    }

    fn shape(&self, reason: &'static str) -> TransformError {
        TransformError::XmlShape {
            path: self.path_text(),
            reason,
        }
    }

    /// `order.item[1].@id`.
    fn path_text(&self) -> String {
        let mut text = String::new();
        for step in &self.path {
            match step {
                Step::Key(key) => {
                    if !text.is_empty() {
                        text.push('.');
                    }
                    text.push_str(&crate::error::clip(key, 60));
                }
                Step::Index(index) => {
                    let _ = write!(text, "[{index}]");
                }
            }
        }
        text
    }
}
