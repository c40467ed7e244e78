//! The Redis backend: one Redis shared by any number of executor instances serves the
//! queue, the execution records, the configs and the idempotency keys.
//!
//! # Keys
//! Every key starts with `{prefix}:` (braces included: a Redis Cluster hash tag, so all
//! keys of one deployment live in one slot and the scripts may touch several of them).
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `{p}:queue` | stream, group `workers` | one entry per queued job: `id`, `task` (the submitted JSON), `key` |
//! | `{p}:dead` | stream | jobs delivered more than `max_deliveries` times |
//! | `{p}:exec:<id>` | hash | `r` record JSON, `s` status, `t` started, `k` idempotency key; expires `EXECUTION_TTL` after it finishes |
//! | `{p}:idem:<key>` | string | the execution id of an idempotency key; expires with its record |
//! | `{p}:idx`, `{p}:idx:<status>` | sorted sets (lexical) | ids for the listing, newest last |
//! | `{p}:expiry` | sorted set | ids of final records by when they expire, to sweep the index |
//! | `{p}:configs`, `{p}:config-names`, `{p}:config-versions` | hashes | configs by id, ids by name, versions |
//! | `{p}:cancel` | pub/sub channel | ids of cancelled executions |
//! | `{p}:waiting`, `{p}:finished` | sorted set, pub/sub channel | ids a caller waits for (`?wait=`) by when the wait ends, announced on the channel when they finish |
//!
//! # The queue and its leases
//! Each instance is a consumer of the group. While workers wait for jobs, a fetcher runs
//! a script that reads new entries (`XREADGROUP` without blocking, as many as the
//! waiting workers ask for, at least 8) and marks the records of those the workers take
//! `running`, in one round trip; only when the stream is empty does it block in
//! `XREADGROUP ... BLOCK` on a connection of its own. An entry read is pending for this
//! consumer: that is its lease. A
//! keeper task renews the leases of the entries it holds every third of `LEASE_TIMEOUT`
//! (a script: `XCLAIM ... JUSTID` for entries still pending for this consumer, which
//! resets their idle time without counting a delivery). When an instance dies, its
//! entries' idle time grows; after `LEASE_TIMEOUT` another instance's keeper takes them
//! with `XAUTOCLAIM` (which counts a delivery) and runs them. An entry delivered more than
//! `max_deliveries` times goes to the dead-letter stream and its execution fails with
//! kind `internal`. A job is acknowledged (`XACK` + `XDEL`) in the script that writes its
//! final record. A job handed back (shutdown, a store error) is queued again as a new
//! entry, and its record goes back to `queued` if no attempt was made.
//!
//! # At least once
//! An upstream call is made twice only when an instance stops renewing a lease while the
//! call is in flight or after it returned but before the final record was written: it
//! died (kill -9, out of memory, a lost host), or it was cut off from Redis for longer
//! than `LEASE_TIMEOUT`. The instance that takes the job over continues from the attempts
//! the record shows (attempt numbers and the retry budget carry on), so at most the one
//! attempt in flight at the death repeats. An instance that finds it lost a lease stops
//! its run without writing. With an idempotency key, the key is sent to nobody by the
//! executor itself: put it in a header of the task (`Idempotency-Key: ${key}`) so that an
//! upstream that honours such keys turns the repeated call into a no-op.
mod scripts;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};
use redis::{AsyncConnectionConfig, Client, RedisError};
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::configs::{ConfigStore, ConfigStoreError, StoredConfig};
use super::executions::{ExecutionStore, Inserted, Page, Progress};
use super::queue::{Job, JobTask, Queue, QueueEvent, SubmittedTask};
use super::{BoxFuture, StoreError};
use crate::model::config::ConfigInput;
use crate::record::{ErrorKind, ExecError, ExecutionRecord, Status};

const GROUP: &str = "workers";
/// How long the fetcher's `XREADGROUP` blocks before it looks again.
const BLOCK: Duration = Duration::from_millis(1000);
/// Entries read at once while any worker waits, even if fewer ask: they wait in this
/// instance's buffer (their leases renewed) for the next free worker, and go back to
/// the queue when it shuts down.
const PREFETCH: usize = 8;
/// Most entries one read or claim takes.
const BATCH: usize = 256;
/// How often `/readyz`'s view of Redis is refreshed.
const PING_EVERY: Duration = Duration::from_millis(500);

/// Where the Redis backend connects and how its queue behaves. `Debug` hides the
/// password of the URL.
#[derive(Clone)]
pub struct RedisOptions {
    /// `redis://[user:password@]host:port[/db]`, or `rediss://...` for TLS (the server's
    /// certificate checked against the bundled Mozilla roots, or [`ca_certificate`]).
    ///
    /// [`ca_certificate`]: Self::ca_certificate
    pub url: String,
    /// With `rediss://`: the certificate authorities (PEM) to trust instead of the
    /// bundled roots, for a Redis whose certificate a private CA signed
    /// (`REDIS_CA_CERT`).
    pub ca_certificate: Option<Vec<u8>>,
    /// With `rediss://` to a Redis that authenticates its clients (mutual TLS): this
    /// instance's certificate and key (`REDIS_CLIENT_CERT`, `REDIS_CLIENT_KEY`).
    pub client_identity: Option<RedisClientIdentity>,
    /// Prefix of every key (`REDIS_PREFIX`, default `flunq`): deployments sharing one
    /// Redis keep apart by prefix.
    pub prefix: String,
    /// How long a job held by an instance that stopped renewing waits before another
    /// takes it (`LEASE_TIMEOUT`).
    pub lease_timeout: Duration,
    /// How long finished executions and their idempotency keys are kept.
    pub execution_ttl: Duration,
    /// Deliveries after which a job goes to the dead-letter stream.
    pub max_deliveries: u32,
    /// This instance's consumer name (unique per process).
    pub consumer: String,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `redis://user:password@host`: everything between `://` and `@` is hidden.
        let url = match (self.url.find("://"), self.url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}***{}", &self.url[..scheme + 3], &self.url[at..])
            }
            _ => self.url.clone(),
        };
        f.debug_struct("RedisOptions")
            .field("url", &url)
            .field("prefix", &self.prefix)
            .field("lease_timeout", &self.lease_timeout)
            .field("execution_ttl", &self.execution_ttl)
            .field("max_deliveries", &self.max_deliveries)
            .field("consumer", &self.consumer)
            .field("ca_certificate", &self.ca_certificate.is_some())
            .field("client_identity", &self.client_identity)
            .finish()
    }
}

