//! Database tasks against the real PostgreSQL on 127.0.0.1:5432 (database `test`, user
//! `postgres`; `DATABASE_URL` overrides).

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;
use support::Executor;

fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn unique_table() -> String {
    format!("flunq_exec_{}", uuid_like())
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{nanos:x}{}", std::process::id())
}

async fn run(ex: &Executor, task: serde_json::Value) -> serde_json::Value {
    ex.run(&task).await
}

#[tokio::test]
async fn statements_run_through_a_stored_connection() {
    let ex = Executor::start().await;
    let config = json!({"name": "pg", "connection": database_url()});
    let created = ex.post("/api/v1/configs", &config.to_string()).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["connection"], "***");
    let table = unique_table();
    let create = run(&ex, json!({"type": "database", "connection": "pg",
        "query": format!("CREATE TABLE {table} (id serial PRIMARY KEY, name text, email text, born date, score numeric)")})).await;
    assert_eq!(create["status"], "succeeded", "{create}");
    let insert = run(
        &ex,
        json!({"type": "database", "connection": "pg",
        "query": format!("INSERT INTO {table} (name, email, born, score) VALUES ($1, $2, $3, $4)"),
        "params": ["John Doe", "john@example.com", "1990-05-17", "12345678901234567890.5"]}),
    )
    .await;
    assert_eq!(insert["status"], "succeeded", "{insert}");
    assert_eq!(insert["result"]["rows_affected"], 1);
    let select = run(&ex, json!({"type": "database", "connection": "pg",
        "query": format!("SELECT id, name, email, born, score FROM {table} WHERE name = $1"), "params": ["John Doe"]})).await;
    assert_eq!(
        select["result"]["columns"],
        json!(["id", "name", "email", "born", "score"])
    );
    assert_eq!(select["result"]["rows"][0]["name"], "John Doe");
    assert_eq!(select["result"]["rows"][0]["id"], 1);
    assert_eq!(select["result"]["rows"][0]["born"], "1990-05-17");
    assert_eq!(
        select["result"]["rows"][0]["score"],
        "12345678901234567890.5"
    );
    assert_eq!(select["result"]["truncated"], false);
    let drop = run(
        &ex,
        json!({"type": "database", "connection": "pg", "query": format!("DROP TABLE {table}")}),
    )
    .await;
    assert_eq!(drop["status"], "succeeded");
}

#[tokio::test]
async fn a_connection_string_in_the_task_is_masked_in_the_record() {
    let ex = Executor::start().await;
    let url = database_url().replacen("postgres@", "postgres:canary-db-pw@", 1);
    let record = run(
        &ex,
        json!({"type": "database", "connection": url, "query": "SELECT 1 AS one"}),
    )
    .await;
    // Trust auth accepts any password: the statement runs.
    assert_eq!(record["status"], "succeeded", "{record}");
    assert_eq!(record["result"]["rows"][0]["one"], 1);
    let shown = record.to_string();
    assert!(!shown.contains("canary-db-pw"), "{shown}");
    assert!(
        record["task"]["connection"]
            .as_str()
            .unwrap()
            .contains("***")
    );
}

#[tokio::test]
async fn max_rows_truncates_and_read_only_refuses_writes() {
    let ex = Executor::start().await;
    let url = database_url();
    let many = run(
        &ex,
        json!({"type": "database", "connection": url,
        "query": "SELECT g FROM generate_series(1, 50) AS g", "max_rows": 10}),
    )
    .await;
    assert_eq!(many["result"]["rows"].as_array().unwrap().len(), 10);
    assert_eq!(many["result"]["truncated"], true);
    let refused = run(
        &ex,
        json!({"type": "database", "connection": url, "read_only": true, "retries": 0,
        "query": "CREATE TABLE flunq_never (id int)"}),
    )
    .await;
    assert_eq!(refused["status"], "failed");
    assert_eq!(refused["error"]["kind"], "database");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("25006"),
        "{refused}"
    );
}

#[tokio::test]
async fn statement_timeout_fails_with_kind_timeout() {
    let ex = Executor::start().await;
    let started = std::time::Instant::now();
    let record = run(
        &ex,
        json!({"type": "database", "connection": database_url(), "timeout": "200ms",
        "retries": 0, "query": "SELECT pg_sleep(5)"}),
    )
    .await;
    assert_eq!(record["status"], "failed");
    assert_eq!(record["error"]["kind"], "timeout", "{record}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn a_syntax_error_is_not_retried() {
    let ex = Executor::start().await;
    let record = run(
        &ex,
        json!({"type": "database", "connection": database_url(), "retries": 3,
        "retry": {"policy": "fixed", "delay": "1ms"}, "query": "SELEC 1"}),
    )
    .await;
    assert_eq!(record["status"], "failed");
    assert_eq!(record["attempts"].as_array().unwrap().len(), 1);
    assert!(
        record["error"]["message"]
            .as_str()
            .unwrap()
            .contains("42601")
    );
}

#[tokio::test]
async fn no_statement_sees_what_an_earlier_one_left_on_the_pooled_session() {
    let ex = Executor::start().await;
    let url = database_url();
    let statement = |sql: &str| json!({"type": "database", "connection": url, "query": sql});
    // A distinctive advisory lock key, so concurrent tests cannot hold it.
    let key = 0x0f1a_2b3c_i64;
    let first = run(
        &ex,
        statement(&format!(
            "SELECT pg_backend_pid() AS pid, set_config('search_path', 'nowhere', false), \
             pg_advisory_lock({key}), set_config('application_name', 'left-over', false)"
        )),
    )
    .await;
    assert_eq!(first["status"], "succeeded", "{first}");
    let second = run(
        &ex,
        statement(&format!(
            "SELECT pg_backend_pid() AS pid, current_setting('search_path') AS search_path, \
             current_setting('application_name') AS app, \
             (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
              AND pid = pg_backend_pid() AND objid = {key}) AS locks"
        )),
    )
    .await;
    assert_eq!(second["status"], "succeeded", "{second}");
    let row = &second["result"]["rows"][0];
    // The same pooled connection, so the test says something about its reset.
    assert_eq!(
        row["pid"], first["result"]["rows"][0]["pid"],
        "{first} {second}"
    );
    assert_eq!(row["search_path"], "\"$user\", public", "{row}");
    assert_ne!(row["app"], "left-over", "{row}");
    assert_eq!(row["locks"], 0, "{row}");
}
