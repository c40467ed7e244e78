use std::net::TcpListener;

use flunq_http_client::EgressPolicy;
use flunq_postgres::{ConnectionTarget, Database, DatabaseOptions, ErrorKind, Statement};

use crate::support::{database, loopback_policy};

fn refusal(connection: &str) -> String {
    let err = ConnectionTarget::parse(connection).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
    let message = err.to_string();
    assert!(!message.contains("hunter2"), "password leaked: {message}");
    assert!(
        !format!("{err:?}").contains("hunter2"),
        "password leaked: {err:?}"
    );
    message
}

#[test]
fn refuses_unix_socket_hosts() {
    for s in [
        "postgres://app:hunter2@%2Fvar%2Frun%2Fpostgresql/db",
        "host=/var/run/postgresql user=app password=hunter2",
        "postgres://app:hunter2@/db?host=/tmp",
    ] {
        assert!(refusal(s).contains("Unix socket"), "{s}");
    }
}

#[test]
fn refuses_several_hosts() {
    assert!(refusal("postgres://app:hunter2@a.example,b.example/db").contains("several hosts"));
    assert!(
        refusal("host=a.example,b.example user=app password=hunter2").contains("several hosts")
    );
}

#[test]
fn refuses_the_options_parameter() {
    let message =
        refusal("postgres://app:hunter2@db.example/db?options=-c%20statement_timeout%3D0");
    assert!(message.contains("options"), "{message}");
}

#[test]
fn refuses_garbage_without_repeating_it() {
    for s in [
        "postgres://app:hunter2@db.example:notaport/db",
        "host=db.example password='hunter2",
        "user=app password=hunter2 x",
        "postgres://app:hunter2@db.example/db?unknown_option=1",
    ] {
        refusal(s);
    }
}

#[test]
fn refuses_a_missing_host_or_user() {
    assert!(refusal("user=app password=hunter2").contains("no host"));
    assert!(refusal("host=db.example password=hunter2").contains("no user"));
}

#[test]
fn debug_and_display_mask_the_password() {
    let target = ConnectionTarget::parse("postgres://app:hunter2@db.example:6432/orders").unwrap();
    assert!(!format!("{target:?}").contains("hunter2"));
    assert!(format!("{target:?}").contains("***"));
    assert_eq!(target.to_string(), "db.example:6432/orders");
}

/// A listener that would see any connection attempt.
fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

fn was_dialed(listener: &TcpListener) -> bool {
    // `execute` awaited any connect it made, so an accepted connection would be queued.
    listener.accept().is_ok()
}

#[tokio::test]
async fn default_policy_denies_loopback_without_dialing() {
    let (listener, port) = listener();
    let database = Database::new(DatabaseOptions::default());
    for connection in [
        format!("postgres://app:hunter2@127.0.0.1:{port}/db"),
        format!("postgres://app:hunter2@localhost:{port}/db"),
        format!("host=db.example hostaddr=127.0.0.1 port={port} user=app password=hunter2"),
        format!("postgres://app:hunter2@[::ffff:127.0.0.1]:{port}/db"),
    ] {
        let target = ConnectionTarget::parse(&connection).unwrap();
        let err = database
            .execute(&target, &Statement::new("SELECT 1"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::EgressDenied, "{connection}: {err}");
        assert!(!err.to_string().contains("hunter2"));
    }
    assert!(!was_dialed(&listener));
    assert_eq!(database.pool_count(), 0);
}

#[tokio::test]
async fn default_policy_denies_private_networks() {
    let database = Database::new(DatabaseOptions::default());
    for host in ["10.0.0.1", "192.168.1.10", "169.254.169.254", "[fd00::1]"] {
        let target = ConnectionTarget::parse(&format!("postgres://app@{host}/db")).unwrap();
        let err = database
            .execute(&target, &Statement::new("SELECT 1"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::EgressDenied, "{host}");
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn allowlisted_loopback_connects() {
    let database = database();
    let result = crate::support::run(&database, "SELECT 1 AS one", vec![])
        .await
        .unwrap();
    assert_eq!(result.rows[0]["one"], 1);
}

#[tokio::test]
async fn refused_connection_is_a_retryable_connect_error() {
    let (listener, port) = listener();
    drop(listener);
    let database = Database::new(DatabaseOptions {
        egress: EgressPolicy::from_allowlist("127.0.0.0/8").unwrap(),
        ..DatabaseOptions::default()
    });
    let target =
        ConnectionTarget::parse(&format!("postgres://app:hunter2@127.0.0.1:{port}/db")).unwrap();
    let err = database
        .execute(&target, &Statement::new("SELECT 1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert!(err.is_retryable());
    let message = err.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}/db")),
        "{message}"
    );
    assert!(!message.contains("hunter2"));
}

#[tokio::test]
async fn missing_database_is_a_final_connect_error() {
    let url = crate::support::url();
    let (base, _) = url.rsplit_once('/').unwrap();
    let missing = format!("{base}/flunq_no_such_database_{}", std::process::id());
    let target = ConnectionTarget::parse(&missing).unwrap();
    let database = Database::new(DatabaseOptions {
        egress: loopback_policy(),
        ..DatabaseOptions::default()
    });
    let err = database
        .execute(&target, &Statement::new("SELECT 1"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(err.code(), Some("3D000"));
    assert!(!err.is_retryable());
}
