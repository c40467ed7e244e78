//! The queue of accepted executions waiting for a worker.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use super::BoxFuture;
use crate::model::prepared::PreparedTask;

/// One queued execution: its id and the task ready to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// The execution's id.
    pub id: String,
    /// What to run.
    pub task: Arc<PreparedTask>,
}

/// A FIFO queue of jobs shared by the workers.
pub trait Queue: Send + Sync + std::fmt::Debug {
    /// Adds a job at the back.
    fn push(&self, job: Job);
    /// Waits for the next job. Cancel-safe: a dropped call takes nothing.
    fn pop(&self) -> BoxFuture<'_, Job>;
    /// Jobs waiting.
    fn len(&self) -> usize;
    /// Whether no job waits.
    fn is_empty(&self) -> bool {
        self.len() == 0
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

    fn try_pop(&self) -> Option<Job> {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }
}

impl Queue for MemoryQueue {
    fn push(&self, job: Job) {
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back(job);
        // A stored permit wakes the next `pop`, even one not yet waiting.
        self.ready.notify_one();
    }

    fn pop(&self) -> BoxFuture<'_, Job> {
        Box::pin(async move {
            loop {
                if let Some(job) = self.try_pop() {
                    // Others may be waiting for the jobs behind this one.
                    if !self.is_empty() {
                        self.ready.notify_one();
                    }
                    return job;
                }
                self.ready.notified().await;
            }
        })
    }

    fn len(&self) -> usize {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}
