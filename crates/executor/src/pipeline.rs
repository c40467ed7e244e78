//! The attempt pipeline, in the order of DESIGN.md:
//!
//! 1. rate limiter for the task's key: wait for a permit (counts against `max_elapsed`);
//! 2. circuit breaker for the same key: refuse at once when open (`circuit_open`);
//! 3. auth, 4. egress-checked send under the attempt timeout and size limit (the runner);
//! 5. classify the outcome and record it in the breaker;
//! 6. the retry policy decides the next delay (honouring `Retry-After`) or stops.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use flunq_auth::Authenticator;
use flunq_circuit::{Outcome, Rejected};
use flunq_http_client::TraceContext;
use tokio::time::Instant;
use tracing::Instrument;

use crate::engine::{Shared, Slot};
use crate::model::prepared::{Call, PreparedTask};
use crate::record::{AttemptRecord, ErrorKind, ExecError, ExecutionRecord, Status};
use crate::runner::{self, AttemptResult, BreakerVerdict, Failure};

/// Runs every attempt of one execution, updating its record after each; returns the
/// final record.
pub(crate) async fn run(
    shared: &Shared,
    mut record: ExecutionRecord,
    task: Arc<PreparedTask>,
    slot: &mut Slot,
) -> ExecutionRecord {
    let started = Instant::now();
    let trace = TraceContext::new_root();
    let auth = task.auth.as_deref();
    let breaker = shared.breakers.get(&task.key, task.breaker.as_ref());
    let mut delays = task.retry.policy.delays();
    // Handed over from an instance that died: its recorded attempts count, and so do
    // the retries they used (a record with N attempts was written after the N-th retry
    // was granted) and the time since the execution started (`max_elapsed`).
    let mut number = u32::try_from(record.attempts.len()).unwrap_or(u32::MAX);
    let started = record
        .started_at
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .filter(|_| number > 0)
        .and_then(|ran| Instant::now().checked_sub(ran))
        .unwrap_or(started);
    for _ in 0..number {
        if delays.next_delay(Duration::ZERO, None).is_err() {
            let error = record.attempts.last().and_then(|a| a.error.clone());
            return finish(record, Status::Failed, None, error, &task);
        }
    }
    // The end of `retry.max_elapsed` (durations are at most a year, so it exists).
    let max_elapsed = task.retry.policy.max_elapsed();
    let ends = max_elapsed.and_then(|limit| started.checked_add(limit));
    loop {
        number += 1;
        if let Err(error) = wait_turn(shared, &task, ends).await {
            return finish(record, Status::Failed, None, Some(error), &task);
        }
        // `retry.max_elapsed` bounds the whole execution: an attempt gets the time left
        // when that is less than its `timeout`, and none starts once it is over.
        let limit = match ends.map(|end| end.saturating_duration_since(Instant::now())) {
            Some(left) if left.is_zero() => {
                let error = max_elapsed_over(&task, &format!("before attempt {number}"));
                return finish(record, Status::Failed, None, Some(error), &task);
            }
            Some(left) => task.timeout.min(left),
            None => task.timeout,
        };
        let attempt_started = SystemTime::now();
        let clock = Instant::now();
        slot.in_flight = Some(crate::engine::InFlight {
            number,
            started_at: attempt_started,
            clock,
        });
        let span = tracing::info_span!("attempt", execution = %record.id, number, key = %task.key);
        let result = async {
            let permit = match breaker.as_ref().map(|b| b.try_acquire_owned()) {
                Some(Err(rejected)) => return AttemptResult::failed(open_circuit(&rejected)),
                Some(Ok(permit)) => Some(permit),
                None => None,
            };
            let result = Box::pin(attempt(shared, &task, auth, &trace, limit)).await;
            if let Some(permit) = permit {
                permit.record(match result.breaker_verdict() {
                    BreakerVerdict::Success => Outcome::Success,
                    BreakerVerdict::Failure => Outcome::Failure,
                    BreakerVerdict::Ignored => Outcome::Ignored,
                });
            }
            result
        }
        .instrument(span)
        .await;
        slot.in_flight = None;
        let took = clock.elapsed();
        // An open circuit or the egress policy stopped it before anything was sent.
        let sent = !result.failure.as_ref().is_some_and(|f| {
            matches!(
                f.error.kind,
                ErrorKind::CircuitOpen | ErrorKind::EgressDenied | ErrorKind::Auth
            ) && !f.may_have_reached
        });
        shared.metrics.attempt(
            task.kind,
            sent.then_some(&task.origin),
            result.status_code,
            result.failure.is_some(),
            took,
        );
        let mut error = result.failure.as_ref().map(|f| f.error.clone());
        if let Some(e) = error.as_mut() {
            e.message = task.masker.mask_text(&e.message);
        }
        tracing::debug!(
            execution = %record.id,
            number,
            status_code = result.status_code,
            error = error.as_ref().map(|e| e.kind.as_str()),
            detail = error.as_ref().map(|e| e.message.as_str()),
            took_ms = took.as_millis() as u64,
            "attempt finished"
        );
        record.attempts.push(AttemptRecord {
            number,
            started_at: attempt_started,
            duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
            status_code: result.status_code,
            error: error.clone(),
        });
        let AttemptResult {
            result: value,
            failure,
            status_code,
        } = result;
        let Some(failure) = failure else {
            return finish(record, Status::Succeeded, value, None, &task);
        };
        let next = if retry_allowed(&task, &failure, status_code) {
            delays
                .next_delay(started.elapsed(), failure.retry_after)
                .ok()
        } else {
            None
        };
        let Some(delay) = next else {
            return finish(record, Status::Failed, value, error, &task);
        };
        shared.metrics.retry(task.kind);
        tracing::debug!(execution = %record.id, delay_ms = delay.as_millis() as u64, "retrying");
        // Show the attempt so far while waiting. A record that became final meanwhile
        // was cancelled (perhaps from another instance whose signal did not arrive):
        // no further attempt.
        if let Ok(false) = shared
            .executions
            .update(Arc::new(masked(record.clone(), &task)))
            .await
        {
            return finish(record, Status::Cancelled, None, error, &task);
        }
        if !delay.is_zero() {
            slot.pause(delay).await;
        }
    }
}

