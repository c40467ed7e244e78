//! Which kind of operation a GraphQL document runs: a mutation changes state, and is
//! not sent twice after a response unless the task says that is safe (as a POST).

use graphql_parser::query::{Definition, OperationDefinition};

/// Whether the operation the request runs is a mutation: the one named
/// `operation_name`, else the document's only operation. When that cannot be told (no
/// operation has the name, several operations and no name, a document that does not
/// parse), whether any operation of the document is a mutation: in doubt, not repeated.
pub(crate) fn runs_mutation(document: &str, operation_name: Option<&str>) -> bool {
    let Ok(parsed) = graphql_parser::parse_query::<&str>(document) else {
        return true;
    };
    // (is a mutation, name) of each operation; fragments are not operations.
    let operations: Vec<(bool, Option<&str>)> = parsed
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            Definition::Operation(OperationDefinition::SelectionSet(_)) => Some((false, None)),
            Definition::Operation(OperationDefinition::Query(q)) => Some((false, q.name)),
            Definition::Operation(OperationDefinition::Mutation(m)) => Some((true, m.name)),
            Definition::Operation(OperationDefinition::Subscription(s)) => Some((false, s.name)),
            Definition::Fragment(_) => None,
        })
        .collect();
    let chosen = match (operation_name, operations.as_slice()) {
        (Some(wanted), _) => operations.iter().find(|(_, name)| *name == Some(wanted)),
        (None, [only]) => Some(only),
        (None, _) => None,
    };
    match chosen {
        Some((mutation, _)) => *mutation,
        None => operations.iter().any(|(mutation, _)| *mutation),
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
            // Fragments are not operations; their types are not keywords.
            ("fragment F on Mutation { id } query { ...F }", None, false),
            (
                "fragment F on T { id } mutation { add { ...F } }",
                None,
                true,
            ),
            // A document that does not parse: in doubt, a mutation.
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
