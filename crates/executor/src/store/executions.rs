//! Execution records: insert (with idempotency keys), get, update, list, expire.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::{BoxFuture, Job, Queue, StoreError};
use crate::record::{ExecutionRecord, Status};

/// What [`ExecutionStore::insert`] did.
#[derive(Debug, Clone)]
pub enum Inserted {
    /// The record is new.
    New,
    /// The idempotency key was seen: this is the first execution's record, unchanged.
    Existing(Arc<ExecutionRecord>),
}

/// How far an execution is, for a waiter ([`ExecutionStore::progress`]).
#[derive(Debug, Clone)]
pub enum Progress {
    /// No such record (unknown or expired).
    Unknown,
    /// Queued or running (which of the two).
    Pending(Status),
    /// Final: its record.
    Finished(Arc<ExecutionRecord>),
}

impl Progress {
    /// The progress a record shows (`None`: no record).
    pub fn of(record: Option<Arc<ExecutionRecord>>) -> Self {
        match record {
            None => Progress::Unknown,
            Some(r) if r.status.is_final() => Progress::Finished(r),
            Some(r) => Progress::Pending(r.status),
        }
    }
}

/// One page of the listing, newest first.
#[derive(Debug, Clone)]
pub struct Page {
    /// The records.
    pub items: Vec<ExecutionRecord>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

/// Execution records, expiring `ttl` after they finish.
pub trait ExecutionStore: Send + Sync + std::fmt::Debug {
    /// Stores a new record, unless its idempotency key names an existing one. Shared as
    /// in [`update`](Self::update).
    fn insert(&self, record: Arc<ExecutionRecord>) -> BoxFuture<'_, Result<Inserted, StoreError>>;
    /// The record, if known and not expired.
    fn get(&self, id: &str) -> BoxFuture<'_, Result<Option<ExecutionRecord>, StoreError>>;
    /// What a waiter checks: the record if it is final, else whether it exists. One
    /// read; the memory store copies no record.
    fn progress(&self, id: &str) -> BoxFuture<'_, Result<Progress, StoreError>> {
        let get = self.get(id);
        Box::pin(async move { Ok(Progress::of(get.await?.map(Arc::new))) })
    }
    /// Stores a new record and queues its job, as one step where the store can (Redis:
    /// one script, so an accepted execution is never left without its job). The default
    /// inserts, then pushes when the record is new.
    fn insert_queued<'a>(
        &'a self,
        record: Arc<ExecutionRecord>,
        job: Job,
        queue: &'a dyn Queue,
    ) -> BoxFuture<'a, Result<Inserted, StoreError>> {
        Box::pin(async move {
            let inserted = self.insert(record).await?;
            if matches!(inserted, Inserted::New) {
                queue.push(job).await?;
            }
            Ok(inserted)
        })
    }
    /// Marks a `queued` execution `running` (a `running` one, handed over from an
    /// instance that died, stays `running`) and returns it; `None` when it is final or
    /// unknown (cancelled while queued, expired).
    fn start(&self, id: &str) -> BoxFuture<'_, Result<Option<ExecutionRecord>, StoreError>>;
    /// Replaces a record (attempts, status, result), unless the stored one is already
    /// final (`succeeded`, `failed`, `cancelled`): final records never change. Returns
    /// whether the record was written. Shared: the memory store keeps it as it is, and
    /// the caller may keep it too (a waiting submission answers with it).
    fn update(&self, record: Arc<ExecutionRecord>) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Rewrites a record that is `cancelled` (to add the attempt the cancel cut off);
    /// any other record is left as it is. Returns whether the record was written.
    fn amend_cancelled(
        &self,
        record: Arc<ExecutionRecord>,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Writes the final record of a job and tells the queue the job is done, as one step
    /// where the store can (Redis: one script). The job is acknowledged even when the
    /// record was already final (a cancel won). Returns whether the record was written.
    fn finish<'a>(
        &'a self,
        record: Arc<ExecutionRecord>,
        job: &'a Job,
        queue: &'a dyn Queue,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let written = self.update(record).await?;
            queue.ack(job).await;
            Ok(written)
        })
    }
    /// Newest first, optionally of one status, after `cursor` (an id).
    fn list(
        &self,
        status: Option<Status>,
        limit: usize,
        cursor: Option<String>,
    ) -> BoxFuture<'_, Result<Page, StoreError>>;
}

/// The in-memory store. Ids are UUIDv7, so ordering by id is ordering by creation.
#[derive(Debug)]
pub struct MemoryExecutionStore {
    ttl: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Shared with whoever wrote them (see [`ExecutionStore::update`]); changed in place
    /// (`Arc::make_mut`) while pending, when nothing else holds them.
    records: BTreeMap<String, Arc<ExecutionRecord>>,
    idempotency: HashMap<String, String>,
    /// Finished ids in the order they finished, for expiry.
    finished: std::collections::VecDeque<(SystemTime, String)>,
}

impl MemoryExecutionStore {
    /// A store keeping finished records for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way
        // that matters more than losing the store: keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn expire(&self, inner: &mut Inner) {
        let now = SystemTime::now();
        while let Some((finished_at, _)) = inner.finished.front() {
            if now.duration_since(*finished_at).unwrap_or_default() < self.ttl {
                break;
            }
            if let Some((_, id)) = inner.finished.pop_front()
                && let Some(record) = inner.records.remove(&id)
                && let Some(key) = &record.idempotency_key
            {
                inner.idempotency.remove(key);
            }
        }
    }
}

