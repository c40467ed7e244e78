//! One statement on one connection: a transaction with a server-side timeout, prepare
//! (cached), bind, execute with a row limit, rows to JSON, commit.

use std::pin::pin;

use futures_util::TryStreamExt as _;
use futures_util::future::try_join;
use serde_json::{Map, Value};
use tokio_postgres::Row;

use crate::decode::Cell;
use crate::error::DatabaseError;
use crate::params;
use crate::pool::Connection;
use crate::statement::{QueryResult, Statement};
use crate::target::ConnectionTarget;

/// SQLSTATE `query_canceled`: with no cancel of ours in flight, the statement timeout.
const QUERY_CANCELED: &str = "57014";

/// Runs `statement` on `conn`. The transaction is rolled back (by tokio-postgres, when
/// it is dropped un-committed) on any error, so the connection goes back clean.
pub(crate) async fn run(
    conn: &mut Connection,
    statement: &Statement,
    target: &ConnectionTarget,
) -> Result<QueryResult, DatabaseError> {
    let cached = conn.statements.get(&statement.sql);
    let was_cached = cached.is_some();
    let outcome = run_in_transaction(conn, statement, cached)
        .await
        .map_err(|e| match e {
            Failure::Postgres(e) => from_statement_error(target, statement, &e),
            Failure::Ours(e) => e,
        });
    if was_cached && outcome.is_err() {
        // A cached plan can go stale (a table altered under it): prepare afresh next time.
        conn.statements.remove(&statement.sql);
    }
    outcome
}

enum Failure {
    Postgres(tokio_postgres::Error),
    Ours(DatabaseError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Postgres(e)
    }
}

impl From<DatabaseError> for Failure {
    fn from(e: DatabaseError) -> Self {
        Failure::Ours(e)
    }
}

async fn run_in_transaction(
    conn: &mut Connection,
    statement: &Statement,
    cached: Option<tokio_postgres::Statement>,
) -> Result<QueryResult, Failure> {
    let Connection { client, statements } = conn;
    let mut builder = client.build_transaction();
    if statement.read_only {
        builder = builder.read_only(true);
    }
    let tx = builder.start().await?;
    // Our own value, an integer: nothing of the task's is spliced into SQL. 0 would mean
    // "no timeout", so at least 1 ms; PostgreSQL's maximum is i32::MAX ms.
    let millis = statement.timeout.as_millis().clamp(1, i32::MAX as u128);
    let set_timeout = format!("SET LOCAL statement_timeout = {millis}");
    let prepare = async {
        match cached {
            Some(prepared) => Ok(prepared),
            None => tx.prepare(&statement.sql).await,
        }
    };
    // Both go out together: the connection pipelines them.
    let ((), prepared) = try_join(tx.batch_execute(&set_timeout), prepare).await?;
    statements.insert(&statement.sql, prepared.clone());

    let bound = params::encode_all(&statement.params, prepared.params())?;
    // The portal stops after max_rows + 1 rows: one more than we return tells whether
    // more existed, without the server producing (or us reading) the rest.
    let max_rows = statement.max_rows.min(i32::MAX as usize - 1);
    let portal = tx.bind_raw(&prepared, bound.iter()).await?;
    let mut stream = pin!(tx.query_portal_raw(&portal, max_rows as i32 + 1).await?);

    let columns: Vec<String> = prepared
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let mut rows = Vec::new();
    while let Some(row) = stream.try_next().await? {
        rows.push(row_to_json(&row, &columns)?);
    }
    let truncated = rows.len() > max_rows;
    rows.truncate(max_rows);
    let rows_affected = stream.rows_affected().unwrap_or(rows.len() as u64);
    drop(portal);
    tx.commit().await?;
    Ok(QueryResult {
        columns,
        rows,
        rows_affected,
        truncated,
    })
}

fn row_to_json(row: &Row, columns: &[String]) -> Result<Map<String, Value>, DatabaseError> {
    let mut object = Map::with_capacity(columns.len());
    for (i, (name, column)) in columns.iter().zip(row.columns()).enumerate() {
        let decode_error = |reason: String| DatabaseError::Decode {
            column: name.clone(),
            pg_type: column.type_().name().to_owned(),
            reason,
        };
        // `Cell` accepts every type and never fails: its result carries the reason.
        let Cell(value) = row
            .try_get::<_, Cell>(i)
            .map_err(|e| decode_error(e.to_string()))?;
        object.insert(name.clone(), value.map_err(decode_error)?);
    }
    Ok(object)
}

/// Maps an error from the statement's exchange: the server's errors keep their SQLSTATE
/// and message; anything else means the connection broke mid-statement.
fn from_statement_error(
    target: &ConnectionTarget,
    statement: &Statement,
    e: &tokio_postgres::Error,
) -> DatabaseError {
    match e.as_db_error() {
        Some(db) if db.code().code() == QUERY_CANCELED => DatabaseError::Timeout {
            after: statement.timeout,
        },
        Some(db) => DatabaseError::Database {
            code: db.code().code().to_owned(),
            message: db.message().to_owned(),
            detail: db.detail().map(str::to_owned),
        },
        None => DatabaseError::ConnectionLost {
            target: target.to_string(),
            reason: e.to_string(),
        },
    }
}
