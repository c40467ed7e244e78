//! XML text to JSON value, by the mapping described in the crate docs.
//!
//! The reader is iterative: open elements live on a heap stack whose height is checked
//! against the depth limit before each push, so no input can overflow the call stack.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::reader::Reader;
use serde_json::{Map, Value};

use super::name::{is_xml_char, is_xml_name};
use crate::error::{TransformError, clip, line_column};
use crate::form::insert_repeated;

/// An element whose end tag has not been read yet.
struct Open {
    name: String,
    /// `"@attribute"` keys first, then child elements in document order.
    fields: Map<String, Value>,
    text: String,
    has_children: bool,
}

impl Open {
    /// The element's value: its text alone when it has neither attributes nor children,
    /// else an object with `"#text"` for text (trimmed when there are children, so that
    /// indentation does not count; dropped when empty).
    fn finish(self) -> (String, Value) {
        if self.fields.is_empty() {
            return (self.name, Value::String(self.text));
        }
        let mut fields = self.fields;
        let text = if self.has_children {
            self.text.trim_matches(is_xml_space).to_owned()
        } else {
            self.text
        };
        if !text.is_empty() {
            fields.insert("#text".to_owned(), Value::String(text));
        }
        (self.name, Value::Object(fields))
    }
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Reads one document into `{"root": ...}`.
pub(crate) fn decode(text: &str, max_depth: usize) -> Result<Value, TransformError> {
    let mut document = Document {
        text,
        reader: Reader::from_str(text),
        open: Vec::new(),
        root: None,
        max_depth,
    };
    document.read()
}

struct Document<'a> {
    text: &'a str,
    reader: Reader<&'a [u8]>,
    open: Vec<Open>,
    root: Option<Value>,
    max_depth: usize,
}

