//! The engine: accepts tasks, queues them, runs them on a pool of workers, records
//! every attempt, cancels, lists, expires, and shuts down gracefully.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use flunq_auth::OAuth2Cache;
use flunq_http_client::{Client, EgressPolicy};
use flunq_postgres::{Database, DatabaseOptions};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_util::task::{TaskTracker, task_tracker::TaskTrackerToken};
use tracing::Instrument;

use crate::auth::Authenticators;
use crate::limits::{Breakers, Limiters};
use crate::metrics::Metrics;
use crate::model::config::ConfigInput;
use crate::model::errors::{Invalid, from_serde};
use crate::model::input::TaskInput;
use crate::model::prepared::PreparedTask;
use crate::model::shown::masked_task;
use crate::model::validate::{Defaults, looks_like_connection_string, prepare};
use crate::recent::Recent;
use crate::record::{ErrorKind, ExecError, ExecutionRecord, Status};
use crate::store::{
    ConfigStore, ConfigStoreError, ExecutionStore, Inserted, Job, JobTask, MemoryConfigStore,
    MemoryExecutionStore, MemoryQueue, Page, Progress, Queue, QueueEvent, RedisBackend,
    RedisOptions, StoreError, StoredConfig, SubmittedTask,
};

/// How often `wait` reads the record again when another instance may run it (its
/// finish is announced; this is the fallback).
const SHARED_WAIT_POLL: Duration = Duration::from_secs(1);

/// The engine's settings (the server reads them from the environment).
#[derive(Clone)]
pub struct EngineOptions {
    /// Defaults of tasks: timeout, retries, rate limit per origin, egress policy.
    pub defaults: Defaults,
    /// Executions running at once (`CONCURRENCY`).
    pub concurrency: usize,
    /// Response size limit (`MAX_RESPONSE_BYTES`).
    pub max_response_bytes: usize,
    /// How long finished executions are kept (`EXECUTION_TTL`).
    pub execution_ttl: Duration,
    /// A last check on every dialed address (tests keep traffic on loopback with it).
    pub dial_filter: Option<flunq_http_client::DialFilter>,
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("defaults", &self.defaults)
            .field("concurrency", &self.concurrency)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("execution_ttl", &self.execution_ttl)
            .field("dial_filter", &self.dial_filter.is_some())
            .finish()
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            defaults: Defaults::default(),
            concurrency: 256,
            max_response_bytes: 10 * 1024 * 1024,
            execution_ttl: Duration::from_secs(24 * 3600),
            dial_filter: None,
        }
    }
}

/// What [`Engine::submit`] did.
#[derive(Debug, Clone)]
pub struct Submitted {
    /// The execution's record (shared with the store: an execution run inside the
    /// request answers with the record it wrote).
    pub record: Arc<ExecutionRecord>,
    /// `false` when an idempotency key named an earlier execution (`200`, not `202`).
    pub created: bool,
}

/// Why a submission failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubmitError {
    /// The task is invalid (`400`) or refused (`422`).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The engine is shutting down (`503`).
    #[error("the executor is shutting down")]
    ShuttingDown,
    /// State is out of reach (`503`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The HTTP client could not be built (TLS roots).
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] flunq_http_client::Error),
    /// Redis did not answer.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a cancel failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CancelError {
    /// No such execution (`404`).
    #[error("no execution `{0}`")]
    NotFound(String),
    /// It had already finished (`409`).
    #[error("execution already finished as {}", .0.status.as_str())]
    Finished(Box<ExecutionRecord>),
    /// State is out of reach (`503`).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the workers and the pipeline share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) options: EngineOptions,
    pub(crate) executions: Arc<dyn ExecutionStore>,
    pub(crate) configs: Arc<dyn ConfigStore>,
    pub(crate) queue: Arc<dyn Queue>,
    pub(crate) client: Client,
    pub(crate) auth: Authenticators,
    pub(crate) database: Database,
    pub(crate) breakers: Breakers,
    pub(crate) limiters: Limiters,
    pub(crate) metrics: Metrics,
    /// Stop signals of running executions: inserted and removed by their worker.
    running: Mutex<HashMap<String, Arc<Running>>>,
    /// Stops (cancel, lost lease) that arrived for jobs not running here (yet): a job
    /// handed out with its record already started checks them before it runs.
    early: Mutex<EarlyStops>,
    /// The queue's events, until [`Engine::listen`] takes them.
    events: Mutex<Option<mpsc::UnboundedReceiver<QueueEvent>>>,
    /// Tasks this instance accepted and prepared, for when it runs them itself (shared
    /// queues only; the most recent 16,384).
    prepared: Mutex<Recent<Arc<PreparedTask>>>,
    /// Finish signals for `wait`: inserted and removed by the waiters (with a count of
    /// waiters per execution), signalled by the worker. Queued executions cost nothing here.
    waiters: Mutex<HashMap<String, (Arc<Notify>, usize)>>,
    /// Worker slots: `concurrency` permits, one held by each execution while an attempt
    /// runs (not while it waits to retry).
    slots: Arc<Semaphore>,
    /// Every execution started here, by the dispatcher of [`Engine::run`] or at
    /// submission: the shutdown waits for them.
    tasks: TaskTracker,
    /// Whether [`Engine::run`] takes work: only then may a submission start at once.
    taking: AtomicBool,
    /// Jobs the dispatcher took from the queue and has not started yet: a submission
    /// does not start at once ahead of them.
    dispatching: AtomicUsize,
    stopping: watch::Sender<bool>,
}