/// A client certificate for mutual TLS with Redis.
#[derive(Clone)]
pub struct RedisClientIdentity {
    /// The certificate chain, PEM, this instance's certificate first.
    pub certificate_chain: Vec<u8>,
    /// Its private key, PEM (PKCS #8, PKCS #1 or SEC1).
    pub private_key: Vec<u8>,
}

impl std::fmt::Debug for RedisClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClientIdentity")
            .field(
                "certificate_chain",
                &format_args!("{} bytes", self.certificate_chain.len()),
            )
            .field("private_key", &"***")
            .finish()
    }
}

impl RedisOptions {
    /// Options for `url` with the defaults of API.md: prefix `flunq`, 30 s leases, 24 h
    /// TTL, 5 deliveries, a fresh consumer name.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ca_certificate: None,
            client_identity: None,
            prefix: "flunq".to_owned(),
            lease_timeout: Duration::from_secs(30),
            execution_ttl: Duration::from_secs(24 * 3600),
            max_deliveries: 5,
            consumer: format!("executor-{}", uuid::Uuid::now_v7()),
        }
    }
}

/// How a PEM certificate begins.
const CERTIFICATE_PEM: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// The client of `options.url`, with the TLS settings when there are any.
fn open_client(options: &RedisOptions) -> Result<Client, StoreError> {
    let url = options.url.as_str();
    if options.ca_certificate.is_none() && options.client_identity.is_none() {
        return Client::open(url).map_err(|e| StoreError(format!("REDIS_URL: {e}")));
    }
    // The TLS schemes of redis-rs.
    let tls = ["rediss://", "valkeys://"].iter().any(|scheme| {
        url.get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    });
    if !tls {
        return Err(StoreError(
            "REDIS_CA_CERT, REDIS_CLIENT_CERT and REDIS_CLIENT_KEY apply to TLS: REDIS_URL must start with rediss://".to_owned(),
        ));
    }
    // Empty or DER files would parse as no certificate at all: every handshake would
    // then fail with an unknown issuer, far from the cause.
    let has_pem_certificate = |pem: &[u8]| {
        pem.windows(CERTIFICATE_PEM.len())
            .any(|w| w == CERTIFICATE_PEM)
    };
    if let Some(ca) = &options.ca_certificate
        && !has_pem_certificate(ca)
    {
        return Err(StoreError(
            "REDIS_CA_CERT holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    if let Some(identity) = &options.client_identity
        && !has_pem_certificate(&identity.certificate_chain)
    {
        return Err(StoreError(
            "REDIS_CLIENT_CERT holds no PEM certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    // redis-rs builds its rustls config with the process's default provider: ring, as
    // the HTTP client uses (a provider installed already stays).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let certificates = redis::TlsCertificates {
        client_tls: options
            .client_identity
            .as_ref()
            .map(|identity| redis::ClientTlsConfig {
                client_cert: identity.certificate_chain.clone(),
                client_key: identity.private_key.clone(),
            }),
        root_cert: options.ca_certificate.clone(),
    };
    Client::build_with_tls(url, certificates)
        .map_err(|e| StoreError(format!("REDIS_URL and its TLS settings: {e}")))
}

/// Redis errors as the stores report them (the URL, which may hold a password, is not
/// part of them).
fn unavailable(e: RedisError) -> StoreError {
    StoreError(format!("redis: {e}"))
}

/// Whether Redis lost the stream's consumer group (flushed, or restarted without
/// persistence). From a script, the code comes inside the script's error text.
fn is_nogroup(e: &RedisError) -> bool {
    e.code() == Some("NOGROUP") || e.to_string().contains("NOGROUP")
}

/// The key names of one prefix.
#[derive(Debug)]
struct Keys {
    stream: String,
    dead: String,
    exec: String,
    idem: String,
    idx: String,
    idx_status: String,
    expiry: String,
    configs: String,
    names: String,
    versions: String,
    cancel: String,
    finished: String,
    waiting: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        let p = format!("{{{prefix}}}:");
        Self {
            stream: format!("{p}queue"),
            dead: format!("{p}dead"),
            exec: format!("{p}exec:"),
            idem: format!("{p}idem:"),
            idx: format!("{p}idx"),
            idx_status: format!("{p}idx:"),
            expiry: format!("{p}expiry"),
            configs: format!("{p}configs"),
            names: format!("{p}config-names"),
            versions: format!("{p}config-versions"),
            cancel: format!("{p}cancel"),
            finished: format!("{p}finished"),
            waiting: format!("{p}waiting"),
        }
    }
}

/// The queue, the execution store and the config store on one Redis. Cheap to clone;
/// its background tasks (fetcher, lease keeper, health check, cancel listener) stop
/// when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct RedisBackend {
    inner: Arc<Inner>,
    _tasks: Arc<Tasks>,
}

#[derive(Debug)]
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

#[derive(Debug)]
struct Inner {
    options: RedisOptions,
    keys: Keys,
    client: Client,
    conn: ConnectionManager,
    /// Jobs read or claimed, not yet handed to a worker.
    buffer: Mutex<VecDeque<Job>>,
    ready: Notify,
    /// Jobs the waiting `pop` calls ask for.
    demand: AtomicUsize,
    wanted: Notify,
    /// Entries this consumer holds (buffered or running): entry id → execution id and
    /// delivery count.
    held: Mutex<HashMap<String, (String, u32)>>,
    healthy: AtomicBool,
    /// Where the next `XAUTOCLAIM` goes on from.
    claim_cursor: Mutex<String>,
    /// Set by `close`: jobs read from now on go straight back.
    closed: AtomicBool,
    depth: AtomicUsize,
    events: mpsc::UnboundedSender<QueueEvent>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<QueueEvent>>>,
}

impl RedisBackend {
    /// Connects, creates the consumer group if needed, and starts the background tasks.
    /// Fails when Redis does not answer now; later outages are ridden out (the
    /// connections reconnect by themselves, `/readyz` says 503 meanwhile).
    pub async fn connect(options: RedisOptions) -> Result<Self, StoreError> {
        let client = open_client(&options)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(unavailable)?;
        let (events, receiver) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            keys: Keys::new(&options.prefix),
            options,
            client,
            conn,
            buffer: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            demand: AtomicUsize::new(0),
            wanted: Notify::new(),
            held: Mutex::new(HashMap::new()),
            healthy: AtomicBool::new(true),
            claim_cursor: Mutex::new("0-0".to_owned()),
            closed: AtomicBool::new(false),
            depth: AtomicUsize::new(0),
            events,
            receiver: Mutex::new(Some(receiver)),
        });
        inner.ensure_group().await.map_err(unavailable)?;
        let weak = Arc::downgrade(&inner);
        let tasks = vec![
            tokio::spawn(fetcher(weak.clone())),
            tokio::spawn(keeper(weak.clone())),
            tokio::spawn(health(weak.clone())),
            tokio::spawn(announcements(weak)),
        ];
        Ok(Self {
            inner,
            _tasks: Arc::new(Tasks(tasks)),
        })
    }

    /// A connection to the same Redis (it reconnects by itself), for the shared rate
    /// limits.
    pub fn connection(&self) -> ConnectionManager {
        self.inner.conn.clone()
    }

    /// The options it runs with.
    pub fn options(&self) -> &RedisOptions {
        &self.inner.options
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded maps stay consistent across a panic elsewhere: keep serving.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Inner {
    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn ensure_group(&self) -> Result<(), RedisError> {
        let created: Result<(), RedisError> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.keys.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut self.conn())
            .await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    fn record_key(&self, id: &str) -> String {
        format!("{}{id}", self.keys.exec)
    }

    fn hold(&self, job: &Job) {
        lock(&self.held).insert(job.receipt.clone(), (job.id.clone(), job.deliveries));
    }

    fn unhold(&self, receipt: &str) {
        lock(&self.held).remove(receipt);
    }

    /// Queues a job again as a new entry and forgets the old one, in one transaction.
    async fn release(&self, job: &Job) {
        let JobTask::Submitted(source) = &job.task else {
            return;
        };
        let done: Result<(), RedisError> = scripts::RELEASE
            .key(&self.keys.stream)
            .key(self.record_key(&job.id))
            .arg(GROUP)
            .arg(&job.receipt)
            .arg(&job.id)
            .arg(&source.body)
            .arg(source.idempotency_key.as_deref().unwrap_or_default())
            .arg(&self.keys.idx_status)
            .invoke_async(&mut self.conn())
            .await;
        // Not renewed from now on either way: if the hand-back failed, the entry's lease
        // lapses and any instance (this one too) takes it over after `LEASE_TIMEOUT`.
        self.unhold(&job.receipt);
        if let Err(e) = done {
            tracing::warn!(execution = %job.id, error = %e, "cannot hand a job back: it is taken over when its lease runs out");
        }
    }

    async fn buffer_jobs(&self, jobs: Vec<Job>) {
        if jobs.is_empty() {
            return;
        }
        if self.closed.load(Ordering::Acquire) {
            // Read after this instance stopped taking work: back they go.
            for job in &jobs {
                self.release(job).await;
            }
            return;
        }
        for job in &jobs {
            self.hold(job);
        }
        lock(&self.buffer).extend(jobs);
        self.ready.notify_one();
    }

    /// Entries to read: while workers wait, what they ask for but at least
    /// [`PREFETCH`] (fewer round trips under load), minus those already buffered.
    fn wanted(&self) -> usize {
        let demand = self.demand.load(Ordering::Acquire);
        if demand == 0 {
            return 0;
        }
        let buffered = lock(&self.buffer).len();
        demand.max(PREFETCH).saturating_sub(buffered).min(BATCH)
    }

    /// Moves a job that will never finish to the dead-letter stream and fails its
    /// execution with kind `internal`.
    async fn dead_letter(&self, entry: &StreamId, deliveries: u32) {
        let id: String = entry.get("id").unwrap_or_default();
        let task: String = entry.get("task").unwrap_or_default();
        let key: String = entry.get("key").unwrap_or_default();
        let moved: Result<(), RedisError> = redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(&self.keys.dead)
            // The dead letters keep the submitted task (credentials in clear): the
            // newest 10,000 at most.
            .arg("MAXLEN")
            .arg("~")
            .arg(10_000)
            .arg("*")
            .arg("id")
            .arg(&id)
            .arg("task")
            .arg(&task)
            .arg("key")
            .arg(&key)
            .arg("deliveries")
            .arg(deliveries)
            .ignore()
            .forget_entry(&self.keys.stream, &entry.id)
            .query_async(&mut self.conn())
            .await;
        if let Err(e) = moved {
            tracing::warn!(execution = %id, error = %e, "cannot move a job to the dead-letter stream");
            return;
        }
        tracing::error!(execution = %id, deliveries, "job delivered too many times: moved to the dead-letter stream");
        if let Ok(Some(mut record)) = self.get_record(&id).await {
            record.status = Status::Failed;
            record.finished_at = Some(SystemTime::now());
            record.error = Some(ExecError::new(
                ErrorKind::Internal,
                format!(
                    "delivered {deliveries} times without finishing (each instance that took it stopped): moved to the dead-letter stream"
                ),
            ));
            let _ = self.write_record(&record).await;
        }
    }

    async fn get_record(&self, id: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.record_key(id))
            .arg("r")
            .arg("s")
            .arg("t")
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(decode_record(fields))
    }

    async fn write_record(&self, record: &ExecutionRecord) -> Result<bool, StoreError> {
        self.write_record_acking(record, None).await
    }

    /// Writes a record; with a receipt, the job's stream entry is acknowledged in the
    /// same script.
    async fn write_record_acking(
        &self,
        record: &ExecutionRecord,
        receipt: Option<&str>,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(record)
            .map_err(|e| StoreError(format!("cannot encode record {}: {e}", record.id)))?;
        let record_key = self.record_key(&record.id);
        let stream = match receipt {
            Some(_) => self.keys.stream.clone(),
            None => record_key.clone(),
        };
        let written: i64 = scripts::UPDATE
            .key(record_key)
            .key(stream)
            .key(&self.keys.expiry)
            .key(&self.keys.waiting)
            .arg(&self.keys.idx_status)
            .arg(&record.id)
            .arg(record.status.as_str())
            .arg(json)
            .arg(millis(self.options.execution_ttl))
            .arg(&self.keys.idem)
            .arg(GROUP)
            .arg(receipt.unwrap_or_default())
            .arg(&self.keys.finished)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        if let Some(receipt) = receipt {
            self.unhold(receipt);
        }
        Ok(written == 1)
    }
}

/// Acknowledging and deleting a stream entry (a job that is done or queued anew).
trait ForgetEntry {
    fn forget_entry(&mut self, stream: &str, receipt: &str) -> &mut Self;
}

impl ForgetEntry for redis::Pipeline {
    fn forget_entry(&mut self, stream: &str, receipt: &str) -> &mut Self {
        self.cmd("XACK")
            .arg(stream)
            .arg(GROUP)
            .arg(receipt)
            .ignore()
            .cmd("XDEL")
            .arg(stream)
            .arg(receipt)
            .ignore()
    }
}

/// A record from its hash fields `[r, s, t]`: the status and start time fields win over
/// the JSON (`start` changes them without rewriting it).
fn decode_record(fields: Vec<Option<String>>) -> Option<ExecutionRecord> {
    let mut fields = fields.into_iter();
    let json = fields.next().flatten()?;
    let status = fields.next().flatten();
    let started = fields.next().flatten();
    let mut record: ExecutionRecord = match serde_json::from_str(&json) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "unreadable execution record in Redis");
            return None;
        }
    };
    if let Some(status) = status.as_deref().and_then(Status::parse) {
        record.status = status;
    }
    if record.started_at.is_none() {
        record.started_at = started.and_then(|t| humantime::parse_rfc3339_weak(&t).ok());
    }
    Some(record)
}

