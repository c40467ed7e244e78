//! What one task asks for, and what it gets back.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

/// Rows returned when a statement does not say: `max_rows` in API.md.
pub const DEFAULT_MAX_ROWS: usize = 10_000;
/// The statement timeout when a statement does not say: `DEFAULT_TIMEOUT` in API.md.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One SQL statement with its JSON parameters (`$1` is `params[0]`).
///
/// ```
/// use std::time::Duration;
/// use flunq_postgres::Statement;
/// use serde_json::json;
///
/// let statement = Statement::new("SELECT id, name FROM users WHERE id = $1")
///     .params(vec![json!(42)])
///     .read_only(true)
///     .max_rows(100)
///     .timeout(Duration::from_secs(5));
/// assert_eq!(statement.params.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The SQL text: exactly one statement, never formatted with values.
    pub sql: String,
    /// Values bound to `$1`, `$2`, … by the types the server infers for them.
    pub params: Vec<Value>,
    /// Run in a `READ ONLY` transaction (a convenience, not a security boundary).
    pub read_only: bool,
    /// At most this many rows come back; `truncated` says when more existed.
    pub max_rows: usize,
    /// Server-side `statement_timeout`; the client gives up slightly later.
    pub timeout: Duration,
}

impl Statement {
    /// A statement without parameters, with the defaults: read-write, 10,000 rows, 30 s.
    pub fn new(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            params: Vec::new(),
            read_only: false,
            max_rows: DEFAULT_MAX_ROWS,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Sets the parameters.
    pub fn params(mut self, params: Vec<Value>) -> Self {
        self.params = params;
        self
    }

    /// Runs the statement in a read-only transaction.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Sets the row limit.
    pub fn max_rows(mut self, max_rows: usize) -> Self {
        self.max_rows = max_rows;
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The result of one statement, serialized as the task's `result`:
/// `{"columns": [...], "rows": [{...}], "rows_affected": N, "truncated": false}`.
///
/// `rows_affected` is the count in the server's command tag: rows inserted, updated,
/// deleted or merged, rows returned by a `SELECT`, 0 for commands without a count
/// (DDL). When the result was truncated the server never finished the statement's
/// output, so it is the number of rows returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryResult {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// One object per row, keyed by column name (when two columns share a name, the
    /// later one wins in the object; `columns` still lists both).
    pub rows: Vec<Map<String, Value>>,
    /// See the type's documentation.
    pub rows_affected: u64,
    /// Whether more rows existed than `max_rows`.
    pub truncated: bool,
}