/// The stop signal of one running execution.
#[derive(Debug, Default)]
pub(crate) struct Running {
    notify: Notify,
    /// Stopped because another instance took the job over (write nothing).
    lost: AtomicBool,
}

impl Running {
    fn stop(&self, lost: bool) {
        if lost {
            self.lost.store(true, Ordering::Release);
        }
        // A stored permit: the worker sees it even if it has not started waiting.
        self.notify.notify_one();
    }
}

/// Stops that arrived for jobs not running here (yet): cancels by execution id (they are
/// announced to every instance, so most never run here), lost leases by delivery.
#[derive(Debug, Default)]
pub(crate) struct EarlyStops {
    cancels: Recent,
    lost: Recent,
}

/// The worker slot an execution holds while an attempt runs; given back while it waits
/// to retry. It also says which attempt is in flight, for the record of a cancel that
/// cuts it off.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Semaphore>,
    permit: Option<OwnedSemaphorePermit>,
    pub(crate) in_flight: Option<InFlight>,
}

/// An attempt under way: its number and when it started.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlight {
    pub(crate) number: u32,
    pub(crate) started_at: SystemTime,
    pub(crate) clock: tokio::time::Instant,
}

impl Slot {
    /// Waits `delay` without holding a slot, then takes one again.
    pub(crate) async fn pause(&mut self, delay: Duration) {
        self.permit = None;
        tokio::time::sleep(delay).await;
        // The semaphore is never closed; if it were, the execution runs on unslotted.
        self.permit = Arc::clone(&self.slots).acquire_owned().await.ok();
    }
}

/// One execution, boxed: spawned on a task of its own, or run inline by a waiting
/// submission.
/// Its output is the final record when it was asked to keep it (see
/// [`Engine::execution`]).
type Execution =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<Arc<ExecutionRecord>>> + Send>>;

/// An execution run inside a waiting caller's task. Dropped before it finished (the
/// caller's time is up, or the caller itself was dropped), it goes on in a task of its
/// own: a moved `Pin<Box<_>>` keeps its future where it is, and the new task's first
/// poll gives every resource it waits on the new waker.
struct Inline(Option<Execution>);

impl std::future::Future for Inline {
    type Output = Option<Arc<ExecutionRecord>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        // Out while it is polled: if the poll panics, the execution unwinds with it
        // here instead of being handed, half run, to another task.
        let Some(mut execution) = self.0.take() else {
            return std::task::Poll::Ready(None);
        };
        let done = execution.as_mut().poll(cx);
        if done.is_pending() {
            self.0 = Some(execution);
        }
        done
    }
}

impl Drop for Inline {
    fn drop(&mut self) {
        if let Some(execution) = self.0.take() {
            // Outside any runtime there is nothing to run it on; a runtime shutting down
            // drops the new task at once. Either way the execution ends here, as every
            // task does when its runtime goes.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(execution);
            }
        }
    }
}

/// What starting a job at submission takes (see [`Engine::start_now`]).
struct Start {
    job: Job,
    permit: OwnedSemaphorePermit,
    token: TaskTrackerToken,
    inline_until: Option<tokio::time::Instant>,
}

/// The executor engine. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Engine {
    shared: Arc<Shared>,
}

impl Engine {
    /// An engine on the in-memory stores.
    pub fn in_memory(options: EngineOptions) -> Result<Self, flunq_http_client::Error> {
        let executions = Arc::new(MemoryExecutionStore::new(options.execution_ttl));
        Self::with_stores(
            options,
            executions,
            Arc::new(MemoryConfigStore::new()),
            Arc::new(MemoryQueue::new()),
        )
    }

    /// An engine whose queue, records, configs and rate limits live in Redis, shared
    /// with every instance using the same Redis and prefix (`REDIS_URL`). Fails when
    /// Redis does not answer at start.
    pub async fn with_redis(
        options: EngineOptions,
        mut redis: RedisOptions,
    ) -> Result<Self, StartError> {
        redis.execution_ttl = options.execution_ttl;
        let backend = RedisBackend::connect(redis).await?;
        let connection = backend.connection();
        let prefix = backend.options().prefix.clone();
        let backend = Arc::new(backend);
        let engine = Self::with_stores(
            options,
            Arc::clone(&backend) as Arc<dyn ExecutionStore>,
            Arc::clone(&backend) as Arc<dyn ConfigStore>,
            backend as Arc<dyn Queue>,
        )?;
        engine.shared.limiters.share(connection, &prefix);
        Ok(engine)
    }

    /// An engine on the given stores.
    pub fn with_stores(
        options: EngineOptions,
        executions: Arc<dyn ExecutionStore>,
        configs: Arc<dyn ConfigStore>,
        queue: Arc<dyn Queue>,
    ) -> Result<Self, flunq_http_client::Error> {
        let mut builder = Client::builder()
            .egress_policy(options.defaults.egress.clone())
            .max_response_bytes(options.max_response_bytes)
            // Keep a connection per worker: fewer idle slots than workers means closing
            // and reopening connections under load.
            .pool_max_idle_per_host(options.concurrency.max(1));
        if let Some(filter) = options.dial_filter.clone() {
            builder = builder.dial_filter(move |addr| filter(addr));
        }
        let client = builder.build()?;
        let auth = Authenticators::new(OAuth2Cache::new(client.clone()));
        let database = Database::new(DatabaseOptions {
            egress: options.defaults.egress.clone(),
            ..DatabaseOptions::default()
        });
        let (stopping, _) = watch::channel(false);
        let events = queue.events();
        let options_concurrency = options.concurrency.max(1);
        let engine = Self {
            shared: Arc::new(Shared {
                options,
                executions,
                configs,
                queue,
                client,
                auth,
                database,
                breakers: Breakers::new(),
                limiters: Limiters::new(),
                metrics: Metrics::new(),
                running: Mutex::new(HashMap::new()),
                early: Mutex::new(EarlyStops::default()),
                events: Mutex::new(events),
                // About 1 KiB each: 16 MiB at most.
                prepared: Mutex::new(Recent::with_cap(16_384)),
                waiters: Mutex::new(HashMap::new()),
                slots: Arc::new(Semaphore::new(options_concurrency)),
                tasks: TaskTracker::new(),
                taking: AtomicBool::new(false),
                dispatching: AtomicUsize::new(0),
                stopping,
            }),
        };
        engine.listen();
        Ok(engine)
    }

