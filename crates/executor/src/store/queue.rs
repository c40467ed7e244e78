//! The queue of accepted executions waiting for a worker.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};

use super::{BoxFuture, StoreError};
use crate::model::prepared::PreparedTask;

/// One queued execution: its id and what to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// The execution's id.
    pub id: String,
    /// What to run.
    pub task: JobTask,
    /// The queue's own handle of this delivery (the Redis stream entry id); empty in memory.
    pub receipt: String,
    /// How many times the queue has handed this job out (1 the first time).
    pub deliveries: u32,
    /// Its record, already marked `running` by the queue when it handed the job out
    /// (Redis: in the script that read it, saving a round trip); `None`: the engine
    /// starts it.
    pub started: Option<Box<crate::record::ExecutionRecord>>,
}

impl Job {
    /// This delivery of the job: its receipt and delivery count.
    pub fn delivery(&self) -> String {
        format!("{}#{}", self.receipt, self.deliveries)
    }
}

/// What a job carries: a task prepared in this process, or the submitted task as text
/// for queues that cross processes (the receiving instance prepares it again).
#[derive(Debug, Clone)]
pub enum JobTask {
    /// Ready to run (in-memory queue: the task never leaves the process).
    Prepared(Arc<PreparedTask>),
    /// The task as submitted (secrets in clear: it stays inside the queue's store).
    Submitted(SubmittedTask),
}

/// A task as submitted, for queues that cross processes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedTask {
    /// The task's JSON, as the client sent it.
    pub body: String,
    /// The idempotency key it came with (header or field).
    pub idempotency_key: Option<String>,
}

/// Something the queue tells the engine about jobs it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueEvent {
    /// A cancel arrived (perhaps from another instance): stop this execution now.
    Cancel(String),
    /// An execution that a caller waits for here finished (perhaps on another instance).
    Finished(String),
    /// This instance lost the job's lease (another instance took it over): stop running
    /// it here and write nothing.
    Lost {
        /// The execution's id.
        id: String,
        /// Which delivery was lost ([`Job::delivery`]): a later delivery of the same job
        /// to this instance is not affected.
        delivery: String,
    },
}

/// A FIFO queue of jobs shared by the workers.
pub trait Queue: Send + Sync + std::fmt::Debug {
    /// Adds a job at the back.
    fn push(&self, job: Job) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Waits for the next jobs, at most `max` (at least one). Cancel-safe: a dropped
    /// call takes nothing.
    fn pop(&self, max: usize) -> BoxFuture<'_, Vec<Job>>;
    /// The job is done (its record is final): the queue forgets it.
    fn ack(&self, job: &Job) -> BoxFuture<'_, ()>;
    /// Gives a job that will not run here back to the queue, for any instance to take.
    fn release(&self, job: &Job) -> BoxFuture<'_, ()>;
    /// This instance stops taking jobs: jobs it took but did not start go back to the
    /// queue for other instances.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
    /// Jobs waiting (a recent reading for queues in another process).
    fn len(&self) -> usize;
    /// Whether no job waits.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether the queue is shared by several instances (Redis): jobs then carry the
    /// submitted task as text ([`JobTask::Submitted`]), another instance may run a job
    /// this one accepted (so a `wait` cannot rely on a local signal), and a job not
    /// finished at shutdown is handed back rather than cancelled.
    fn is_shared(&self) -> bool {
        false
    }
    /// Whether the queue's store answers (Redis reachable); `/readyz` says 503 when not.
    fn is_healthy(&self) -> bool {
        true
    }
    /// Asks to hear (as [`QueueEvent::Finished`]) when `id` finishes on any instance
    /// `within` the time a caller waits on this one. Call it before reading the record: a
    /// finish after the call is announced.
    fn watch_finish(&self, id: &str, within: std::time::Duration) -> BoxFuture<'_, ()> {
        let _ = (id, within);
        Box::pin(std::future::ready(()))
    }
    /// Tells every instance that `id` was cancelled.
    fn announce_cancel(&self, id: &str) -> BoxFuture<'_, ()> {
        let _ = id;
        Box::pin(std::future::ready(()))
    }
    /// The queue's events (cancels from other instances, lost leases), for the one
    /// engine running this queue's workers: the first call takes the receiver.
    fn events(&self) -> Option<mpsc::UnboundedReceiver<QueueEvent>> {
        None
    }
}

/// The in-memory queue.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    jobs: Mutex<VecDeque<Job>>,
    ready: Notify,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn take(&self, max: usize) -> Vec<Job> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let n = max.max(1).min(jobs.len());
        jobs.drain(..n).collect()
    }
}

impl Queue for MemoryQueue {
    fn push(&self, job: Job) -> BoxFuture<'_, Result<(), StoreError>> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(job);
        // A stored permit wakes the next `pop`, even one not yet waiting.
        self.ready.notify_one();
        Box::pin(std::future::ready(Ok(())))
    }

    fn pop(&self, max: usize) -> BoxFuture<'_, Vec<Job>> {
        Box::pin(async move {
            loop {
                let jobs = self.take(max);
                if !jobs.is_empty() {
                    // Others may be waiting for the jobs behind these.
                    if !self.is_empty() {
                        self.ready.notify_one();
                    }
                    return jobs;
                }
                self.ready.notified().await;
            }
        })
    }

    fn ack(&self, _job: &Job) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    fn release(&self, job: &Job) -> BoxFuture<'_, ()> {
        let push = self.push(job.clone());
        Box::pin(async move {
            let _ = push.await;
        })
    }

    fn len(&self) -> usize {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
