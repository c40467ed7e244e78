#![forbid(unsafe_code)]
#![deny(missing_docs)]
//! Runs one PostgreSQL statement per task, JSON in and JSON out: the executor's
//! `"type": "database"` tasks.
//!
//! A task names a target (a connection string), one SQL statement and JSON parameters;
//! it gets back `{"columns": [...], "rows": [{...}], "rows_affected": N, "truncated":
//! false}`. Use this crate when SQL text and values arrive at run time, as data (from an
//! API, a workflow definition), and must run safely against databases the operator
//! allowed. When the queries are known at compile time, use sqlx or tokio-postgres
//! directly (see the comparison below).
//!
//! # Example
//!
//! Parsing a target and building a statement (runs anywhere):
//!
//! ```
//! use std::time::Duration;
//! use flunq_postgres::{ConnectionTarget, ErrorKind, Statement};
//! use serde_json::json;
//!
//! let target = ConnectionTarget::parse("postgres://app:s3cret@db.internal:5432/orders")?;
//! assert_eq!(target.to_string(), "db.internal:5432/orders"); // no credentials
//!
//! let insert = Statement::new("INSERT INTO users (name, email) VALUES ($1, $2)")
//!     .params(vec![json!("John Doe"), json!("john@example.com")])
//!     .timeout(Duration::from_secs(5));
//! assert_eq!(insert.max_rows, 10_000);
//!
//! // Refused before anything connects, without repeating the string:
//! let err = ConnectionTarget::parse("host=/var/run/postgresql user=app password=pw").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Invalid);
//! assert!(!err.to_string().contains("pw"));
//! # Ok::<(), flunq_postgres::DatabaseError>(())
//! ```
//!
//! Running it (needs a server; the crate's tests do this against a real PostgreSQL):
//!
//! ```no_run
//! use flunq_postgres::{ConnectionTarget, Database, DatabaseOptions, Statement};
//! use flunq_http_client::EgressPolicy;
//! use serde_json::json;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let database = Database::new(DatabaseOptions {
//!     egress: EgressPolicy::from_allowlist("10.0.0.0/8")?,
//!     ..DatabaseOptions::default()
//! });
//! let target = ConnectionTarget::parse("postgres://app@10.1.2.3/orders")?;
//! let result = database
//!     .execute(&target, &Statement::new("SELECT id, name FROM users WHERE id = $1")
//!         .params(vec![json!(1)])
//!         .read_only(true))
//!     .await?;
//! println!("{}", serde_json::to_string(&result)?);
//! # Ok(())
//! # }
//! ```
//!
//! # Design
//!
//! **Targets.** [`ConnectionTarget::parse`] takes a URL or a key-value string (parsed by
//! tokio-postgres) and refuses a Unix socket host, several hosts or ports, `options`
//! (it could lift the server-side timeouts), a missing user, and TLS modes (connections
//! are plain TCP, `NoTls`, for now: keep databases on a trusted network until TLS lands).
//! Its `Debug` and `Display` never show the password, and no error repeats the string:
//! errors name `host:port/database` at most.
//!
//! **Egress.** The host goes through the same [`EgressPolicy`](flunq_http_client::EgressPolicy)
//! as HTTP calls. An address literal (or `hostaddr`) is checked before anything else;
//! a name is checked against the allowlist and `localhost`, then resolved by this crate
//! and refused if ANY resolved address is denied (a name the allowlist names explicitly
//! may resolve anywhere, as in the HTTP client). tokio-postgres then dials the checked
//! address (`hostaddr`), never the name, so DNS rebinding cannot redirect it. Every new
//! pooled connection resolves and checks again.
//!
//! **Pools.** One deadpool pool per target (host, port, database, user, and a keyed
//! hash of the password and other settings: no secret is a map key), created on first
//! use, bounded by [`DatabaseOptions::max_connections_per_target`]; at most
//! [`DatabaseOptions::max_targets`] pools (least recently used evicted) and pools or
//! connections idle for [`DatabaseOptions::idle_timeout`] are dropped. Each connection
//! caches up to 64 prepared statements. Before a connection is used again its session
//! is reset (settings, role, cursors, `LISTEN`s, advisory locks, temporary tables,
//! sequence state: `DISCARD ALL` but the prepared statements), so no statement sees what
//! an earlier one left on it.
//!
//! **One statement, extended protocol.** Each task runs as: `BEGIN [READ ONLY]`;
//! `SET LOCAL statement_timeout` (pipelined with `prepare`); bind the parameters; execute
//! the portal with a row limit of `max_rows + 1`; `COMMIT`. A string with two statements
//! fails at prepare with SQLSTATE `42601`. Because every statement runs in a
//! transaction, commands that refuse one (`VACUUM`, `CREATE DATABASE`,
//! `CREATE INDEX CONCURRENTLY`) fail with `25001`.
//!
//! **Timeouts.** The statement's timeout is enforced by the server (`SET LOCAL
//! statement_timeout`; its cancellation, SQLSTATE `57014`, is reported as
//! [`ErrorKind::Timeout`]) and backed by a client-side limit slightly longer (250 ms or
//! 10 %) over the whole call. When that limit fires, or the caller drops the future,
//! the connection is not returned to the pool: the statement is cancelled on the server
//! (a cancel request) and the connection closes.
//!
//! **`read_only`** runs the statement in a `READ ONLY` transaction, so writes fail with
//! `25006`. It is a convenience, not a security boundary: a function can still write
//! (e.g. through `dblink`), and `SET TRANSACTION READ WRITE` is refused only because
//! the transaction has begun. Give the stored connection a read-only role for that.
//!
//! # Type mapping
//!
//! Parameters are bound by the type the server infers for each `$n` (an untyped `$1`
//! in `SELECT $1` is `text`); JSON `null` is SQL NULL for any type. Values are encoded
//! here in the binary format, never spliced into SQL.
//!
//! | PostgreSQL | parameter (JSON) | result (JSON) |
//! | --- | --- | --- |
//! | `int2`, `int4`, `int8`, `oid` | integer, or a string of digits; out of range is an error | number (`int8` beyond ±2^53: string) |
//! | `float4`, `float8` | number, or `"NaN"`, `"Infinity"`, `"-Infinity"`, a decimal string | number; `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | `numeric` | number or decimal string, bound exactly (send strings for more than 15 digits: JSON numbers are f64 here) | number when exact (integers within ±2^53, decimals whose f64 prints the same), else string |
//! | `text`, `varchar`, `bpchar`, `name`, `xml`, `citext` | string (numbers and booleans are stringified) | string |
//! | `"char"` | one-byte string | string |
//! | `bool` | `true` / `false` | boolean |
//! | `date` | `"YYYY-MM-DD"` | `"YYYY-MM-DD"` |
//! | `time` | `"HH:MM:SS[.ffffff]"` | same |
//! | `timestamp` | RFC 3339; an offset is applied (kept as UTC), none means as written | `"YYYY-MM-DDTHH:MM:SS[.ffffff]"` (no offset: the type has none) |
//! | `timestamptz` | RFC 3339; no offset means UTC | RFC 3339 in UTC (`…Z`) |
//! | `uuid` | string | lowercase hyphenated string |
//! | `interval`, `timetz`, `inet`, `cidr`, `macaddr`, `macaddr8` | refused: cast in SQL (`$1::text::interval`) | string, as the server writes it with its default settings (what `psql` shows) (`1 year 2 mons 3 days 04:05:06`, `10:00:00+02`, `10.0.0.0/8`, `08:00:2b:01:02:03`) |
//! | `json`, `jsonb` | any JSON value | the JSON value |
//! | `bytea` | standard base64 string | standard base64 string |
//! | enums, domains | as the label (string) / the base type | same |
//! | arrays of the above | JSON arrays, nested for more dimensions (rectangular) | nested JSON arrays |
//! | anything else | refused: cast in SQL (`$1::text::point`) | `{"type": "point", "base64": "<binary value>"}` |
//!
//! Dates and timestamps at `±infinity` map to `"infinity"` / `"-infinity"` both ways.
//! Results arrive in binary (the extended protocol needs the format chosen before the
//! types are known to us, and tokio-postgres asks for binary), so a type this crate
//! does not know cannot be shown as its text; it comes back as its raw binary value,
//! labelled with the type's name. Select `col::text` to get the text form.
//!
//! # Compared with sqlx and tokio-postgres
//!
//! sqlx and tokio-postgres are the right tools when the application owns its queries:
//! compile-time checked or typed rows, Rust types for parameters. They have no notion
//! of queries and values arriving as JSON, of an egress policy on the database host
//! (sqlx and tokio-postgres dial whatever a connection string names, Unix sockets and
//! loopback included, and resolve names themselves), of per-target pools created on
//! demand for many tenants' connection strings, or of a JSON result shape with exact
//! numeric handling and a row cap. This crate is that layer, built on tokio-postgres:
//! it does not replace a typed data-access layer, and it gives up sqlx's
//! compile-time checking and its MySQL/SQLite support.

mod array;
mod connect;
mod database;
mod datetime;
mod decode;
mod error;
mod numeric;
mod params;
mod pool;
mod session;
mod statement;
mod target;
mod text;

pub use database::{Database, DatabaseOptions, PoolStatus};
pub use error::{DatabaseError, ErrorKind};
pub use statement::{DEFAULT_MAX_ROWS, DEFAULT_TIMEOUT, QueryResult, Statement};
pub use target::ConnectionTarget;
