use std::time::{Duration, Instant};

use flunq_postgres::{ErrorKind, Statement};
use serde_json::json;

use crate::support::{Table, database, run, target};

#[tokio::test]
async fn crud_round_trip() {
    let db = database();
    let table = Table::unique("crud");
    let t = &table.0;
    run(
        &db,
        &format!("CREATE TABLE {t} (id serial PRIMARY KEY, name text, email text)"),
        vec![],
    )
    .await
    .unwrap();

    let inserted = run(
        &db,
        &format!("INSERT INTO {t} (name, email) VALUES ($1, $2), ($3, $4)"),
        vec![
            json!("John Doe"),
            json!("john@example.com"),
            json!("Ann"),
            json!(null),
        ],
    )
    .await
    .unwrap();
    assert_eq!(inserted.rows_affected, 2);
    assert!(inserted.rows.is_empty() && inserted.columns.is_empty());

    let selected = run(
        &db,
        &format!("SELECT id, name, email FROM {t} ORDER BY id"),
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(selected.columns, ["id", "name", "email"]);
    assert_eq!(
        serde_json::to_value(&selected.rows).unwrap(),
        json!([
            {"id": 1, "name": "John Doe", "email": "john@example.com"},
            {"id": 2, "name": "Ann", "email": null}
        ])
    );
    assert_eq!(selected.rows_affected, 2);

    let updated = run(
        &db,
        &format!("UPDATE {t} SET email = $1 WHERE email IS NULL"),
        vec![json!("ann@example.com")],
    )
    .await
    .unwrap();
    assert_eq!(updated.rows_affected, 1);

    let deleted = run(
        &db,
        &format!("DELETE FROM {t} WHERE id = $1 RETURNING name"),
        vec![json!(1)],
    )
    .await
    .unwrap();
    assert_eq!(deleted.rows_affected, 1);
    assert_eq!(deleted.rows[0]["name"], "John Doe");
}

#[tokio::test]
async fn result_serializes_to_the_documented_shape() {
    let result = run(&database(), "SELECT 1 AS id, 'John' AS name", vec![])
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&result).unwrap(),
        json!({"columns": ["id", "name"], "rows": [{"id": 1, "name": "John"}], "rows_affected": 1, "truncated": false})
    );
}

#[tokio::test]
async fn max_rows_truncates_and_says_so() {
    let db = database();
    let statement = Statement::new("SELECT g FROM generate_series(1, 50) g").max_rows(10);
    let result = db.execute(&target(), &statement).await.unwrap();
    assert_eq!(result.rows.len(), 10);
    assert!(result.truncated);
    assert_eq!(result.rows[9]["g"], 10);

    let exact = Statement::new("SELECT g FROM generate_series(1, 10) g").max_rows(10);
    let result = db.execute(&target(), &exact).await.unwrap();
    assert_eq!(result.rows.len(), 10);
    assert!(!result.truncated);

    let none = Statement::new("SELECT g FROM generate_series(1, 3) g").max_rows(0);
    let result = db.execute(&target(), &none).await.unwrap();
    assert!(result.rows.is_empty() && result.truncated);
}

#[tokio::test]
async fn truncation_does_not_produce_the_whole_result() {
    // Without the portal's row limit this would generate (and ship) a billion rows. (A
    // set-returning function in the select list streams; in FROM it would materialize.)
    let statement = Statement::new("SELECT generate_series(1, 1000000000) AS g")
        .max_rows(5)
        .timeout(Duration::from_secs(5));
    let result = database().execute(&target(), &statement).await.unwrap();
    assert_eq!(result.rows.len(), 5);
    assert!(result.truncated);
}

#[tokio::test]
async fn statement_timeout_is_a_timeout_error() {
    let statement = Statement::new("SELECT pg_sleep(5)").timeout(Duration::from_millis(200));
    let started = Instant::now();
    let err = database().execute(&target(), &statement).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn read_only_refuses_writes_with_25006() {
    let db = database();
    let table = Table::unique("readonly");
    run(&db, &format!("CREATE TABLE {} (id int)", table.0), vec![])
        .await
        .unwrap();
    let insert = Statement::new(format!("INSERT INTO {} VALUES (1)", table.0)).read_only(true);
    let err = db.execute(&target(), &insert).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Database);
    assert_eq!(err.code(), Some("25006"));
    let select = Statement::new(format!("SELECT count(*) AS n FROM {}", table.0)).read_only(true);
    assert_eq!(
        db.execute(&target(), &select).await.unwrap().rows[0]["n"],
        0
    );
}

#[tokio::test]
async fn two_statements_in_one_string_are_refused() {
    let err = run(&database(), "SELECT 1; SELECT 2", vec![])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Database);
    assert_eq!(err.code(), Some("42601"), "{err}");
    assert!(err.to_string().contains("multiple commands"), "{err}");
}

#[tokio::test]
async fn syntax_error_is_a_final_database_error_42601() {
    let err = run(&database(), "SELEC 1", vec![]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Database);
    assert_eq!(err.code(), Some("42601"));
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("syntax error"), "{err}");
}

#[tokio::test]
async fn error_messages_never_contain_the_connection_string() {
    let err = run(&database(), "SELECT * FROM flunq_no_such_table", vec![])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("42P01"));
    let url = crate::support::url();
    assert!(!err.to_string().contains(&url) && !format!("{err:?}").contains(&url));
}

#[tokio::test]
async fn parameter_count_must_match() {
    let err = run(&database(), "SELECT $1::int4", vec![])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("expects 1"), "{err}");
}

#[tokio::test]
async fn ddl_reports_zero_rows_affected() {
    let db = database();
    let table = Table::unique("ddl");
    let result = run(&db, &format!("CREATE TABLE {} (id int)", table.0), vec![])
        .await
        .unwrap();
    assert_eq!(result.rows_affected, 0);
    assert!(!result.truncated);
}

#[tokio::test]
async fn failed_statement_leaves_no_transaction_open() {
    // One connection: the next statement must not run inside an aborted transaction.
    let db = crate::support::database_with(1);
    let _ = run(&db, "SELECT 1/0", vec![]).await.unwrap_err();
    let ok = run(&db, "SELECT 1 AS one", vec![]).await.unwrap();
    assert_eq!(ok.rows[0]["one"], 1);
}

#[tokio::test]
async fn empty_query_is_invalid() {
    let err = run(&database(), "   ", vec![]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
}
