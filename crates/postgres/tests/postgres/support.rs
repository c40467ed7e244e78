use std::sync::atomic::{AtomicUsize, Ordering};

use flunq_http_client::EgressPolicy;
use flunq_postgres::{
    ConnectionTarget, Database, DatabaseError, DatabaseOptions, QueryResult, Statement,
};
use serde_json::Value;

pub(crate) fn url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub(crate) fn target() -> ConnectionTarget {
    ConnectionTarget::parse(&url()).unwrap()
}

/// Loopback is denied by default: the tests open it explicitly.
pub(crate) fn loopback_policy() -> EgressPolicy {
    EgressPolicy::from_allowlist("127.0.0.0/8, ::1").unwrap()
}

pub(crate) fn database_with(max_connections: usize) -> Database {
    Database::new(DatabaseOptions {
        egress: loopback_policy(),
        max_connections_per_target: max_connections,
        ..DatabaseOptions::default()
    })
}

pub(crate) fn database() -> Database {
    database_with(4)
}

pub(crate) async fn run(
    db: &Database,
    sql: &str,
    params: Vec<Value>,
) -> Result<QueryResult, DatabaseError> {
    db.execute(&target(), &Statement::new(sql).params(params))
        .await
}

/// The single value of a one-row, one-column result.
pub(crate) async fn scalar(db: &Database, sql: &str, params: Vec<Value>) -> Value {
    let result = run(db, sql, params).await.unwrap();
    assert_eq!(result.rows.len(), 1, "{result:?}");
    let column = &result.columns[0];
    result.rows[0][column].clone()
}

/// A table name no other test (or test run) uses; the table is dropped when the guard
/// goes, even if the test fails.
pub(crate) struct Table(pub(crate) String);

impl Table {
    pub(crate) fn unique(prefix: &str) -> Table {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Table(format!("flunq_{prefix}_{}_{nanos}_{n}", std::process::id()))
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let sql = format!("DROP TABLE IF EXISTS {}", self.0);
        // A fresh runtime on its own thread: Drop may run inside (or after) the test's.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let _ = database_with(1)
                    .execute(&target(), &Statement::new(sql))
                    .await;
            });
        })
        .join();
    }
}
