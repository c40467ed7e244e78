//! Connection pools, one per target, created on first use and dropped when idle.

use std::collections::HashMap;
use std::hash::RandomState;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use flunq_http_client::EgressPolicy;
use tokio_postgres::{Client, Statement};

use crate::connect;
use crate::error::DatabaseError;
use crate::target::{ConnectionTarget, PoolKey};

/// Prepared statements kept per connection. Statements are arbitrary task SQL, so the
/// cache is bounded: when full it is emptied (dropping a `Statement` closes it on the
/// server) and fills again with what is in use.
const STATEMENT_CACHE_SIZE: usize = 64;

/// One pooled connection and the statements prepared on it.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) client: Client,
    pub(crate) statements: StatementCache,
}

/// Prepared statements by SQL text, bounded.
#[derive(Debug, Default)]
pub(crate) struct StatementCache {
    by_sql: HashMap<String, Statement>,
}

impl StatementCache {
    pub(crate) fn get(&self, sql: &str) -> Option<Statement> {
        self.by_sql.get(sql).cloned()
    }

    pub(crate) fn insert(&mut self, sql: &str, statement: Statement) {
        if self.by_sql.len() >= STATEMENT_CACHE_SIZE {
            self.by_sql.clear();
        }
        self.by_sql.insert(sql.to_owned(), statement);
    }

    pub(crate) fn remove(&mut self, sql: &str) {
        self.by_sql.remove(sql);
    }
}

/// Creates connections for one target, egress-checked each time (a pool outlives DNS
/// answers, so every new connection resolves and checks again).
#[derive(Debug)]
pub(crate) struct Connector {
    target: ConnectionTarget,
    egress: EgressPolicy,
    connect_timeout: Duration,
}

impl managed::Manager for Connector {
    type Type = Connection;
    type Error = DatabaseError;

    async fn create(&self) -> Result<Connection, DatabaseError> {
        let client = connect::dial(&self.egress, &self.target, self.connect_timeout).await?;
        Ok(Connection {
            client,
            statements: StatementCache::default(),
        })
    }

    /// Before a connection is handed out again, the session is put back as it was
    /// opened, so no statement sees what an earlier one left: settings (`SET
    /// search_path`, `SET default_transaction_read_only`), a changed role, cursors,
    /// `LISTEN`s, advisory locks, temporary tables, sequence state. One round trip;
    /// prepared statements stay (unlike `DISCARD ALL`), so the statement cache holds.
    /// A connection whose reset fails is dropped for a new one.
    async fn recycle(&self, conn: &mut Connection, _: &Metrics) -> RecycleResult<DatabaseError> {
        if conn.client.is_closed() {
            return Err(RecycleError::message("connection closed"));
        }
        conn.client
            .batch_execute(SESSION_RESET)
            .await
            .map_err(|_| RecycleError::message("the session could not be reset"))?;
        Ok(())
    }
}

/// What `DISCARD ALL` does but `DEALLOCATE ALL` and `DISCARD PLANS` (PostgreSQL
/// documentation, DISCARD): prepared statements and their plans are not session state
/// a statement can see.
const SESSION_RESET: &str = "CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; \
    UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES;";

pub(crate) type Pool = managed::Pool<Connector>;
pub(crate) type PooledConnection = managed::Object<Connector>;

/// How pools are sized and aged.
#[derive(Debug, Clone)]
pub(crate) struct PoolSettings {
    pub(crate) egress: EgressPolicy,
    pub(crate) max_connections_per_target: usize,
    pub(crate) max_targets: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) idle_timeout: Duration,
}

struct Entry {
    pool: Pool,
    last_used: Instant,
}

/// Every target's pool. The lock is held only to look up, insert or evict, never
/// across an await.
pub(crate) struct Pools {
    settings: PoolSettings,
    hasher: RandomState,
    pools: Mutex<HashMap<PoolKey, Entry>>,
}

impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pools")
            .field("settings", &self.settings)
            .field("targets", &self.lock().len())
            .finish()
    }
}

impl Pools {
    pub(crate) fn new(settings: PoolSettings) -> Self {
        Pools {
            settings,
            hasher: RandomState::new(),
            pools: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PoolKey, Entry>> {
        // No code panics while holding the lock, and the map stays consistent anyway.
        self.pools.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The target's pool, created on first use. Pools idle for `idle_timeout` are
    /// dropped (their connections close as they come back); when `max_targets` pools
    /// exist, the least recently used one makes room.
    pub(crate) fn pool_for(&self, target: &ConnectionTarget) -> Result<Pool, DatabaseError> {
        let key = target.pool_key(&self.hasher);
        let now = Instant::now();
        let mut pools = self.lock();
        pools.retain(|_, e| now.duration_since(e.last_used) < self.settings.idle_timeout);
        if let Some(entry) = pools.get_mut(&key) {
            entry.last_used = now;
            let idle = self.settings.idle_timeout;
            let _ = entry.pool.retain(|_, m| m.last_used() < idle);
            return Ok(entry.pool.clone());
        }
        if pools.len() >= self.settings.max_targets.max(1) {
            let oldest = pools
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            // Dropping the entry closes idle connections once no task holds the pool;
            // statements in flight finish on theirs.
            if let Some(oldest) = oldest {
                pools.remove(&oldest);
            }
        }
        let connector = Connector {
            target: target.clone(),
            egress: self.settings.egress.clone(),
            connect_timeout: self.settings.connect_timeout,
        };
        let pool = Pool::builder(connector)
            .max_size(self.settings.max_connections_per_target.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(self.settings.connect_timeout))
            .build()
            .map_err(|e| DatabaseError::Connect {
                target: target.to_string(),
                reason: format!("cannot build the pool: {e}"),
                code: None,
            })?;
        pools.insert(
            key,
            Entry {
                pool: pool.clone(),
                last_used: now,
            },
        );
        Ok(pool)
    }

    /// Size and availability of the target's pool, if it exists.
    pub(crate) fn status(&self, target: &ConnectionTarget) -> Option<deadpool::Status> {
        let key = target.pool_key(&self.hasher);
        self.lock().get(&key).map(|e| e.pool.status())
    }

    /// How many targets have a pool.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}
