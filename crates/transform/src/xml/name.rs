//! XML 1.0 (fifth edition) `Name` production, so that no key can inject markup.

/// Whether `name` is an XML `Name`. Prefixes such as `soap:Envelope` are names too (the
/// production allows `:`), which is how namespaces are kept: as part of the name.
pub(crate) fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

fn is_name_start(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z'
        | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}' | '\u{F8}'..='\u{2FF}'
        | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}' | '\u{200C}'..='\u{200D}'
        | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}' | '\u{3001}'..='\u{D7FF}'
        | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}' | '\u{10000}'..='\u{EFFFF}')
}

fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c,
            '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// Whether XML 1.0 allows `c` in a document at all (even as a character reference).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_with_prefixes_digits_and_unicode() {
        for name in [
            "a",
            "_x",
            "soap:Envelope",
            "a-b.c9",
            "caf\u{e9}",
            "\u{4E2D}\u{6587}",
        ] {
            assert!(is_xml_name(name), "{name:?}");
        }
    }

    #[test]
    fn refuses_what_would_break_markup() {
        for name in [
            "", "1a", "-a", "a b", "a>", "a\"", "a/b", "#text", "@id", "a&b",
        ] {
            assert!(!is_xml_name(name), "{name:?}");
        }
    }

    #[test]
    fn xml_chars_exclude_controls_and_nonchars() {
        assert!(is_xml_char('\n'));
        assert!(!is_xml_char('\u{1}'));
        assert!(!is_xml_char('\u{FFFE}'));
    }
}