fn job_from_entry(entry: &StreamId, deliveries: u32) -> Option<Job> {
    let id: String = entry.get("id")?;
    let body: String = entry.get("task")?;
    let key: String = entry.get("key").unwrap_or_default();
    Some(Job {
        id,
        task: JobTask::Submitted(SubmittedTask {
            body,
            idempotency_key: (!key.is_empty()).then_some(key),
        }),
        receipt: entry.id.clone(),
        deliveries,
        started: None,
    })
}

/// One entry of the fetch script: entry id, execution id, task, key, started record.
type Fetched = (String, String, String, String, Option<Vec<Option<String>>>);

fn job_from_fetched((receipt, id, body, key, started): Fetched) -> Option<Job> {
    if id.is_empty() || body.is_empty() {
        return None;
    }
    Some(Job {
        id,
        task: JobTask::Submitted(SubmittedTask {
            body,
            idempotency_key: (!key.is_empty()).then_some(key),
        }),
        receipt,
        deliveries: 1,
        started: started.and_then(decode_record).map(Box::new),
    })
}

/// Reads new entries when workers wait for them, on a connection of its own (a blocking
/// read would hold up every other command on a shared one).
async fn fetcher(weak: Weak<Inner>) {
    let mut conn: Option<MultiplexedConnection> = None;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let want = inner.wanted();
        if want == 0 {
            let wanted = inner.wanted.notified();
            tokio::pin!(wanted);
            wanted.as_mut().enable();
            if inner.wanted() == 0 {
                // Looked at again now and then, in case a wake-up was missed.
                let _ = tokio::time::timeout(BLOCK, wanted).await;
            }
            continue;
        }
        // Under load, entries are there: read them and start their records in one
        // script. Only when there are none does the fetcher block (below).
        // Records are started only for the jobs workers wait for; the prefetched rest
        // stay `queued` until a worker starts them.
        let start = inner.demand.load(Ordering::Acquire).min(want);
        let fetched: Result<Vec<Fetched>, RedisError> = scripts::FETCH
            .key(&inner.keys.stream)
            .arg(GROUP)
            .arg(&inner.options.consumer)
            .arg(want)
            .arg(&inner.keys.exec)
            .arg(&inner.keys.idx_status)
            .arg(crate::record::rfc3339::format(SystemTime::now()))
            .arg(start)
            .invoke_async(&mut inner.conn())
            .await;
        match fetched {
            Ok(entries) if !entries.is_empty() => {
                let jobs = entries.into_iter().filter_map(job_from_fetched).collect();
                inner.buffer_jobs(jobs).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                if is_nogroup(&e) {
                    let _ = inner.ensure_group().await;
                }
                tracing::debug!(error = %e, "queue fetch failed");
                drop(inner);
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        }
        let connection = match conn.as_mut() {
            Some(c) => c,
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(2)))
                    .set_response_timeout(Some(BLOCK + Duration::from_secs(2)));
                match inner
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                {
                    Ok(c) => conn.insert(c),
                    Err(e) => {
                        tracing::debug!(error = %e, "queue fetcher cannot connect; retrying");
                        drop(inner);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                }
            }
        };
        let read: Result<Option<StreamReadReply>, RedisError> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(&inner.options.consumer)
            .arg("COUNT")
            .arg(want)
            .arg("BLOCK")
            .arg(millis(BLOCK))
            .arg("STREAMS")
            .arg(&inner.keys.stream)
            .arg(">")
            .query_async(connection)
            .await;
        match read {
            Ok(reply) => {
                let jobs = reply
                    .into_iter()
                    .flat_map(|r| r.keys)
                    .flat_map(|k| k.ids)
                    .filter_map(|entry| job_from_entry(&entry, 1))
                    .collect();
                inner.buffer_jobs(jobs).await;
            }
            Err(e) => {
                if is_nogroup(&e) {
                    // Redis lost the stream (restarted without persistence): start over.
                    let _ = inner.ensure_group().await;
                } else {
                    tracing::debug!(error = %e, "queue read failed; reconnecting");
                    conn = None;
                }
                drop(inner);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Renews this instance's leases, takes over expired ones, refreshes the queue depth,
/// and sweeps expired ids out of the listing index.
async fn keeper(weak: Weak<Inner>) {
    loop {
        let every = match weak.upgrade() {
            Some(inner) => (inner.options.lease_timeout / 3).max(Duration::from_millis(50)),
            None => return,
        };
        tokio::time::sleep(every).await;
        let Some(inner) = weak.upgrade() else { return };
        renew(&inner).await;
        reclaim(&inner).await;
        refresh_depth(&inner).await;
        sweep_index(&inner).await;
    }
}

async fn renew(inner: &Inner) {
    let receipts: Vec<String> = lock(&inner.held).keys().cloned().collect();
    for chunk in receipts.chunks(BATCH) {
        let mut call = scripts::RENEW.key(&inner.keys.stream);
        call.arg(GROUP).arg(&inner.options.consumer);
        for receipt in chunk {
            call.arg(receipt);
        }
        let lost: Vec<String> = match call.invoke_async(&mut inner.conn()).await {
            Ok(lost) => lost,
            Err(e) if is_nogroup(&e) => {
                // The stream and its group are gone (Redis flushed, or restarted without
                // persistence): every lease with them. Start over; the runs here go on
                // and write their records, which may be gone too.
                tracing::error!("the queue's consumer group is gone: leases lost with it");
                let _ = inner.ensure_group().await;
                lock(&inner.held).clear();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot renew leases");
                return;
            }
        };
        for receipt in lost {
            let held = lock(&inner.held).remove(&receipt);
            let mut buffer = lock(&inner.buffer);
            let buffered = buffer.len();
            buffer.retain(|j| j.receipt != receipt);
            let was_buffered = buffer.len() != buffered;
            drop(buffer);
            // A job still in the buffer is simply dropped; one handed to the engine is
            // stopped there.
            if let (Some((id, deliveries)), false) = (held, was_buffered) {
                let _ = inner.events.send(QueueEvent::Lost {
                    id,
                    delivery: format!("{receipt}#{deliveries}"),
                });
            }
        }
    }
}

async fn reclaim(inner: &Inner) {
    let want = inner.wanted();
    if want == 0 {
        return;
    }
    // XAUTOCLAIM looks at COUNT x 10 pending entries per call: go on from its cursor,
    // within this tick and across ticks, so live leases ahead cannot hide dead ones.
    let mut claimed = Vec::new();
    for _ in 0..16 {
        let cursor = lock(&inner.claim_cursor).clone();
        let reply: Result<StreamAutoClaimReply, RedisError> = redis::cmd("XAUTOCLAIM")
            .arg(&inner.keys.stream)
            .arg(GROUP)
            .arg(&inner.options.consumer)
            .arg(millis(inner.options.lease_timeout))
            .arg(&cursor)
            .arg("COUNT")
            .arg(want - claimed.len())
            .query_async(&mut inner.conn())
            .await;
        match reply {
            Ok(reply) => {
                claimed.extend(reply.claimed);
                let wrapped = reply.next_stream_id == "0-0";
                *lock(&inner.claim_cursor) = reply.next_stream_id;
                if wrapped || claimed.len() >= want {
                    break;
                }
            }
            Err(e) => {
                if is_nogroup(&e) {
                    let _ = inner.ensure_group().await;
                }
                tracing::debug!(error = %e, "cannot claim expired leases");
                *lock(&inner.claim_cursor) = "0-0".to_owned();
                break;
            }
        }
    }
    let mut jobs = Vec::new();
    for entry in claimed {
        let pending: Result<Vec<(String, String, u64, u64)>, RedisError> = redis::cmd("XPENDING")
            .arg(&inner.keys.stream)
            .arg(GROUP)
            .arg(&entry.id)
            .arg(&entry.id)
            .arg(1)
            .query_async(&mut inner.conn())
            .await;
        let deliveries = pending
            .ok()
            .and_then(|p| p.first().map(|p| p.3))
            .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX));
        if deliveries > inner.options.max_deliveries {
            inner.dead_letter(&entry, deliveries).await;
            continue;
        }
        match job_from_entry(&entry, deliveries) {
            Some(job) => {
                tracing::warn!(execution = %job.id, deliveries, "took over a job whose lease ran out");
                jobs.push(job);
            }
            None => {
                // Not one of ours (a malformed entry): drop it.
                let _: Result<(), RedisError> = redis::pipe()
                    .forget_entry(&inner.keys.stream, &entry.id)
                    .query_async(&mut inner.conn())
                    .await;
            }
        }
    }
    inner.buffer_jobs(jobs).await;
}

