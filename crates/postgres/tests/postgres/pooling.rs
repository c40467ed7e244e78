use std::collections::HashSet;
use std::time::{Duration, Instant};

use flunq_postgres::{ConnectionTarget, Database, DatabaseOptions, Statement};
use serde_json::json;

use crate::support::{database_with, loopback_policy, run, scalar, target};

#[tokio::test]
async fn sequential_calls_reuse_one_connection() {
    let db = database_with(8);
    let mut pids = HashSet::new();
    for _ in 0..20 {
        pids.insert(scalar(&db, "SELECT pg_backend_pid()", vec![]).await);
    }
    assert_eq!(pids.len(), 1, "{pids:?}");
    let status = db.pool_status(&target()).unwrap();
    assert_eq!((status.size, status.available, status.max_size), (1, 1, 8));
}

#[tokio::test]
async fn fifty_concurrent_queries_share_a_pool_of_eight() {
    let db = database_with(8);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                run(&db, "SELECT $1::int4 AS i, pg_sleep(0.01)", vec![json!(i)]).await
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let result = task.await.unwrap().unwrap();
        assert_eq!(result.rows[0]["i"], json!(i));
    }
    let status = db.pool_status(&target()).unwrap();
    assert!(status.size <= 8, "{status:?}");
}

async fn active_sleepers(db: &Database, marker: &str) -> i64 {
    let n = scalar(
        db,
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1",
        vec![json!(format!("%{marker}%"))],
    )
    .await;
    // The marker is only in the sleeper's text: the monitor's own text has `$1`.
    n.as_i64().unwrap()
}

#[tokio::test]
async fn dropped_future_leaves_the_pool_healthy() {
    let db = database_with(1);
    let monitor = database_with(1);
    let marker = format!("flunq_drop_{}", std::process::id());
    let sleeper = Statement::new(format!("SELECT pg_sleep(10) AS {marker}"));
    let task = tokio::spawn({
        let db = db.clone();
        async move { db.execute(&target(), &sleeper).await }
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    while active_sleepers(&monitor, &marker).await == 0 {
        assert!(Instant::now() < deadline, "the sleeper never started");
        tokio::task::yield_now().await;
    }
    // Dropped mid-statement, while the pool's only connection is busy on the server.
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    let started = Instant::now();
    assert_eq!(scalar(&db, "SELECT 1", vec![]).await, json!(1));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let status = db.pool_status(&target()).unwrap();
    assert!(status.size <= 1, "{status:?}");

    // The abandoned statement was cancelled on the server, not left sleeping.
    let deadline = Instant::now() + Duration::from_secs(3);
    while active_sleepers(&monitor, &marker).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the abandoned statement is still running"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn server_timeout_keeps_the_connection() {
    let db = database_with(1);
    let first = scalar(&db, "SELECT pg_backend_pid()", vec![]).await;
    // The server's statement_timeout fires before the client's backstop: the statement
    // is cancelled cleanly and the connection stays usable, so the same backend answers.
    let slow = Statement::new("SELECT pg_sleep(2)").timeout(Duration::from_millis(100));
    let _ = db.execute(&target(), &slow).await.unwrap_err();
    let second = scalar(&db, "SELECT pg_backend_pid()", vec![]).await;
    assert_eq!(first, second);
}

#[tokio::test]
async fn each_target_gets_its_own_pool_up_to_the_cap() {
    let db = Database::new(DatabaseOptions {
        egress: loopback_policy(),
        max_targets: 2,
        ..DatabaseOptions::default()
    });
    let url = crate::support::url();
    let separator = if url.contains('?') { '&' } else { '?' };
    for name in ["a", "b", "c"] {
        let target =
            ConnectionTarget::parse(&format!("{url}{separator}application_name=flunq_{name}"))
                .unwrap();
        let app = db
            .execute(
                &target,
                &Statement::new("SELECT current_setting('application_name') AS app"),
            )
            .await
            .unwrap();
        assert_eq!(app.rows[0]["app"], json!(format!("flunq_{name}")));
    }
    assert_eq!(db.pool_count(), 2);
}