/// One attempt under `limit`: the task's `timeout`, or less when `retry.max_elapsed`
/// ends sooner.
async fn attempt(
    shared: &Shared,
    task: &PreparedTask,
    auth: Option<&Authenticator>,
    trace: &TraceContext,
    limit: Duration,
) -> AttemptResult {
    let ctx = runner::HttpContext {
        client: &shared.client,
        auth,
        max_response_bytes: shared.options.max_response_bytes,
        trace: Some(trace),
        timeout: limit,
    };
    let run = async {
        match &task.call {
            Call::Http(call) => runner::run_http(call, &ctx).await,
            Call::Graphql(call) => runner::run_graphql(call, &ctx).await,
            // Boxed: the database runner's future is three times the HTTP runner's,
            // and every attempt's future (boxed itself) would be that large.
            Call::Database(call) => {
                Box::pin(runner::run_database(call, &shared.database, limit)).await
            }
        }
    };
    // The database runner bounds the statement itself (server side, then client side,
    // a little later); this bound is the attempt's, for every type.
    let outer = match task.call {
        Call::Database(_) => limit.saturating_add(Duration::from_secs(1)),
        _ => limit,
    };
    match tokio::time::timeout(outer, run).await {
        Ok(result) => result,
        Err(_) => AttemptResult::failed(runner::timeout_failure(limit)),
    }
}

/// The retry decision before the schedule: is this failure retried at all?
fn retry_allowed(task: &PreparedTask, failure: &Failure, status_code: Option<u16>) -> bool {
    if !failure.retryable {
        return false;
    }
    if failure.error.kind == ErrorKind::HttpStatus
        && !status_code.is_some_and(|s| task.retry.retries_status(s))
    {
        return false;
    }
    // POST, PATCH and GraphQL mutations are retried only when the request cannot have
    // reached the upstream, unless the caller said retrying is safe. (GraphQL queries
    // are POSTs too, but harmless.)
    let repeat_unsafe = match &task.call {
        Call::Http(call) | Call::Graphql(call) => call.repeat_unsafe,
        Call::Database(_) => false,
    };
    if repeat_unsafe && failure.may_have_reached {
        return task.retry.retry_unsafe || task.idempotency_key.is_some();
    }
    true
}