async fn refresh_depth(inner: &Inner) {
    // Entries in the stream minus those pending (taken by an instance): the jobs waiting.
    let counts: Result<(usize, Vec<redis::Value>), RedisError> = redis::pipe()
        .cmd("XLEN")
        .arg(&inner.keys.stream)
        .cmd("XPENDING")
        .arg(&inner.keys.stream)
        .arg(GROUP)
        .query_async(&mut inner.conn())
        .await;
    // XPENDING's summary starts with the count of pending entries.
    if let Ok((len, summary)) = counts {
        let pending: usize = summary
            .first()
            .and_then(|v| redis::from_redis_value_ref(v).ok())
            .unwrap_or(0);
        inner
            .depth
            .store(len.saturating_sub(pending), Ordering::Relaxed);
    }
}

/// Drops the ids of expired records from the listing index: each final record is
/// also in `{p}:expiry`, scored by when it expires.
async fn sweep_index(inner: &Inner) {
    // At most 50 x 1000 ids per tick; the rest on the next one.
    for _ in 0..50 {
        let swept: Result<i64, RedisError> = scripts::SWEEP
            .key(&inner.keys.expiry)
            .key(&inner.keys.idx)
            .key(&inner.keys.waiting)
            .arg(&inner.keys.idx_status)
            .arg(1000)
            .invoke_async(&mut inner.conn())
            .await;
        match swept {
            Ok(n) if n >= 1000 => continue,
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(error = %e, "cannot sweep the listing index");
                return;
            }
        }
    }
}

