//! Which kind of operation a GraphQL document runs: a mutation changes state, and is
//! not sent twice after a response unless the task says that is safe (as a POST).
//!
//! A scan of the document's tokens (GraphQL spec §2.1: names, punctuators, strings,
//! block strings, comments), not a parser: it finds the operations at the top level,
//! their type and their name, which is all the retry rule needs.

/// Whether the operation the request runs is a mutation: the one named
/// `operation_name`, else the document's only operation. When that cannot be told (no
/// operation has the name, several operations and no name, a document that does not
/// scan), whether any operation of the document is a mutation: in doubt, not repeated.
pub(crate) fn runs_mutation(document: &str, operation_name: Option<&str>) -> bool {
    let Some(operations) = operations(document) else {
        return true;
    };
    let chosen = match operation_name {
        Some(wanted) => operations.iter().find(|op| op.name == Some(wanted)),
        None if operations.len() == 1 => operations.first(),
        None => None,
    };
    match chosen {
        Some(op) => op.kind == Kind::Mutation,
        None => operations.iter().any(|op| op.kind == Kind::Mutation),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Query,
    Mutation,
    Subscription,
}

#[derive(Debug)]
struct Operation<'a> {
    kind: Kind,
    name: Option<&'a str>,
}

#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Name(&'a str),
    /// `{`, `(` or `[`.
    Open(u8),
    /// `}`, `)` or `]`.
    Close,
    Other,
}

/// Where the scan is among the top-level definitions.
enum State {
    /// Between definitions.
    Between,
    /// After `query`/`mutation`/`subscription` (operation index) or `fragment`
    /// (`None`): its name, variables and directives, up to its selection set.
    Header {
        operation: Option<usize>,
        first: bool,
    },
    /// Inside a definition's selection set, or (with the operation, to go back to)
    /// inside a header's parentheses or brackets: `($id: ID = {a: 1})`, `@skip(if: true)`.
    Nested { header: Option<Option<usize>> },
}

/// The operations at the top level of `document`; `None` if it does not scan.
fn operations(document: &str) -> Option<Vec<Operation<'_>>> {
    let mut found = Vec::new();
    let mut state = State::Between;
    let mut depth = 0usize;
    for token in Tokens::new(document) {
        let token = token?;
        match token {
            Token::Open(_) => depth += 1,
            Token::Close => depth = depth.checked_sub(1)?,
            _ => {}
        }
        state = match (state, token) {
            (State::Between, Token::Open(b'{')) => {
                // `{ ... }` alone: an anonymous query.
                found.push(Operation {
                    kind: Kind::Query,
                    name: None,
                });
                State::Nested { header: None }
            }
            // Not a definition: the document does not scan.
            (State::Between, Token::Open(_) | Token::Close) => return None,
            (State::Between, Token::Name(word)) => {
                let kind = match word {
                    "query" => Some(Kind::Query),
                    "mutation" => Some(Kind::Mutation),
                    "subscription" => Some(Kind::Subscription),
                    _ => None,
                };
                let operation = kind.map(|kind| {
                    found.push(Operation { kind, name: None });
                    found.len() - 1
                });
                State::Header {
                    operation,
                    first: true,
                }
            }
            (State::Between, _) => State::Between,
            (State::Header { operation, first }, Token::Name(word)) => {
                if first && let Some(op) = operation.and_then(|i| found.get_mut(i)) {
                    op.name = Some(word);
                }
                State::Header {
                    operation,
                    first: false,
                }
            }
            // The selection set: the definition ends when it closes.
            (State::Header { .. }, Token::Open(b'{')) => State::Nested { header: None },
            (State::Header { operation, .. }, Token::Open(_)) => State::Nested {
                header: Some(operation),
            },
            (State::Header { operation, .. }, _) => State::Header {
                operation,
                first: false,
            },
            (State::Nested { header }, Token::Close) if depth == 0 => match header {
                Some(operation) => State::Header {
                    operation,
                    first: false,
                },
                None => State::Between,
            },
            (nested @ State::Nested { .. }, _) => nested,
        };
    }
    Some(found)
}

