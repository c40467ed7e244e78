//! Where state lives: the execution store, the config store and the queue, behind
//! traits so that the Redis scale-out can serve the same engine. This module has the
//! in-memory implementations used when `REDIS_URL` is unset, and [`redis`], the backend
//! shared by many instances when it is set.

mod configs;
mod executions;
mod queue;
pub mod redis;

use std::future::Future;
use std::pin::Pin;

pub use configs::{ConfigStore, ConfigStoreError, MemoryConfigStore, StoredConfig};
pub use executions::{ExecutionStore, Inserted, MemoryExecutionStore, Page, Progress};
pub use queue::{Job, JobTask, MemoryQueue, Queue, QueueEvent, SubmittedTask};
pub use redis::{RedisBackend, RedisClientIdentity, RedisOptions};

/// A boxed, sendable future: the return type of the store traits (dyn-compatible).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store failed (a network store out of reach; the memory stores never fail).
#[derive(Debug, Clone, thiserror::Error)]
#[error("state store unavailable: {0}")]
pub struct StoreError(pub String);