async fn remove_from_index(inner: &Inner, ids: &[&String]) {
    if ids.is_empty() {
        return;
    }
    let mut pipe = redis::pipe();
    pipe.cmd("ZREM").arg(&inner.keys.idx).arg(ids).ignore();
    for status in ["queued", "running", "succeeded", "failed", "cancelled"] {
        pipe.cmd("ZREM")
            .arg(format!("{}{status}", inner.keys.idx_status))
            .arg(ids)
            .ignore();
    }
    let _: Result<(), RedisError> = pipe.query_async(&mut inner.conn()).await;
}

/// Keeps `/readyz` true to whether Redis answers.
async fn health(weak: Weak<Inner>) {
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let pong: Result<Result<String, RedisError>, _> = tokio::time::timeout(
            Duration::from_secs(1),
            redis::cmd("PING").query_async(&mut inner.conn()),
        )
        .await;
        let up = matches!(pong, Ok(Ok(_)));
        let was = inner.healthy.swap(up, Ordering::AcqRel);
        if was != up {
            if up {
                tracing::info!("redis answers again");
                // A Redis that restarted without its data has lost the group.
                let _ = inner.ensure_group().await;
            } else {
                tracing::error!("redis is out of reach: not ready until it answers");
            }
        }
        drop(inner);
        tokio::time::sleep(PING_EVERY).await;
    }
}