    /// The egress policy in force.
    pub fn egress_policy(&self) -> &EgressPolicy {
        &self.shared.options.defaults.egress
    }

    /// Validates and queues a task given as JSON. Nothing is queued when it is invalid.
    pub async fn submit(
        &self,
        body: &[u8],
        idempotency_key: Option<&str>,
    ) -> Result<Submitted, SubmitError> {
        self.accept(body, idempotency_key, None).await
    }

    /// [`submit`](Self::submit), then waits up to `limit` for the new execution to
    /// finish (`?wait=`): its record is final if it finished in time, else as it is
    /// then. An idempotent repeat waits the same way for the first execution.
    ///
    /// An execution that can start at once (in memory, nothing queued, a slot free)
    /// runs inside the caller's task while it waits: no hand-off to a worker task and
    /// back. If the caller stops waiting (its time is up, or it is dropped because the
    /// client went away), the execution goes on in a task of its own.
    pub async fn submit_and_wait(
        &self,
        body: &[u8],
        idempotency_key: Option<&str>,
        limit: Duration,
    ) -> Result<Submitted, SubmitError> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut submitted = self.accept(body, idempotency_key, Some(deadline)).await?;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        // A replay of an idempotency key waits for the first execution as well.
        if !submitted.record.status.is_final()
            && !left.is_zero()
            && let Some(now) = self.wait(&submitted.record.id, left).await?
        {
            submitted.record = now;
        }
        Ok(submitted)
    }

    /// Validates, stores and queues (or starts) a task; with `inline_until`, an
    /// execution that starts at once runs in this task until then (see
    /// [`submit_and_wait`](Self::submit_and_wait)) and the record returned is as it is
    /// after.
    async fn accept(
        &self,
        body: &[u8],
        idempotency_key: Option<&str>,
        inline_until: Option<tokio::time::Instant>,
    ) -> Result<Submitted, SubmitError> {
        if *self.shared.stopping.borrow() {
            return Err(SubmitError::ShuttingDown);
        }
        let input: TaskInput = parse_object(body)?;
        let task = self.prepare_input(&input, idempotency_key).await?;
        let task_kind = task.kind.as_str();
        let record = ExecutionRecord::queued(
            uuid::Uuid::now_v7().to_string(),
            task_kind,
            masked_task(&input, body),
            task.idempotency_key.clone(),
        );
        let shared = &self.shared;
        let id = record.id.clone();
        let job_task = if shared.queue.is_shared() {
            // Kept for this instance, in case it runs the job itself: a task that names
            // no config prepares the same anywhere, so preparing it again is waste.
            // (One that names a config is prepared again with the config current then.)
            if config_named(&input).is_none() {
                shared
                    .prepared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(id.clone(), Arc::new(task));
            }
            JobTask::Submitted(SubmittedTask {
                // Parsed as JSON above, so it is UTF-8.
                body: String::from_utf8_lossy(body).into_owned(),
                idempotency_key: idempotency_key.map(str::to_owned),
            })
        } else {
            JobTask::Prepared(Arc::new(task))
        };
        let job = Job {
            id: record.id.clone(),
            task: job_task,
            receipt: String::new(),
            deliveries: 0,
            started: None,
        };
        // In memory, with nothing queued ahead and a slot free, the execution starts
        // at once: the queue and the dispatcher are a hand-off between tasks that
        // decides nothing then.
        let direct = if shared.queue.is_shared() {
            None
        } else {
            // Taken before `taking` is read: if `run` still takes work, its shutdown
            // waits for this token, so an execution started below is waited for.
            let token = shared.tasks.token();
            (shared.taking.load(Ordering::SeqCst)
                && shared.dispatching.load(Ordering::SeqCst) == 0
                && shared.queue.is_empty())
            .then(|| Arc::clone(&shared.slots).try_acquire_owned().ok())
            .flatten()
            .map(|permit| (permit, token))
        };
        let record = Arc::new(record);
        if let Some((permit, token)) = direct {
            // Should the record be gone when an inline run ends: as accepted.
            let (created_at, key) = (record.created_at, record.idempotency_key.clone());
            let accepted = move || {
                let mut record =
                    ExecutionRecord::queued(id, task_kind, masked_task(&input, body), key);
                record.created_at = created_at;
                record
            };
            let start = Start {
                job,
                permit,
                token,
                inline_until,
            };
            return self.start_now(record, start, accepted).await;
        }
        let inserted = shared
            .executions
            .insert_queued(Arc::clone(&record), job, shared.queue.as_ref())
            .await;
        if !matches!(inserted, Ok(Inserted::New)) {
            shared
                .prepared
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
        Ok(match inserted? {
            Inserted::Existing(existing) => Submitted {
                record: existing,
                created: false,
            },
            Inserted::New => Submitted {
                record,
                created: true,
            },
        })
    }

    /// Stores a new record and starts its execution at once (in memory, nothing queued,
    /// a slot free): spawned, or run in this task until `inline_until`, and then answered
    /// with the final record it wrote, else with the record as stored then (else
    /// `accepted()`).
    async fn start_now(
        &self,
        record: Arc<ExecutionRecord>,
        start: Start,
        accepted: impl FnOnce() -> ExecutionRecord,
    ) -> Result<Submitted, SubmitError> {
        let shared = &self.shared;
        let Start {
            job,
            permit,
            token,
            inline_until,
        } = start;
        let id = record.id.clone();
        // Run inline, only the store holds the record: the execution starts it in place.
        // Otherwise the reply shares it (the store copies it if the execution starts
        // while the reply still holds it).
        let reply = inline_until.is_none().then(|| Arc::clone(&record));
        if let Inserted::Existing(existing) = shared.executions.insert(record).await? {
            return Ok(Submitted {
                record: existing,
                created: false,
            });
        }
        if !shared.taking.load(Ordering::SeqCst) {
            // The shutdown began meanwhile: queued, as any submission then.
            drop((permit, token));
            shared.queue.push(job).await?;
        } else if let Some(until) = inline_until {
            let mut inline = Inline(Some(self.execution(job, permit, token, true)));
            // Not finished in time: `inline`, dropped, spawns the rest.
            if let Ok(Some(finished)) = tokio::time::timeout_at(until, &mut inline).await {
                return Ok(Submitted {
                    record: finished,
                    created: true,
                });
            }
        } else {
            tokio::spawn(self.execution(job, permit, token, false));
        }
        let record = match reply {
            Some(record) => record,
            // Not finished in time, or a cancel won: as stored now. A store that cannot
            // be read now does not make it an error (a client would submit it again).
            None => Arc::new(match self.get(&id).await {
                Ok(Some(now)) => now,
                _ => accepted(),
            }),
        };
        Ok(Submitted {
            record,
            created: true,
        })
    }

    /// Merges the task with its config and resolves it into what the pipeline runs.
    async fn prepare_input(
        &self,
        input: &TaskInput,
        idempotency_key: Option<&str>,
    ) -> Result<PreparedTask, SubmitError> {
        let config = match config_named(input) {
            Some(ConfigName::Config(name)) => match self.shared.configs.get(name).await? {
                Some(c) => Some(c),
                None => {
                    return Err(Invalid::field(
                        "config",
                        format!("no configuration named or with id `{name}`"),
                    )
                    .into());
                }
            },
            Some(ConfigName::Connection(name)) => self.shared.configs.get(name).await?,
            None => None,
        };
        let config_ref = config.as_ref().map(|c| (c.name(), c.version, &c.input));
        Ok(prepare(
            input,
            config_ref,
            &self.shared.options.defaults,
            idempotency_key,
            |auth| self.shared.auth.get(auth),
        )?)
    }

    /// The task of a job, prepared here when it came from another process.
    async fn job_task(&self, job: &Job) -> Result<Arc<PreparedTask>, SubmitError> {
        match &job.task {
            JobTask::Prepared(task) => Ok(Arc::clone(task)),
            JobTask::Submitted(source) => {
                let kept = self
                    .shared
                    .prepared
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&job.id);
                if let Some(task) = kept {
                    return Ok(task);
                }
                let input: TaskInput = parse_object(source.body.as_bytes())?;
                let task = self
                    .prepare_input(&input, source.idempotency_key.as_deref())
                    .await?;
                Ok(Arc::new(task))
            }
        }
    }

    /// The record, if known and not expired.
    pub async fn get(&self, id: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        self.shared.executions.get(id).await
    }

    /// Waits up to `limit` for the execution to finish; returns its record then.
    pub async fn wait(
        &self,
        id: &str,
        limit: Duration,
    ) -> Result<Option<Arc<ExecutionRecord>>, StoreError> {
        let notify = {
            let mut waiters = self
                .shared
                .waiters
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let entry = waiters
                .entry(id.to_owned())
                .or_insert_with(|| (Arc::new(Notify::new()), 0));
            entry.1 += 1;
            Arc::clone(&entry.0)
        };
        let shared_queue = self.shared.queue.is_shared();
        let mut stopping = self.shared.stopping.subscribe();
        let result = async {
            let deadline = tokio::time::Instant::now() + limit;
            let mut watching = false;
            loop {
                // Enabled before the record is read: a finish between the read and the
                // wait still wakes it.
                let notified = notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                match self.shared.executions.progress(id).await? {
                    // In memory, nothing starts a queued execution once the engine stops
                    // taking work: the record as it is is the answer, now (a shutdown is
                    // not held up by waits on executions that will not run).
                    Progress::Pending(Status::Queued)
                        if !shared_queue && *stopping.borrow_and_update() =>
                    {
                        return Ok(self.get(id).await?.map(Arc::new));
                    }
                    Progress::Pending(_) => {}
                    Progress::Unknown => return Ok(None),
                    Progress::Finished(record) => return Ok(Some(record)),
                }
                if shared_queue && !watching {
                    // Another instance may run it: have its finish announced here, then
                    // read once more (it may have finished before the watch began).
                    self.shared.queue.watch_finish(id, limit).await;
                    watching = true;
                    continue;
                }
                // With a shared queue, the finish is announced (see `watch_finish`);
                // the record is read again now and then in case an announcement was
                // lost (a reconnecting listener).
                let until = if shared_queue {
                    deadline.min(tokio::time::Instant::now() + SHARED_WAIT_POLL)
                } else {
                    deadline
                };
                // In memory, the shutdown also ends the wait of a queued execution (the
                // check above, once it has begun).
                let shutting = !shared_queue && !*stopping.borrow();
                tokio::select! {
                    timed = tokio::time::timeout_at(until, notified) => {
                        if timed.is_err() && tokio::time::Instant::now() >= deadline {
                            return Ok(self.get(id).await?.map(Arc::new));
                        }
                    }
                    _ = stopping.changed(), if shutting => {}
                }
            }
        }
        .await;
        let mut waiters = self
            .shared
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = waiters.get_mut(id) {
            entry.1 -= 1;
            if entry.1 == 0 {
                waiters.remove(id);
            }
        }
        result
    }

    /// Cancels a queued or running execution: a running attempt is dropped at once
    /// (its connection with it) and no further attempt starts, on whichever instance
    /// runs it.
    pub async fn cancel(&self, id: &str) -> Result<ExecutionRecord, CancelError> {
        let Some(mut record) = self.shared.executions.get(id).await? else {
            return Err(CancelError::NotFound(id.to_owned()));
        };
        if record.status.is_final() {
            return Err(CancelError::Finished(Box::new(record)));
        }
        set_cancelled(&mut record, "cancelled on request");
        if !self
            .shared
            .executions
            .update(Arc::new(record.clone()))
            .await?
        {
            // It finished between the read and the write: that record stands.
            return match self.shared.executions.get(id).await? {
                Some(now) => Err(CancelError::Finished(Box::new(now))),
                None => Err(CancelError::NotFound(id.to_owned())),
            };
        }
        // Signalled after the record says cancelled: a worker that starts after this
        // sees the status, one that started before gets the signal.
        self.signal_running(id, false);
        self.signal_waiters(id);
        self.shared.queue.announce_cancel(id).await;
        Ok(record)
    }

    /// Newest first, optionally of one status.
    pub async fn list(
        &self,
        status: Option<Status>,
        limit: usize,
        cursor: Option<String>,
    ) -> Result<Page, StoreError> {
        self.shared.executions.list(status, limit, cursor).await
    }

    /// Stores a new configuration.
    pub async fn create_config(&self, body: &[u8]) -> Result<Arc<StoredConfig>, ConfigError> {
        let input = parse_config(body)?;
        let now = SystemTime::now();
        let stored = StoredConfig {
            id: uuid::Uuid::now_v7().to_string(),
            version: 1,
            created_at: now,
            updated_at: now,
            input,
        };
        Ok(self.shared.configs.create(stored).await?)
    }

    /// A configuration by id or name.
    pub async fn config(&self, id_or_name: &str) -> Result<Option<Arc<StoredConfig>>, StoreError> {
        self.shared.configs.get(id_or_name).await
    }

    /// Every configuration.
    pub async fn configs(&self) -> Result<Vec<Arc<StoredConfig>>, StoreError> {
        self.shared.configs.list().await
    }

    /// Replaces a configuration; values sent back as `***` keep their stored value.
    /// `if_match`: the versions the client accepts (`If-Match`; `None` for any). The
    /// config is replaced only if it is still the version read here, so a concurrent
    /// change is never undone with the values it replaced: without `if_match` a lost
    /// race starts over (three times at most), with it the answer is a version mismatch.
    pub async fn replace_config(
        &self,
        id_or_name: &str,
        body: &[u8],
        if_match: Option<&[u64]>,
    ) -> Result<Arc<StoredConfig>, ConfigError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let Some(current) = self.shared.configs.get(id_or_name).await? else {
                return Err(ConfigStoreError::NotFound(id_or_name.to_owned()).into());
            };
            if let Some(versions) = if_match
                && !versions.contains(&current.version)
            {
                return Err(ConfigStoreError::VersionMismatch {
                    expected: versions.first().copied().unwrap_or_default(),
                    current: current.version,
                }
                .into());
            }
            // Parsed after the config is read, so that a stale If-Match is a 412
            // whatever the body (RFC 9110 §13.2.2: preconditions come before the
            // method's own checks); again on a retry, rather than kept and copied.
            let mut input: ConfigInput = parse_object(body)?;
            crate::model::config_secrets::keep_masked_secrets(&mut input, &current.input);
            crate::model::config_secrets::validate_config(&input)?;
            match self
                .shared
                .configs
                .replace(id_or_name, input, Some(current.version))
                .await
            {
                Err(ConfigStoreError::VersionMismatch { .. })
                    if if_match.is_none() && tries < 3 => {}
                other => return Ok(other?),
            }
        }
    }

    /// Deletes a configuration.
    pub async fn delete_config(&self, id_or_name: &str) -> Result<(), ConfigStoreError> {
        self.shared.configs.delete(id_or_name).await
    }

    /// The metrics in the Prometheus text format.
    pub fn render_metrics(&self) -> String {
        let breakers: Vec<(String, u8)> = self
            .shared
            .breakers
            .states()
            .into_iter()
            .map(|(key, state)| (key, crate::limits::state_number(state)))
            .collect();
        // Queued: in the queue, or taken by the dispatcher and waiting for a slot.
        let queued = self.shared.queue.len() + self.shared.dispatching.load(Ordering::SeqCst);
        self.shared.metrics.render(queued, &breakers)
    }

    /// Whether the engine takes work: not shutting down, and its queue's store (Redis)
    /// answers.
    pub fn is_ready(&self) -> bool {
        !*self.shared.stopping.borrow() && self.shared.queue.is_healthy()
    }

    /// Runs up to `concurrency` executions at once until [`shutdown`](Self::shutdown);
    /// then lets running executions finish within `grace`. Those still running then are
    /// cancelled (in memory) or handed back to the queue for another instance (Redis).
    ///
    /// An execution waiting between attempts gives its slot back while it waits, so a
    /// long `Retry-After` or backoff never holds a worker idle: `concurrency` bounds
    /// attempts in flight, not executions waiting to retry.
    pub async fn run(&self, grace: Duration) {
        let shared = &self.shared;
        self.listen();
        let slots = &shared.slots;
        let mut stopping = shared.stopping.subscribe();
        shared.taking.store(true, Ordering::SeqCst);
        loop {
            // Wait for a free slot without keeping it: an execution coming back from a
            // retry wait must be able to take it while no new job arrives.
            let free = tokio::select! {
                biased;
                _ = stopping.wait_for(|s| *s) => break,
                permit = Arc::clone(slots).acquire_owned() => permit,
            };
            // The semaphore is never closed; a closed one would mean no more work.
            let Ok(free) = free else { break };
            drop(free);
            let room = slots.available_permits().max(1);
            let jobs = tokio::select! {
                biased;
                _ = stopping.wait_for(|s| *s) => break,
                jobs = shared.queue.pop(room) => jobs,
            };
            shared.dispatching.store(jobs.len(), Ordering::SeqCst);
            let mut jobs = jobs.into_iter();
            while let Some(job) = jobs.next() {
                // Slots go first to executions coming back from a retry wait (the
                // semaphore is fair); on shutdown, jobs not started go back.
                let permit = tokio::select! {
                    biased;
                    _ = stopping.wait_for(|s| *s) => None,
                    permit = Arc::clone(slots).acquire_owned() => permit.ok(),
                };
                let Some(permit) = permit else {
                    shared.queue.release(&job).await;
                    for job in jobs.by_ref() {
                        shared.queue.release(&job).await;
                    }
                    break;
                };
                tokio::spawn(self.execution(job, permit, shared.tasks.token(), false));
                shared.dispatching.fetch_sub(1, Ordering::SeqCst);
            }
            shared.dispatching.store(0, Ordering::SeqCst);
        }
        shared.taking.store(false, Ordering::SeqCst);
        // Jobs taken but not started go back for other instances.
        shared.queue.close().await;
        if !shared.queue.is_shared() && !shared.queue.is_empty() {
            // In memory nothing else will run them: they end with this process.
            tracing::warn!(
                queued = shared.queue.len(),
                "shutting down: queued executions will not start"
            );
        }
        // No new job is taken; running executions get `grace` to finish.
        shared.tasks.close();
        let drained = tokio::time::timeout(grace, shared.tasks.wait()).await;
        if drained.is_err() {
            let live: Vec<Arc<Running>> = {
                let running = shared.running.lock().unwrap_or_else(|p| p.into_inner());
                running.values().map(Arc::clone).collect()
            };
            tracing::warn!(
                running = live.len(),
                grace = %crate::model::duration::format_duration(grace),
                "shutting down: the grace period is over, cancelling the executions still running"
            );
            for signal in live {
                signal.stop(false);
            }
            shared.tasks.wait().await;
        } else {
            tracing::info!("shutting down: every running execution finished");
        }
    }

    /// An execution on the slot `permit`, to spawn (or run inline); the shutdown waits
    /// for it (`token`). With `keep`, its output is its final record as written (for a
    /// caller waiting inline: no read of the store after).
    fn execution(
        &self,
        job: Job,
        permit: OwnedSemaphorePermit,
        token: TaskTrackerToken,
        keep: bool,
    ) -> Execution {
        let engine = self.clone();
        let slot = Slot {
            slots: Arc::clone(&self.shared.slots),
            permit: Some(permit),
            in_flight: None,
        };
        Box::pin(async move {
            let finished = engine.execute(job, slot, keep).await;
            drop(token);
            finished
        })
    }

    /// Serves the queue's events (cancels from other instances, lost leases, finishes
    /// waited for) on a task of their own, from the first call on (the engine's
    /// constructor when it runs inside a tokio runtime, else [`run`](Self::run)). The
    /// task holds no engine alive: it ends when the engine is dropped.
    fn listen(&self) {
        let events = self
            .shared
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let Some(mut events) = events else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime here: put it back for `run`.
            *self.shared.events.lock().unwrap_or_else(|p| p.into_inner()) = Some(events);
            return;
        };
        let weak = Arc::downgrade(&self.shared);
        runtime.spawn(async move {
            while let Some(event) = events.recv().await {
                let Some(shared) = weak.upgrade() else { return };
                Engine { shared }.on_event(event);
            }
        });
    }

    /// Stops taking work: submissions get [`SubmitError::ShuttingDown`], workers take
    /// no new job, and [`run`](Self::run) returns once running executions are done.
    pub fn shutdown(&self) {
        // `send_replace`: stored even while no receiver exists (`send` would drop it, and
        // a `run` started later would never hear of the shutdown).
        self.shared.stopping.send_replace(true);
    }

    fn on_event(&self, event: QueueEvent) {
        let shared = &self.shared;
        // The running map's lock is held while the early stops are written, and
        // `execute` holds it while it registers and reads them: a stop is either seen
        // by a running execution or recorded before the job looks.
        let running = shared.running.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            QueueEvent::Cancel(id) => {
                match running.get(&id) {
                    Some(signal) => signal.stop(false),
                    None => self.early().cancels.insert(id.clone(), ()),
                }
                drop(running);
                self.signal_waiters(&id);
            }
            QueueEvent::Finished(id) => {
                drop(running);
                self.signal_waiters(&id);
            }
            QueueEvent::Lost { id, delivery } => match running.get(&id) {
                Some(signal) => signal.stop(true),
                // Taken from the queue but not started yet: it must not start here.
                None => self.early().lost.insert(delivery, ()),
            },
        }
    }

    fn early(&self) -> std::sync::MutexGuard<'_, EarlyStops> {
        self.shared.early.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn signal_running(&self, id: &str, lost: bool) -> bool {
        let signal = {
            let running = self
                .shared
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            running.get(id).map(Arc::clone)
        };
        match signal {
            Some(signal) => {
                signal.stop(lost);
                true
            }
            None => false,
        }
    }

    /// Runs a job; returns its final record when it wrote it and `keep` asks for it.
    async fn execute(&self, job: Job, mut slot: Slot, keep: bool) -> Option<Arc<ExecutionRecord>> {
        let shared = &self.shared;
        // Registered before the status is read: a cancel either finds this signal or
        // has already written `cancelled`, which `start` sees.
        let signal = Arc::new(Running::default());
        let (cancelled, lost) = {
            let mut running = shared.running.lock().unwrap_or_else(|p| p.into_inner());
            running.insert(job.id.clone(), Arc::clone(&signal));
            let mut early = self.early();
            (
                early.cancels.remove(&job.id).is_some(),
                !job.receipt.is_empty() && early.lost.remove(&job.delivery()).is_some(),
            )
        };
        if lost {
            // Taken over by another instance before it started here: theirs now.
            self.finish(&job.id);
            return None;
        }
        if cancelled {
            // Its record is final: the job is done.
            shared.queue.ack(&job).await;
            self.finish(&job.id);
            return None;
        }
        let mut job = job;
        let started = match job.started.take() {
            Some(record) => Ok(Some(*record)),
            None => shared.executions.start(&job.id).await,
        };
        let record = match started {
            Ok(Some(record)) => record,
            // Cancelled while queued, or expired: nothing to run.
            Ok(None) => {
                shared.queue.ack(&job).await;
                self.finish(&job.id);
                return None;
            }
            // The store is out of reach: the job stays with the queue, whose lease
            // hands it to an instance that can run it.
            Err(e) => {
                tracing::warn!(execution = %job.id, error = %e, "cannot start the execution");
                shared.queue.release(&job).await;
                self.finish(&job.id);
                return None;
            }
        };
        let task = match self.job_task(&job).await {
            Ok(task) => task,
            Err(SubmitError::Store(e)) => {
                // The config could not be read now: the job runs later, here or elsewhere.
                tracing::warn!(execution = %job.id, error = %e, "cannot prepare the task now");
                shared.queue.release(&job).await;
                self.finish(&job.id);
                return None;
            }
            Err(e) => {
                // Valid when submitted, but no longer (its config was deleted since).
                let mut failed = record;
                failed.status = Status::Failed;
                failed.finished_at = Some(SystemTime::now());
                failed.error = Some(ExecError::new(
                    ErrorKind::Internal,
                    format!("the task can no longer be prepared: {e}"),
                ));
                let _ = shared.executions.update(Arc::new(failed)).await;
                shared.queue.ack(&job).await;
                self.finish(&job.id);
                return None;
            }
        };
        shared.metrics.in_flight().inc();
        let started = tokio::time::Instant::now();
        let kind = task.kind.as_str();
        // A root span: an execution may run inside the request that submitted it, and
        // outlive it.
        let span = tracing::info_span!(parent: None, "execution", id = %job.id, r#type = %kind);
        let outcome = tokio::select! {
            // Boxed: the pipeline's future is deep, and the worker's would nest it again.
            finished = Box::pin(crate::pipeline::run(shared, record, Arc::clone(&task), &mut slot).instrument(span)) => Some(finished),
            () = signal.notify.notified() => None,
        };
        shared.metrics.in_flight().dec();
        if outcome.is_none()
            && let Some(cut) = slot.in_flight
        {
            // An attempt cut off in flight (cancel, shutdown, lease lost) counts as a
            // request that may have reached the upstream, as an error. (Cut while its
            // OAuth2 token was still being fetched, it had not; that is not told apart.)
            shared.metrics.attempt(
                task.kind,
                Some(&task.origin),
                None,
                true,
                cut.clock.elapsed(),
            );
        }
        let mut kept = None;
        match outcome {
            Some(finished) => {
                let status = finished.status;
                let attempts = finished.attempts.len();
                let message = finished.error.as_ref().map(|e| e.message.clone());
                let finished = Arc::new(finished);
                // A cancel that raced the last attempt wins: the record stays cancelled,
                // with that attempt added.
                let written = shared
                    .executions
                    .finish(Arc::clone(&finished), &job, shared.queue.as_ref())
                    .await;
                match written {
                    Ok(true) if keep => kept = Some(finished),
                    Ok(false) => {
                        if let Some(last) = finished.attempts.last() {
                            self.cancelled_with(&job.id, last.clone(), None).await;
                        }
                    }
                    _ => {}
                }
                let shown = match written {
                    Ok(false) => Status::Cancelled,
                    _ => status,
                };
                shared.metrics.finished(task.kind, shown, started.elapsed());
                tracing::info!(
                    execution = %job.id,
                    r#type = kind,
                    status = shown.as_str(),
                    attempts,
                    error = message.as_deref(),
                    "execution finished"
                );
                if let Err(e) = written {
                    // Not written: the job goes back to the queue, to run again.
                    tracing::warn!(execution = %job.id, error = %e, "cannot store the result");
                    shared.queue.release(&job).await;
                }
            }
            None if signal.lost.load(Ordering::Acquire) => {
                // Another instance took the job over: it writes the record.
                tracing::warn!(execution = %job.id, "lease lost: stopped here, another instance runs it");
            }
            None if *shared.stopping.borrow() && shared.queue.is_shared() => {
                // Shutting down with a shared queue: hand the execution to another
                // instance instead of cancelling it.
                tracing::info!(execution = %job.id, "handed back to the queue at shutdown");
                shared.queue.release(&job).await;
            }
            None => {
                shared
                    .metrics
                    .finished(task.kind, Status::Cancelled, started.elapsed());
                // Cancelled on request (the record says so already) or by the shutdown:
                // the record is cancelled, with the attempt cut off if one was in flight.
                let cut = slot.in_flight.take().map(cut_attempt);
                match cut {
                    Some(cut) => self.cancelled_with(&job.id, cut, Some(SHUT_DOWN)).await,
                    None => self.mark_cancelled_if_running(&job.id).await,
                }
                shared.queue.ack(&job).await;
            }
        }
        self.finish(&job.id);
        kept
    }

    /// `attempt` added to the execution's cancelled record if it lacks it (cut off by
    /// the cancel, or finished as the cancel won). With `shut_down`, a record still
    /// running is first cancelled with that message (the shutdown stopped it): one read
    /// and one write.
    async fn cancelled_with(
        &self,
        id: &str,
        attempt: crate::record::AttemptRecord,
        shut_down: Option<&str>,
    ) {
        let Ok(Some(mut record)) = self.shared.executions.get(id).await else {
            return;
        };
        let running = !record.status.is_final();
        if running {
            let Some(message) = shut_down else { return };
            set_cancelled(&mut record, message);
        }
        if record.status != Status::Cancelled
            || record.attempts.iter().any(|a| a.number == attempt.number)
        {
            return;
        }
        record.attempts.push(attempt);
        let record = Arc::new(record);
        let written = if running {
            self.shared.executions.update(record).await
        } else {
            self.shared.executions.amend_cancelled(record).await
        };
        if let Err(e) = written {
            tracing::warn!(execution = %id, error = %e, "cannot write the cancelled record");
        }
    }

    /// After a shutdown cancelled a running execution, its record must not stay
    /// `running`.
    async fn mark_cancelled_if_running(&self, id: &str) {
        if let Ok(Some(mut record)) = self.shared.executions.get(id).await
            && !record.status.is_final()
        {
            set_cancelled(&mut record, SHUT_DOWN);
            let _ = self.shared.executions.update(Arc::new(record)).await;
        }
    }

    /// The execution is over (its record final): drop its cancel signal, wake waiters.
    fn finish(&self, id: &str) {
        self.shared
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        self.signal_waiters(id);
    }

    fn signal_waiters(&self, id: &str) {
        let waiters = self
            .shared
            .waiters
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((notify, _)) = waiters.get(id) {
            notify.notify_waiters();
        }
    }
}

