//! The entry point: run one statement against a target, with a pooled connection.

use std::sync::Arc;
use std::time::Duration;

use deadpool::managed::{self, PoolError};
use flunq_http_client::EgressPolicy;
use tokio_postgres::NoTls;

use crate::connect;
use crate::error::DatabaseError;
use crate::pool::{PoolSettings, PooledConnection, Pools};
use crate::session;
use crate::statement::{QueryResult, Statement};
use crate::target::ConnectionTarget;

/// How a [`Database`] connects and pools.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// Where connections may go. The default policy denies loopback and private
    /// networks, like every outbound call.
    pub egress: EgressPolicy,
    /// Connections per target at most (default 16): more concurrent statements wait.
    pub max_connections_per_target: usize,
    /// Pools at most (default 64): a new target evicts the least recently used pool.
    pub max_targets: usize,
    /// Limit for resolving and connecting (default 10 s).
    pub connect_timeout: Duration,
    /// A pool (and a connection) unused this long is dropped (default 5 min).
    pub idle_timeout: Duration,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        DatabaseOptions {
            egress: EgressPolicy::default(),
            max_connections_per_target: 16,
            max_targets: 64,
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// A snapshot of one target's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections (idle and in use).
    pub size: usize,
    /// Idle connections ready for the next statement.
    pub available: usize,
    /// The pool's bound.
    pub max_size: usize,
}

/// Runs statements against PostgreSQL targets, one pool per target. Cheap to clone:
/// clones share the pools.
#[derive(Debug, Clone)]
pub struct Database {
    pools: Arc<Pools>,
}

impl Database {
    /// A database runner with these options. Nothing connects until a statement runs.
    pub fn new(options: DatabaseOptions) -> Self {
        Database {
            pools: Arc::new(Pools::new(PoolSettings {
                egress: options.egress,
                max_connections_per_target: options.max_connections_per_target,
                max_targets: options.max_targets,
                connect_timeout: options.connect_timeout,
                idle_timeout: options.idle_timeout,
            })),
        }
    }

    /// Runs one statement on a pooled connection to `target`.
    ///
    /// The egress policy is checked before anything is dialed. The whole call (waiting
    /// for a connection, connecting, the statement) is bounded on the client side by the
    /// statement's timeout plus a margin; the server enforces the timeout itself. If the
    /// client-side bound fires, or the returned future is dropped before it completes,
    /// the connection is cancelled on the server and closed instead of going back to
    /// the pool.
    pub async fn execute(
        &self,
        target: &ConnectionTarget,
        statement: &Statement,
    ) -> Result<QueryResult, DatabaseError> {
        if statement.sql.trim().is_empty() {
            return Err(DatabaseError::InvalidStatement {
                reason: "the query is empty".to_owned(),
            });
        }
        connect::precheck(&self.pools.settings().egress, target)?;
        let backstop = statement
            .timeout
            .saturating_add(backstop_margin(statement.timeout));
        match tokio::time::timeout(backstop, self.run(target, statement)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(DatabaseError::Timeout {
                after: statement.timeout,
            }),
        }
    }

    async fn run(
        &self,
        target: &ConnectionTarget,
        statement: &Statement,
    ) -> Result<QueryResult, DatabaseError> {
        let pool = self.pools.pool_for(target)?;
        let conn = pool.get().await.map_err(|e| from_pool_error(target, e))?;
        let mut checkout = Checkout(Some(conn));
        let outcome = match checkout.0.as_mut() {
            Some(conn) => session::run(conn, statement, target).await,
            None => unreachable_checkout(),
        };
        match outcome {
            Err(e @ DatabaseError::ConnectionLost { .. }) => {
                checkout.abandon();
                Err(e)
            }
            other => {
                checkout.release();
                other
            }
        }
    }

    /// The pool of `target`, if one exists: for tests and metrics.
    pub fn pool_status(&self, target: &ConnectionTarget) -> Option<PoolStatus> {
        self.pools.status(target).map(|s| PoolStatus {
            size: s.size,
            available: s.available,
            max_size: s.max_size,
        })
    }

    /// How many targets have a pool.
    pub fn pool_count(&self) -> usize {
        self.pools.len()
    }
}

impl Default for Database {
    fn default() -> Self {
        Database::new(DatabaseOptions::default())
    }
}

// `Checkout` is built with `Some` and emptied only by consuming methods or `Drop`, so
// `run` always finds the connection; this keeps the impossible branch panic-free.
fn unreachable_checkout() -> Result<QueryResult, DatabaseError> {
    Err(DatabaseError::InvalidStatement {
        reason: "internal: connection already released".to_owned(),
    })
}

/// The client gives the server's own timeout room to fire first: 250 ms, or a tenth of
/// the timeout when that is longer.
fn backstop_margin(timeout: Duration) -> Duration {
    (timeout / 10).max(Duration::from_millis(250))
}

fn from_pool_error(target: &ConnectionTarget, e: PoolError<DatabaseError>) -> DatabaseError {
    let connect = |reason: &str| DatabaseError::Connect {
        target: target.to_string(),
        reason: reason.to_owned(),
        code: None,
    };
    match e {
        PoolError::Backend(e) => e,
        PoolError::Timeout(_) => connect("timed out connecting"),
        PoolError::Closed => connect("the pool was closed"),
        _ => connect("the pool could not provide a connection"),
    }
}

/// A connection out of the pool. Released, it goes back for reuse; abandoned (or
/// dropped mid-statement: the caller's future was dropped or timed out), it is taken
/// out of the pool for good, its statement is cancelled on the server, and it closes.
struct Checkout(Option<PooledConnection>);

impl Checkout {
    fn release(mut self) {
        drop(self.0.take());
    }

    fn abandon(mut self) {
        if let Some(conn) = self.0.take() {
            abandon(conn);
        }
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            abandon(conn);
        }
    }
}

fn abandon(conn: PooledConnection) {
    let connection = managed::Object::take(conn);
    let cancel = connection.client.cancel_token();
    // The cancel request dials the address this connection already uses (checked when
    // it was opened). Without a runtime (a runtime shutting down) the connection just
    // closes, and the server notices when it next writes to it.
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = cancel.cancel_query(NoTls).await;
            drop(connection);
        });
    }
}
