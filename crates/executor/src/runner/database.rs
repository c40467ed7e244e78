//! Database attempts through the postgres crate.

use std::time::Duration;

use flunq_postgres::{Database, DatabaseError, ErrorKind as DbKind, Statement};

use super::{AttemptResult, BreakerVerdict, Failure};
use crate::model::prepared::DatabaseCall;
use crate::record::{ErrorKind, ExecError};

/// One statement: `result` is `{columns, rows, rows_affected, truncated}`.
pub(crate) async fn run_database(
    call: &DatabaseCall,
    database: &Database,
    timeout: Duration,
) -> AttemptResult {
    let statement = Statement {
        sql: call.sql.clone(),
        params: call.params.clone(),
        read_only: call.read_only,
        max_rows: call.max_rows,
        timeout,
    };
    match database.execute(&call.target, &statement).await {
        Ok(result) => match serde_json::to_value(&result) {
            Ok(value) => AttemptResult::success(value, None),
            Err(e) => AttemptResult::failed(Failure::final_(ErrorKind::Internal, e.to_string())),
        },
        Err(err) => AttemptResult::failed(failure(&err)),
    }
}

fn failure(err: &DatabaseError) -> Failure {
    let (kind, may_have_reached, breaker) = match err.kind() {
        DbKind::Connect => (ErrorKind::Connect, false, BreakerVerdict::Failure),
        DbKind::Timeout => (ErrorKind::Timeout, true, BreakerVerdict::Failure),
        DbKind::EgressDenied => (ErrorKind::EgressDenied, false, BreakerVerdict::Ignored),
        DbKind::Database | DbKind::Invalid => (ErrorKind::Database, true, BreakerVerdict::Success),
        _ => (ErrorKind::Database, true, BreakerVerdict::Ignored),
    };
    Failure {
        error: ExecError::new(kind, err.to_string()),
        retryable: err.is_retryable(),
        may_have_reached,
        retry_after: None,
        breaker,
    }
}