impl ExecutionStore for MemoryExecutionStore {
    fn insert(&self, record: Arc<ExecutionRecord>) -> BoxFuture<'_, Result<Inserted, StoreError>> {
        let mut inner = self.lock();
        self.expire(&mut inner);
        if let Some(key) = &record.idempotency_key {
            if let Some(existing) = inner
                .idempotency
                .get(key)
                .and_then(|id| inner.records.get(id))
            {
                let existing = Arc::clone(existing);
                return Box::pin(async move { Ok(Inserted::Existing(existing)) });
            }
            inner.idempotency.insert(key.clone(), record.id.clone());
        }
        if record.status.is_final() {
            inner
                .finished
                .push_back((SystemTime::now(), record.id.clone()));
        }
        inner.records.insert(record.id.clone(), record);
        Box::pin(async { Ok(Inserted::New) })
    }

    fn get(&self, id: &str) -> BoxFuture<'_, Result<Option<ExecutionRecord>, StoreError>> {
        let mut inner = self.lock();
        self.expire(&mut inner);
        let found = inner.records.get(id).map(|r| ExecutionRecord::clone(r));
        Box::pin(async move { Ok(found) })
    }

    fn start(&self, id: &str) -> BoxFuture<'_, Result<Option<ExecutionRecord>, StoreError>> {
        let mut inner = self.lock();
        let started = match inner.records.get_mut(id) {
            Some(record) if !record.status.is_final() => {
                let record = Arc::make_mut(record);
                record.status = Status::Running;
                record.started_at.get_or_insert_with(SystemTime::now);
                Some(record.clone())
            }
            _ => None,
        };
        Box::pin(async move { Ok(started) })
    }

    fn progress(&self, id: &str) -> BoxFuture<'_, Result<Progress, StoreError>> {
        let mut inner = self.lock();
        self.expire(&mut inner);
        let progress = Progress::of(inner.records.get(id).map(Arc::clone));
        Box::pin(async move { Ok(progress) })
    }

    fn update(&self, record: Arc<ExecutionRecord>) -> BoxFuture<'_, Result<bool, StoreError>> {
        let mut inner = self.lock();
        let finished = record.status.is_final().then(|| record.id.clone());
        match inner.records.get_mut(&record.id) {
            // A final record never changes: a cancel that won the race stays cancelled.
            Some(stored) if stored.status.is_final() => return Box::pin(async { Ok(false) }),
            Some(stored) => *stored = record,
            // Expired meanwhile (only final records expire, so not in practice): kept.
            None => {
                inner.records.insert(record.id.clone(), record);
            }
        }
        if let Some(id) = finished {
            inner.finished.push_back((SystemTime::now(), id));
        }
        Box::pin(async { Ok(true) })
    }

    fn amend_cancelled(
        &self,
        record: Arc<ExecutionRecord>,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let mut inner = self.lock();
        let written = match inner.records.get_mut(&record.id) {
            Some(stored) if stored.status == Status::Cancelled => {
                *stored = record;
                true
            }
            _ => false,
        };
        Box::pin(async move { Ok(written) })
    }

    fn list(
        &self,
        status: Option<Status>,
        limit: usize,
        cursor: Option<String>,
    ) -> BoxFuture<'_, Result<Page, StoreError>> {
        let mut inner = self.lock();
        self.expire(&mut inner);
        let upper = match &cursor {
            Some(c) => std::ops::Bound::Excluded(c.clone()),
            None => std::ops::Bound::Unbounded,
        };
        let mut items = Vec::with_capacity(limit.min(1000));
        let mut next = None;
        for (_, record) in inner
            .records
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
        {
            if status.is_some_and(|s| s != record.status) {
                continue;
            }
            if items.len() == limit {
                next = items.last().map(|r: &ExecutionRecord| r.id.clone());
                break;
            }
            items.push(ExecutionRecord::clone(record));
        }
        Box::pin(async move { Ok(Page { items, next }) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn record(id: &str, status: Status, key: Option<&str>) -> ExecutionRecord {
        let mut record = ExecutionRecord::queued(
            id.to_owned(),
            "http",
            RawValue::from_string("{}".to_owned()).unwrap(),
            key.map(str::to_owned),
        );
        record.status = status;
        record
    }

    #[tokio::test]
    async fn finished_records_expire_after_the_ttl_and_free_their_idempotency_key() {
        let store = MemoryExecutionStore::new(Duration::ZERO);
        store
            .insert(Arc::new(record("a", Status::Queued, Some("k"))))
            .await
            .unwrap();
        assert!(
            store.get("a").await.unwrap().is_some(),
            "queued records never expire"
        );
        store
            .update(Arc::new(record("a", Status::Succeeded, Some("k"))))
            .await
            .unwrap();
        assert!(
            store.get("a").await.unwrap().is_none(),
            "expired with a zero ttl"
        );
        // The key is free again: a new execution may use it.
        assert!(matches!(
            store
                .insert(Arc::new(record("b", Status::Queued, Some("k"))))
                .await
                .unwrap(),
            Inserted::New
        ));
    }

    #[tokio::test]
    async fn records_within_the_ttl_are_kept() {
        let store = MemoryExecutionStore::new(Duration::from_secs(3600));
        store
            .insert(Arc::new(record("a", Status::Queued, Some("k"))))
            .await
            .unwrap();
        store
            .update(Arc::new(record("a", Status::Failed, Some("k"))))
            .await
            .unwrap();
        assert!(store.get("a").await.unwrap().is_some());
        assert!(matches!(
            store
                .insert(Arc::new(record("b", Status::Queued, Some("k"))))
                .await
                .unwrap(),
            Inserted::Existing(_)
        ));
    }
}