/// The tokens of a GraphQL document: names, brackets (`{`, `(`, `[` and their
/// closers), and everything else as `Other`; comments, commas and white space skipped.
/// `None` for a string that does not end.
struct Tokens<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, at: 0 }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Option<Token<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.text.as_bytes();
        loop {
            let &byte = bytes.get(self.at)?;
            match byte {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => self.at += 1,
                b'#' => {
                    let rest = &bytes[self.at..];
                    self.at += rest
                        .iter()
                        .position(|&b| b == b'\n' || b == b'\r')
                        .unwrap_or(rest.len());
                }
                b'{' | b'(' | b'[' => {
                    self.at += 1;
                    return Some(Some(Token::Open(byte)));
                }
                b'}' | b')' | b']' => {
                    self.at += 1;
                    return Some(Some(Token::Close));
                }
                b'"' => return Some(self.string().map(|()| Token::Other)),
                b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                    let start = self.at;
                    while bytes
                        .get(self.at)
                        .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    {
                        self.at += 1;
                    }
                    return Some(Some(Token::Name(&self.text[start..self.at])));
                }
                _ => {
                    // Punctuators, numbers, a byte-order mark: nothing the scan needs.
                    self.at += self.text[self.at..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                    return Some(Some(Token::Other));
                }
            }
        }
    }
}

impl Tokens<'_> {
    /// Skips a string or block string starting at `self.at`.
    fn string(&mut self) -> Option<()> {
        let rest = &self.text[self.at..];
        if let Some(body) = rest.strip_prefix("\"\"\"") {
            // A block string ends at the first `"""` not escaped as `\"""`.
            let mut from = 0;
            loop {
                let end = from + body[from..].find("\"\"\"")?;
                if body[..end].ends_with('\\') {
                    from = end + 3;
                    continue;
                }
                self.at += 3 + end + 3;
                return Some(());
            }
        }
        let mut escaped = false;
        for (i, c) in rest.char_indices().skip(1) {
            match c {
                '\n' | '\r' => return None,
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    self.at += i + 1;
                    return Some(());
                }
                _ => escaped = false,
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::runs_mutation;

    #[test]
    fn the_operation_run_decides() {
        let cases: &[(&str, Option<&str>, bool)] = &[
            ("{ me { id } }", None, false),
            ("query { me { id } }", None, false),
            ("query Me { me { id } }", None, false),
            ("mutation { add(x: 1) { id } }", None, true),
            (
                "mutation Add($x: Int = 1) @log { add(x: $x) { id } }",
                None,
                true,
            ),
            ("subscription { ticks }", None, false),
            // Several operations: the one named, else any mutation counts.
            ("query A { a } mutation B { b }", Some("A"), false),
            ("query A { a } mutation B { b }", Some("B"), true),
            ("query A { a } mutation B { b }", None, true),
            ("query A { a } mutation B { b }", Some("C"), true),
            ("query A { a } query B { b }", None, false),
            // Words inside selections, arguments, strings and comments are not keywords.
            ("{ mutation { id } }", None, false),
            (
                "query Q($m: String = \"mutation { x }\") { f(m: $m) }",
                None,
                false,
            ),
            ("# mutation { x }\nquery { a }", None, false),
            (
                "query { a(text: \"\"\"\nmutation { x } \\\"\"\" still\n\"\"\") }",
                None,
                false,
            ),
            ("query Q($o: In = {a: [1, 2]}) { a(o: $o) }", None, false),
            // Fragments are not operations; their names and types are not keywords.
            (
                "fragment query on Mutation { id } query { ...query }",
                None,
                false,
            ),
            (
                "fragment F on T { id } mutation { add { ...F } }",
                None,
                true,
            ),
            // A document that does not scan: in doubt, a mutation.
            ("query { a(t: \"open) }", None, true),
            ("query { a } }", None, true),
        ];
        for (document, name, expected) in cases {
            assert_eq!(
                runs_mutation(document, *name),
                *expected,
                "{document:?} with operation {name:?}"
            );
        }
    }
}