impl<'a> Document<'a> {
    fn read(&mut self) -> Result<Value, TransformError> {
        loop {
            let event = match self.reader.read_event() {
                Ok(event) => event,
                Err(err) => {
                    let at = self.reader.error_position();
                    return Err(self.error_at(at, &err.to_string()));
                }
            };
            match event {
                Event::Start(start) => {
                    let open = self.open_element(&start)?;
                    self.open.push(open);
                }
                Event::Empty(start) => {
                    let open = self.open_element(&start)?;
                    self.close(open);
                }
                Event::End(_) => match self.open.pop() {
                    Some(open) => self.close(open),
                    // quick-xml refuses unmatched end tags before we get here.
                    None => return Err(self.error_here("end tag without a start tag")),
                },
                Event::Text(text) => {
                    let text = text
                        .xml10_content()
                        .map_err(|e| self.error_here(&e.to_string()))?;
                    self.push_text(&text)?;
                }
                Event::CData(data) => {
                    let data = data
                        .xml10_content()
                        .map_err(|e| self.error_here(&e.to_string()))?;
                    self.push_text(&data)?;
                }
                Event::GeneralRef(reference) => {
                    let c = self.resolve(&reference)?;
                    self.push_text(c.encode_utf8(&mut [0; 4]))?;
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
                Event::Eof => break,
            }
        }
        if let Some(open) = self.open.last() {
            let message = format!("element <{}> is not closed", clip(&open.name, 60));
            return Err(self.error_here(&message));
        }
        self.root
            .take()
            .ok_or_else(|| self.error_here("the document has no root element"))
    }

    /// Checks the depth, then reads the name and attributes of a start tag.
    fn open_element(&self, start: &BytesStart<'_>) -> Result<Open, TransformError> {
        let name = self.xml_name(start.name().as_ref())?.to_owned();
        if self.open.is_empty() && self.root.is_some() {
            let message = format!("a second root element <{}>", clip(&name, 60));
            return Err(self.error_here(&message));
        }
        if self.open.len() >= self.max_depth {
            let (line, column) = self.line_column(self.reader.buffer_position());
            return Err(TransformError::TooDeep {
                format: "XML",
                max: self.max_depth,
                at: format!(
                    "element <{}> at line {line}, column {column}",
                    clip(&name, 60)
                ),
            });
        }
        let mut fields = Map::new();
        for attribute in start.attributes() {
            let attribute = attribute.map_err(|e| self.error_here(&e.to_string()))?;
            let key = format!("@{}", self.xml_name(attribute.key.as_ref())?);
            let value = attribute
                .decoded_and_normalized_value(XmlVersion::Implicit1_0, self.reader.decoder())
                .map_err(|e| self.error_here(&e.to_string()))?;
            self.check_chars(&value)?;
            fields.insert(key, Value::String(value.into_owned()));
        }
        Ok(Open {
            name,
            fields,
            text: String::new(),
            has_children: false,
        })
    }

    /// Hands a finished element to its parent, or makes it the root.
    fn close(&mut self, open: Open) {
        let (name, value) = open.finish();
        match self.open.last_mut() {
            Some(parent) => {
                parent.has_children = true;
                insert_repeated(&mut parent.fields, name, value);
            }
            None => {
                let mut root = Map::new();
                root.insert(name, value);
                self.root = Some(Value::Object(root));
            }
        }
    }

    fn push_text(&mut self, text: &str) -> Result<(), TransformError> {
        self.check_chars(text)?;
        match self.open.last_mut() {
            Some(open) => {
                open.text.push_str(text);
                Ok(())
            }
            None if text.chars().all(is_xml_space) => Ok(()),
            None => Err(self.error_here("text outside the root element")),
        }
    }

    /// The character a reference stands for: a character reference, or one of the five
    /// predefined entities. Other entities are refused, never expanded, so a DTD cannot
    /// make a small document large ("billion laughs").
    fn resolve(&self, reference: &BytesRef<'_>) -> Result<char, TransformError> {
        let invalid = |what: &str| {
            let name = String::from_utf8_lossy(reference);
            self.error_here(&format!("{what} &{};", clip(&name, 40)))
        };
        if reference.is_char_ref() {
            return match reference.resolve_char_ref() {
                Ok(Some(c)) if is_xml_char(c) => Ok(c),
                _ => Err(invalid("invalid character reference")),
            };
        }
        match &**reference {
            b"lt" => Ok('<'),
            b"gt" => Ok('>'),
            b"amp" => Ok('&'),
            b"apos" => Ok('\''),
            b"quot" => Ok('"'),
            _ => Err(invalid("undefined entity")),
        }
    }

    /// A tag or attribute name, checked against the XML `Name` production (quick-xml is
    /// lenient there). This keeps the mapping unambiguous: no element can be called
    /// `#text`, no attribute `@x`.
    fn xml_name<'b>(&self, bytes: &'b [u8]) -> Result<&'b str, TransformError> {
        // The reader runs over a &str and splits only at ASCII markup, so names are UTF-8;
        // checking costs nothing and keeps a broken invariant an error, not a panic.
        match std::str::from_utf8(bytes) {
            Ok(name) if is_xml_name(name) => Ok(name),
            _ => {
                let name = String::from_utf8_lossy(bytes);
                Err(self.error_here(&format!("{:?} is not a valid XML name", clip(&name, 60))))
            }
        }
    }

    /// Refuses characters that XML 1.0 does not allow (controls other than tab and line
    /// breaks, U+FFFE, U+FFFF), as it refuses references to them.
    fn check_chars(&self, text: &str) -> Result<(), TransformError> {
        match text.chars().find(|&c| !is_xml_char(c)) {
            None => Ok(()),
            Some(c) => {
                let message = format!("character U+{:04X} is not allowed in XML", u32::from(c));
                Err(self.error_here(&message))
            }
        }
    }

    fn line_column(&self, position: u64) -> (usize, usize) {
        let offset = usize::try_from(position).unwrap_or(usize::MAX);
        line_column(self.text.as_bytes(), offset)
    }

    fn error_here(&self, message: &str) -> TransformError {
        self.error_at(self.reader.buffer_position(), message)
    }

    fn error_at(&self, position: u64, message: &str) -> TransformError {
        let (line, column) = self.line_column(position);
        TransformError::InvalidXml {
            line,
            column,
            message: message.to_owned(),
        }
    }
}