/// Passes cancels, and finishes of executions waited for, announced by any instance to
/// this one's engine.
async fn announcements(weak: Weak<Inner>) {
    use futures_util::StreamExt;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let client = inner.client.clone();
        let cancel = inner.keys.cancel.clone();
        let finished = inner.keys.finished.clone();
        let events = inner.events.clone();
        drop(inner);
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if pubsub.subscribe(&[&cancel, &finished]).await.is_ok() {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let Ok(id) = message.get_payload::<String>() else {
                            continue;
                        };
                        let event = if message.get_channel_name() == finished {
                            QueueEvent::Finished(id)
                        } else {
                            QueueEvent::Cancel(id)
                        };
                        if events.send(event).is_err() {
                            return;
                        }
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "cancel listener cannot connect; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Queue for RedisBackend {
    fn push(&self, job: Job) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let (body, key) = match &job.task {
                JobTask::Submitted(s) => (s.body.clone(), s.idempotency_key.clone()),
                JobTask::Prepared(_) => {
                    return Err(StoreError(
                        "a prepared task cannot cross processes: queue the submitted task".into(),
                    ));
                }
            };
            redis::cmd("XADD")
                .arg(&self.inner.keys.stream)
                .arg("*")
                .arg("id")
                .arg(&job.id)
                .arg("task")
                .arg(body)
                .arg("key")
                .arg(key.unwrap_or_default())
                .query_async::<String>(&mut self.inner.conn())
                .await
                .map_err(unavailable)?;
            Ok(())
        })
    }

    fn pop(&self, max: usize) -> BoxFuture<'_, Vec<Job>> {
        Box::pin(async move {
            let inner = &self.inner;
            loop {
                let ready = inner.ready.notified();
                tokio::pin!(ready);
                ready.as_mut().enable();
                {
                    let mut buffer = lock(&inner.buffer);
                    let n = max.max(1).min(buffer.len());
                    if n > 0 {
                        let jobs: Vec<Job> = buffer.drain(..n).collect();
                        if !buffer.is_empty() {
                            inner.ready.notify_one();
                        }
                        return jobs;
                    }
                }
                // Ask the fetcher for jobs while waiting; the guard takes the demand
                // back however this ends (a dropped pop takes nothing).
                let _demand = Demand::new(inner, max.max(1));
                ready.await;
            }
        })
    }

    fn ack(&self, job: &Job) -> BoxFuture<'_, ()> {
        let receipt = job.receipt.clone();
        Box::pin(async move {
            let inner = &self.inner;
            let done: Result<(), RedisError> = redis::pipe()
                .forget_entry(&inner.keys.stream, &receipt)
                .query_async(&mut inner.conn())
                .await;
            if let Err(e) = done {
                // The record is final: a later delivery finds it so and acks then.
                tracing::warn!(error = %e, "cannot acknowledge a finished job");
            }
            inner.unhold(&receipt);
        })
    }

    fn release(&self, job: &Job) -> BoxFuture<'_, ()> {
        let job = job.clone();
        Box::pin(async move { self.inner.release(&job).await })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.inner.closed.store(true, Ordering::Release);
            let taken: Vec<Job> = lock(&self.inner.buffer).drain(..).collect();
            for job in &taken {
                self.inner.release(job).await;
            }
        })
    }

    fn len(&self) -> usize {
        self.inner.depth.load(Ordering::Relaxed)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn is_healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Acquire)
    }

    fn watch_finish(&self, id: &str, within: Duration) -> BoxFuture<'_, ()> {
        let id = id.to_owned();
        Box::pin(async move {
            // Scored by when the wait is over (a little later: clocks differ); swept then.
            let until = epoch_ms(SystemTime::now() + within + Duration::from_secs(5));
            let added: Result<i64, RedisError> = redis::cmd("ZADD")
                .arg(&self.inner.keys.waiting)
                .arg("GT")
                .arg(until)
                .arg(&id)
                .query_async(&mut self.inner.conn())
                .await;
            if let Err(e) = added {
                tracing::debug!(execution = %id, error = %e, "cannot watch for a finish");
            }
        })
    }

    fn announce_cancel(&self, id: &str) -> BoxFuture<'_, ()> {
        let id = id.to_owned();
        Box::pin(async move {
            let sent: Result<i64, RedisError> = redis::cmd("PUBLISH")
                .arg(&self.inner.keys.cancel)
                .arg(&id)
                .query_async(&mut self.inner.conn())
                .await;
            if let Err(e) = sent {
                tracing::warn!(execution = %id, error = %e, "cannot announce a cancel");
            }
        })
    }

    fn events(&self) -> Option<mpsc::UnboundedReceiver<QueueEvent>> {
        lock(&self.inner.receiver).take()
    }
}

/// Demand of one waiting `pop`, taken back on drop.
struct Demand<'a> {
    inner: &'a Inner,
    n: usize,
}

impl<'a> Demand<'a> {
    fn new(inner: &'a Inner, n: usize) -> Self {
        inner.demand.fetch_add(n, Ordering::AcqRel);
        inner.wanted.notify_one();
        Self { inner, n }
    }
}

impl Drop for Demand<'_> {
    fn drop(&mut self) {
        self.inner.demand.fetch_sub(self.n, Ordering::AcqRel);
    }
}

