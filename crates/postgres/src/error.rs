//! What can go wrong running a statement, and how the engine should treat it.

use std::fmt;
use std::time::Duration;

/// Why a statement did not produce a result.
///
/// No variant ever carries the connection string or its password: connection errors
/// name the target as `host:port/database` at most.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatabaseError {
    /// The connection string was refused: unparsable, a Unix socket, several hosts,
    /// an `options` parameter, or a setting this crate does not support.
    #[error("invalid connection string: {reason}")]
    InvalidConnection {
        /// What is wrong with it (never a value taken from the string).
        reason: String,
    },

    /// The statement itself was refused before it reached the server.
    #[error("invalid statement: {reason}")]
    InvalidStatement {
        /// What is wrong with it.
        reason: String,
    },

    /// A parameter could not be bound to the type the server expects.
    #[error("params[{index}] ({pg_type}): {reason}")]
    InvalidParameter {
        /// Index in `params` (0-based; `$1` is `params[0]`).
        index: usize,
        /// The PostgreSQL type the statement expects there.
        pg_type: String,
        /// Why the JSON value does not fit.
        reason: String,
    },

    /// The number of parameters does not match the statement's placeholders.
    #[error("the statement expects {expected} parameter(s), {given} given")]
    ParameterCount {
        /// Placeholders in the statement.
        expected: usize,
        /// Values in `params`.
        given: usize,
    },

    /// The egress policy refused the database host (or an address it resolved to).
    #[error("connection to {host} denied by the egress policy")]
    EgressDenied {
        /// The host as the connection string names it, or its `hostaddr` when that is
        /// the address refused.
        host: String,
    },

    /// No connection could be made: DNS, refused, authentication, TLS, pool exhausted
    /// while connecting.
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        /// `host:port/database`.
        target: String,
        /// What failed.
        reason: String,
        /// The SQLSTATE code when the server refused the connection (e.g. `28P01` for a
        /// wrong password, `3D000` for a missing database).
        code: Option<String>,
    },

    /// The connection broke while the statement was in flight: whether it ran is unknown.
    #[error("connection to {target} lost during the statement: {reason}")]
    ConnectionLost {
        /// `host:port/database`.
        target: String,
        /// What failed.
        reason: String,
    },

    /// The statement (or the wait for a connection) exceeded its timeout.
    #[error("statement timed out after {after:?}")]
    Timeout {
        /// The timeout that was exceeded.
        after: Duration,
    },

    /// The server reported an error for the statement.
    #[error("database error {code}: {message}{}", detail_suffix(detail.as_deref()))]
    Database {
        /// The SQLSTATE code, e.g. `42601` for a syntax error.
        code: String,
        /// The server's primary message.
        message: String,
        /// The server's detail line, when it sent one.
        detail: Option<String>,
    },

    /// A column value could not be turned into JSON.
    #[error("column `{column}` ({pg_type}): {reason}")]
    Decode {
        /// Column name.
        column: String,
        /// Its PostgreSQL type.
        pg_type: String,
        /// Why it could not be decoded.
        reason: String,
    },
}

fn detail_suffix(detail: Option<&str>) -> String {
    detail.map(|d| format!(" ({d})")).unwrap_or_default()
}

/// The coarse class of a [`DatabaseError`], as the engine maps it to its error kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Could not connect (refused, DNS, authentication), or the connection was lost.
    Connect,
    /// The statement or the wait for a connection timed out.
    Timeout,
    /// The egress policy refused the host.
    EgressDenied,
    /// The server refused or failed the statement, or a value could not be decoded.
    Database,
    /// The request is malformed: bad connection string, statement or parameter (a 400).
    Invalid,
}

impl ErrorKind {
    /// The kind's name as the API spells it: `connect`, `timeout`, `egress_denied`,
    /// `database`, `invalid`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::EgressDenied => "egress_denied",
            ErrorKind::Database => "database",
            ErrorKind::Invalid => "invalid",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SQLSTATE codes worth another attempt: the statement may well succeed next time.
const RETRYABLE_CODES: &[&str] = &[
    "40001", // serialization_failure
    "40P01", // deadlock_detected
    "55P03", // lock_not_available
    "53300", // too_many_connections
    "57P01", // admin_shutdown
    "57P02", // crash_shutdown
    "57P03", // cannot_connect_now
];

impl DatabaseError {
    /// The coarse class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            DatabaseError::InvalidConnection { .. }
            | DatabaseError::InvalidStatement { .. }
            | DatabaseError::InvalidParameter { .. }
            | DatabaseError::ParameterCount { .. } => ErrorKind::Invalid,
            DatabaseError::EgressDenied { .. } => ErrorKind::EgressDenied,
            DatabaseError::Connect { .. } | DatabaseError::ConnectionLost { .. } => {
                ErrorKind::Connect
            }
            DatabaseError::Timeout { .. } => ErrorKind::Timeout,
            DatabaseError::Database { .. } | DatabaseError::Decode { .. } => ErrorKind::Database,
        }
    }

    /// Whether another attempt may succeed: connect failures (not authentication
    /// failures or a missing database), timeouts, serialization
    /// failures (`40001`), deadlocks (`40P01`), lock timeouts (`55P03`), too many
    /// connections (`53300`), server shutdown or start-up (`57P01`..`57P03`) and
    /// connection exceptions (`08xxx`). Not syntax, constraint or permission errors,
    /// and not a connection lost mid-statement (the statement may have run).
    pub fn is_retryable(&self) -> bool {
        match self {
            // Wrong credentials or a missing database will not fix themselves.
            DatabaseError::Connect {
                code: Some(code), ..
            } => !(code.starts_with("28") || code == "3D000"),
            DatabaseError::Connect { .. } | DatabaseError::Timeout { .. } => true,
            DatabaseError::Database { code, .. } => {
                code.starts_with("08") || RETRYABLE_CODES.contains(&code.as_str())
            }
            _ => false,
        }
    }

    /// The SQLSTATE code when the server reported the error.
    pub fn code(&self) -> Option<&str> {
        match self {
            DatabaseError::Database { code, .. } => Some(code),
            DatabaseError::Connect { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn invalid_connection(reason: impl Into<String>) -> Self {
        DatabaseError::InvalidConnection {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_parameter(
        index: usize,
        pg_type: &tokio_postgres::types::Type,
        reason: impl Into<String>,
    ) -> Self {
        DatabaseError::InvalidParameter {
            index,
            pg_type: pg_type.name().to_owned(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(code: &str) -> DatabaseError {
        DatabaseError::Database {
            code: code.into(),
            message: "m".into(),
            detail: None,
        }
    }

    #[test]
    fn serialization_failures_and_deadlocks_are_retryable() {
        assert!(db("40001").is_retryable());
        assert!(db("40P01").is_retryable());
        assert!(db("57P01").is_retryable());
        assert!(db("08006").is_retryable());
    }

    #[test]
    fn syntax_and_constraint_errors_are_not_retryable() {
        assert!(!db("42601").is_retryable());
        assert!(!db("23505").is_retryable());
    }

    #[test]
    fn kinds_have_their_api_names() {
        assert_eq!(db("42601").kind().as_str(), "database");
        let t = DatabaseError::Timeout {
            after: Duration::from_millis(5),
        };
        assert_eq!(t.kind().to_string(), "timeout");
    }
}