/// An attempt the breaker refused. Not retried (API.md's list of what is retried does
/// not name it): the breaker is there to fail fast while the upstream is down, and a
/// retry would hold the execution's slot until the circuit half-opens.
fn open_circuit(rejected: &Rejected) -> Failure {
    Failure {
        error: ExecError::new(ErrorKind::CircuitOpen, rejected.to_string()),
        retryable: false,
        may_have_reached: false,
        retry_after: match rejected {
            Rejected::Open { retry_after } => Some(*retry_after),
            _ => None,
        },
        breaker: BreakerVerdict::Ignored,
    }
}

fn finish(
    mut record: ExecutionRecord,
    status: Status,
    result: Option<serde_json::Value>,
    error: Option<ExecError>,
    task: &PreparedTask,
) -> ExecutionRecord {
    record.status = status;
    record.finished_at = Some(SystemTime::now());
    record.result = result;
    record.error = error;
    masked(record, task)
}

/// Waits for the rate limit of the task's key, if it has one. The wait counts against
/// `max_elapsed` (ending at `ends`): past it, the execution fails without sending
/// anything.
async fn wait_turn(
    shared: &Shared,
    task: &PreparedTask,
    ends: Option<Instant>,
) -> Result<(), ExecError> {
    let Some(spec) = &task.limit else {
        return Ok(());
    };
    let turn = shared.limiters.until_ready(&task.key, spec);
    let waited = match ends {
        None => turn.await,
        Some(ends) => tokio::time::timeout_at(ends, turn).await.map_err(|_| {
            max_elapsed_over(
                task,
                "while waiting for the rate limit; no request was sent",
            )
        })?,
    };
    if let Some(waited) = waited {
        shared.metrics.rate_limit_wait(&task.key, waited);
    }
    Ok(())
}

/// The error of an execution whose `retry.max_elapsed` ran out (`when`).
fn max_elapsed_over(task: &PreparedTask, when: &str) -> ExecError {
    let limit = task.retry.policy.max_elapsed().unwrap_or_default();
    ExecError::new(
        ErrorKind::Timeout,
        format!(
            "`retry.max_elapsed` ({}) ran out {when}",
            crate::model::duration::format_duration(limit)
        ),
    )
}

/// A result with every secret hidden: its strings, and the bytes of a body that is not
/// text (`{"base64": ...}`), whose text is kept out of the string masking (a short
/// secret found by chance in base64 text would corrupt it).
pub(crate) fn mask_result(
    result: &mut serde_json::Value,
    masker: &crate::model::placeholder::Masker,
) {
    fn base64_body(result: &mut serde_json::Value) -> Option<&mut String> {
        match result.get_mut("body")?.get_mut("base64")? {
            serde_json::Value::String(encoded) => Some(encoded),
            _ => None,
        }
    }
    let encoded = base64_body(result).map(std::mem::take);
    masker.mask_value(result);
    if let (Some(encoded), Some(slot)) = (encoded, base64_body(result)) {
        *slot = mask_base64(encoded, masker);
    }
}

/// A base64 body with the secrets in its bytes hidden.
fn mask_base64(encoded: String, masker: &crate::model::placeholder::Masker) -> String {
    use base64::Engine as _;
    let engine = &base64::engine::general_purpose::STANDARD;
    match engine.decode(encoded.as_bytes()) {
        Ok(bytes) => match masker.mask_bytes(&bytes) {
            Some(masked) => engine.encode(masked),
            None => encoded,
        },
        Err(_) => encoded,
    }
}

/// The record with every secret value of the task hidden.
pub(crate) fn masked(mut out: ExecutionRecord, task: &PreparedTask) -> ExecutionRecord {
    if task.masker.is_empty() {
        return out;
    }
    if let Some(result) = out.result.as_mut() {
        mask_result(result, &task.masker);
    }
    if let Some(error) = out.error.as_mut() {
        error.message = task.masker.mask_text(&error.message);
    }
    for attempt in &mut out.attempts {
        if let Some(error) = attempt.error.as_mut() {
            error.message = task.masker.mask_text(&error.message);
        }
    }
    out
}