impl ExecutionStore for RedisBackend {
    fn insert(&self, record: Arc<ExecutionRecord>) -> BoxFuture<'_, Result<Inserted, StoreError>> {
        Box::pin(async move { self.insert_with(&record, None).await })
    }

    fn insert_queued<'a>(
        &'a self,
        record: Arc<ExecutionRecord>,
        job: Job,
        _queue: &'a dyn Queue,
    ) -> BoxFuture<'a, Result<Inserted, StoreError>> {
        Box::pin(async move {
            let JobTask::Submitted(source) = job.task else {
                return Err(StoreError(
                    "a prepared task cannot cross processes: queue the submitted task".into(),
                ));
            };
            self.insert_with(&record, Some(source)).await
        })
    }

    fn start(&self, id: &str) -> BoxFuture<'_, Result<Option<ExecutionRecord>, StoreError>> {
        let id = id.to_owned();
        Box::pin(async move {
            let inner = &self.inner;
            let fields: Option<Vec<Option<String>>> = scripts::START
                .key(inner.record_key(&id))
                .arg(&inner.keys.idx_status)
                .arg(&id)
                .arg(crate::record::rfc3339::format(SystemTime::now()))
                .invoke_async(&mut inner.conn())
                .await
                .map_err(unavailable)?;
            Ok(fields.and_then(decode_record))
        })
    }

    fn get(&self, id: &str) -> BoxFuture<'_, Result<Option<ExecutionRecord>, StoreError>> {
        let id = id.to_owned();
        Box::pin(async move { self.inner.get_record(&id).await })
    }

    fn progress(&self, id: &str) -> BoxFuture<'_, Result<Progress, StoreError>> {
        let key = self.inner.record_key(id);
        Box::pin(async move {
            let fields: Vec<Option<String>> = scripts::PROGRESS
                .key(key)
                .invoke_async(&mut self.inner.conn())
                .await
                .map_err(unavailable)?;
            // `[nil, status, nil]`: pending, the record not sent.
            if fields.first().is_some_and(Option::is_none)
                && let Some(status) = fields
                    .get(1)
                    .and_then(|s| s.as_deref())
                    .and_then(Status::parse)
            {
                return Ok(Progress::Pending(status));
            }
            Ok(Progress::of(decode_record(fields).map(Arc::new)))
        })
    }

    fn update(&self, record: Arc<ExecutionRecord>) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move { self.inner.write_record(&record).await })
    }

    fn amend_cancelled(
        &self,
        record: Arc<ExecutionRecord>,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let json = serde_json::to_string(&*record)
                .map_err(|e| StoreError(format!("cannot encode record {}: {e}", record.id)))?;
            let written: i64 = scripts::AMEND_CANCELLED
                .key(inner.record_key(&record.id))
                .arg(json)
                .invoke_async(&mut inner.conn())
                .await
                .map_err(unavailable)?;
            Ok(written == 1)
        })
    }

    fn finish<'a>(
        &'a self,
        record: Arc<ExecutionRecord>,
        job: &'a Job,
        _queue: &'a dyn Queue,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let receipt = (!job.receipt.is_empty()).then_some(job.receipt.as_str());
            self.inner.write_record_acking(&record, receipt).await
        })
    }

    fn list(
        &self,
        status: Option<Status>,
        limit: usize,
        cursor: Option<String>,
    ) -> BoxFuture<'_, Result<Page, StoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let index = match status {
                Some(s) => format!("{}{}", inner.keys.idx_status, s.as_str()),
                None => inner.keys.idx.clone(),
            };
            let mut upper = cursor.map_or_else(|| "+".to_owned(), |c| format!("({c}"));
            let mut items = Vec::with_capacity(limit.min(1000));
            loop {
                let want = limit - items.len() + 1;
                let ids: Vec<String> = redis::cmd("ZRANGE")
                    .arg(&index)
                    .arg(&upper)
                    .arg("-")
                    .arg("BYLEX")
                    .arg("REV")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(want)
                    .query_async(&mut inner.conn())
                    .await
                    .map_err(unavailable)?;
                let mut pipe = redis::pipe();
                for id in &ids {
                    pipe.cmd("HMGET")
                        .arg(inner.record_key(id))
                        .arg("r")
                        .arg("s")
                        .arg("t");
                }
                let rows: Vec<Vec<Option<String>>> = if ids.is_empty() {
                    Vec::new()
                } else {
                    pipe.query_async(&mut inner.conn())
                        .await
                        .map_err(unavailable)?
                };
                let mut gone = Vec::new();
                for (id, row) in ids.iter().zip(rows) {
                    match decode_record(row) {
                        // The status index may lag a status change by a moment.
                        Some(r) if status.is_none_or(|s| s == r.status) => {
                            if items.len() == limit {
                                let next = items.last().map(|r: &ExecutionRecord| r.id.clone());
                                return Ok(Page { items, next });
                            }
                            items.push(r);
                        }
                        Some(_) => {}
                        None => gone.push(id),
                    }
                }
                remove_from_index(inner, &gone).await;
                match ids.last() {
                    Some(last) if ids.len() == want => upper = format!("({last}"),
                    _ => return Ok(Page { items, next: None }),
                }
            }
        })
    }
}

impl RedisBackend {
    async fn insert_with(
        &self,
        record: &ExecutionRecord,
        job: Option<SubmittedTask>,
    ) -> Result<Inserted, StoreError> {
        let inner = &self.inner;
        let json = serde_json::to_string(record)
            .map_err(|e| StoreError(format!("cannot encode record {}: {e}", record.id)))?;
        let key = record.idempotency_key.clone().unwrap_or_default();
        let record_key = inner.record_key(&record.id);
        let idem_key = if key.is_empty() {
            record_key.clone()
        } else {
            format!("{}{key}", inner.keys.idem)
        };
        let (body, job_key, queue) = match job {
            Some(s) => (s.body, s.idempotency_key.unwrap_or_default(), "1"),
            None => (String::new(), String::new(), "0"),
        };
        let existing: Option<Vec<Option<String>>> = scripts::INSERT
            .key(record_key)
            .key(idem_key)
            .key(&inner.keys.idx)
            .key(format!(
                "{}{}",
                inner.keys.idx_status,
                record.status.as_str()
            ))
            .key(&inner.keys.stream)
            .arg(&inner.keys.exec)
            .arg(&record.id)
            .arg(json)
            .arg(key)
            .arg(queue)
            .arg(body)
            .arg(job_key)
            .arg(record.status.as_str())
            .invoke_async(&mut inner.conn())
            .await
            .map_err(unavailable)?;
        Ok(match existing.and_then(decode_record) {
            Some(found) => Inserted::Existing(Arc::new(found)),
            None => Inserted::New,
        })
    }
}