/// Why a configuration was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// Invalid (`400`).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Refused by the store (`404`, `409`, `412`, `503`).
    #[error(transparent)]
    Store(#[from] ConfigStoreError),
}

impl From<StoreError> for ConfigError {
    fn from(e: StoreError) -> Self {
        ConfigError::Store(ConfigStoreError::Unavailable(e))
    }
}

/// The error of an execution the shutdown cancelled.
const SHUT_DOWN: &str = "cancelled: the executor shut down";

/// `record`, cancelled now with `message`.
fn set_cancelled(record: &mut ExecutionRecord, message: &str) {
    record.status = Status::Cancelled;
    record.finished_at = Some(SystemTime::now());
    record.error = Some(ExecError::new(ErrorKind::Cancelled, message));
}

/// The record of an attempt a cancel cut off.
fn cut_attempt(cut: InFlight) -> crate::record::AttemptRecord {
    crate::record::AttemptRecord {
        number: cut.number,
        started_at: cut.started_at,
        duration_ms: u64::try_from(cut.clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        status_code: None,
        error: Some(ExecError::new(
            ErrorKind::Cancelled,
            "cancelled in flight: the request was dropped",
        )),
    }
}

/// Where a task names a stored config to take settings from.
enum ConfigName<'a> {
    /// `config`: it must exist.
    Config(&'a str),
    /// A database task's `connection` that is no connection string: a config's name,
    /// used if one has it.
    Connection(&'a str),
}

fn config_named(input: &TaskInput) -> Option<ConfigName<'_>> {
    if let Some(name) = input.config.as_deref() {
        return Some(ConfigName::Config(name));
    }
    match (input.kind, input.connection.as_deref()) {
        (Some(crate::model::input::TaskType::Database), Some(name))
            if !looks_like_connection_string(name) =>
        {
            Some(ConfigName::Connection(name))
        }
        _ => None,
    }
}

/// A JSON object's body into its typed input, an error naming the field at fault.
fn parse_object<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Invalid::field("", "the body is empty: send a JSON object"));
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Invalid::field("", "the body must be a JSON object"));
    }
    // Straight from the bytes into the typed input: no intermediate JSON tree (which
    // would also let a repeated key pass, the last one winning). Fields are tracked
    // (for an error naming its field) only when the plain parse fails.
    if let Ok(input) = serde_json::from_slice::<T>(body) {
        return Ok(input);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let input: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        if e.inner().is_syntax() || e.inner().is_eof() {
            Invalid::field("", format!("malformed JSON: {}", e.inner()))
        } else {
            from_serde(e)
        }
    })?;
    deserializer
        .end()
        .map_err(|e| Invalid::field("", format!("malformed JSON: {e}")))?;
    Ok(input)
}

fn parse_config(body: &[u8]) -> Result<ConfigInput, Invalid> {
    let input: ConfigInput = parse_object(body)?;
    crate::model::config_secrets::validate_config(&input)?;
    Ok(input)
}