/// A config as stored in Redis: its secrets in clear (Redis must be protected like the
/// secrets themselves: a password, TLS or a private network).
#[derive(Serialize, Deserialize)]
struct ConfigDoc {
    id: String,
    version: u64,
    created_ms: u64,
    updated_ms: u64,
    input: ConfigInput,
}

fn epoch_ms(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

fn encode_config(c: &StoredConfig) -> Result<String, StoreError> {
    let doc = ConfigDoc {
        id: c.id.clone(),
        version: c.version,
        created_ms: epoch_ms(c.created_at),
        updated_ms: epoch_ms(c.updated_at),
        input: c.input.clone(),
    };
    flunq_auth::Secret::revealed(|| serde_json::to_string(&doc))
        .map_err(|e| StoreError(format!("cannot encode config {}: {e}", c.id)))
}

fn decode_config(text: &str) -> Result<StoredConfig, StoreError> {
    // The error's position only: its text may quote a value, and configs hold secrets.
    let doc: ConfigDoc = serde_json::from_str(text).map_err(|e| {
        StoreError(format!(
            "unreadable config in Redis ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })?;
    Ok(StoredConfig {
        id: doc.id,
        version: doc.version,
        created_at: UNIX_EPOCH + Duration::from_millis(doc.created_ms),
        updated_at: UNIX_EPOCH + Duration::from_millis(doc.updated_ms),
        input: doc.input,
    })
}

impl RedisBackend {
    async fn find_config(&self, id_or_name: &str) -> Result<Option<StoredConfig>, StoreError> {
        let inner = &self.inner;
        let doc: Option<String> = scripts::CONFIG_GET
            .key(&inner.keys.configs)
            .key(&inner.keys.names)
            .arg(id_or_name)
            .invoke_async(&mut inner.conn())
            .await
            .map_err(unavailable)?;
        doc.as_deref().map(decode_config).transpose()
    }
}

impl ConfigStore for RedisBackend {
    fn create(
        &self,
        config: StoredConfig,
    ) -> BoxFuture<'_, Result<Arc<StoredConfig>, ConfigStoreError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let doc = encode_config(&config)?;
            let created: i64 = scripts::CONFIG_CREATE
                .key(&inner.keys.configs)
                .key(&inner.keys.names)
                .key(&inner.keys.versions)
                .arg(&config.id)
                .arg(config.name())
                .arg(doc)
                .invoke_async(&mut inner.conn())
                .await
                .map_err(unavailable)?;
            if created == 0 {
                return Err(ConfigStoreError::DuplicateName(config.name().to_owned()));
            }
            Ok(Arc::new(config))
        })
    }

    fn get(
        &self,
        id_or_name: &str,
    ) -> BoxFuture<'_, Result<Option<Arc<StoredConfig>>, StoreError>> {
        let id_or_name = id_or_name.to_owned();
        Box::pin(async move { Ok(self.find_config(&id_or_name).await?.map(Arc::new)) })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<Arc<StoredConfig>>, StoreError>> {
        Box::pin(async move {
            let docs: Vec<String> = redis::cmd("HVALS")
                .arg(&self.inner.keys.configs)
                .query_async(&mut self.inner.conn())
                .await
                .map_err(unavailable)?;
            let mut all = docs
                .iter()
                .map(|d| decode_config(d).map(Arc::new))
                .collect::<Result<Vec<_>, _>>()?;
            all.sort_by(|a, b| a.name().cmp(b.name()));
            Ok(all)
        })
    }

    fn replace(
        &self,
        id_or_name: &str,
        input: ConfigInput,
        if_match: Option<u64>,
    ) -> BoxFuture<'_, Result<Arc<StoredConfig>, ConfigStoreError>> {
        let id_or_name = id_or_name.to_owned();
        Box::pin(async move {
            let inner = &self.inner;
            // Optimistic: read, check, write if the version is still the one read.
            loop {
                let current = self
                    .find_config(&id_or_name)
                    .await?
                    .ok_or_else(|| ConfigStoreError::NotFound(id_or_name.clone()))?;
                let replaced = current.replaced_by(input.clone(), if_match)?;
                let doc = encode_config(&replaced)?;
                let outcome: i64 = scripts::CONFIG_REPLACE
                    .key(&inner.keys.configs)
                    .key(&inner.keys.names)
                    .key(&inner.keys.versions)
                    .arg(&current.id)
                    .arg(current.version)
                    .arg(current.name())
                    .arg(replaced.name())
                    .arg(doc)
                    .invoke_async(&mut inner.conn())
                    .await
                    .map_err(unavailable)?;
                match outcome {
                    1 => return Ok(Arc::new(replaced)),
                    -1 => return Err(ConfigStoreError::NotFound(id_or_name)),
                    -3 => {
                        return Err(ConfigStoreError::DuplicateName(replaced.name().to_owned()));
                    }
                    // Changed meanwhile by another instance: read it again.
                    _ => continue,
                }
            }
        })
    }

    fn delete(&self, id_or_name: &str) -> BoxFuture<'_, Result<(), ConfigStoreError>> {
        let id_or_name = id_or_name.to_owned();
        Box::pin(async move {
            let inner = &self.inner;
            let current = self
                .find_config(&id_or_name)
                .await?
                .ok_or_else(|| ConfigStoreError::NotFound(id_or_name.clone()))?;
            let deleted: i64 = scripts::CONFIG_DELETE
                .key(&inner.keys.configs)
                .key(&inner.keys.names)
                .key(&inner.keys.versions)
                .arg(&current.id)
                .arg(current.name())
                .invoke_async(&mut inner.conn())
                .await
                .map_err(unavailable)?;
            if deleted == 0 {
                return Err(ConfigStoreError::NotFound(id_or_name));
            }
            Ok(())
        })
    }
}
