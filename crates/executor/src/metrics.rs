//! Prometheus metrics of the engine, in the text format, with labels that never carry a
//! secret: task type, status, error kind, origin (`scheme://host:port`), breaker key.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::model::input::TaskType;
use crate::record::Status;

/// One static label (`type`).
type Kind = [(&'static str, &'static str); 1];
/// Two static labels (`type`, `status`).
type KindStatus = [(&'static str, &'static str); 2];
/// A key label (`key` or `origin`): shared, so a lookup does not allocate.
type Key = [(&'static str, Arc<str>); 1];
/// Origin and status class.
type OriginClass = [(&'static str, LabelValue); 2];

/// A label value that is either static or shared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LabelValue {
    Static(&'static str),
    Shared(Arc<str>),
}

impl prometheus_client::encoding::EncodeLabelValue for LabelValue {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>,
    ) -> Result<(), std::fmt::Error> {
        match self {
            LabelValue::Static(s) => s.encode(encoder),
            LabelValue::Shared(s) => s.as_ref().encode(encoder),
        }
    }
}

/// The series of one task type, found in their families once: a family lookup hashes
/// the labels under a lock, four times per execution otherwise. Filled on first use, so
/// `/metrics` shows a series only once it has a value, as before.
#[derive(Debug, Default)]
struct Cached {
    execution_seconds: OnceLock<Histogram>,
    attempt_seconds: OnceLock<Histogram>,
    retries: OnceLock<Counter>,
    /// By status (`Status as usize`).
    executions: [OnceLock<Counter>; 5],
}

/// The engine's metrics.
#[derive(Debug)]
pub struct Metrics {
    /// By task type (`TaskType as usize`).
    cached: [Cached; 3],
    registry: Registry,
    executions: Family<KindStatus, Counter>,
    execution_seconds: Family<Kind, Histogram>,
    attempt_seconds: Family<Kind, Histogram>,
    upstream_requests: Family<OriginClass, Counter>,
    retries: Family<Kind, Counter>,
    rate_limit_waits: Family<Key, Counter>,
    rate_limit_wait_seconds: Histogram,
    circuit_state: Family<Key, Gauge>,
    queue_depth: Gauge,
    in_flight: Gauge,
}

fn histogram() -> Histogram {
    // 1 ms .. ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every series.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("flunq");
        let executions = Family::<KindStatus, Counter>::default();
        let execution_seconds =
            Family::<Kind, Histogram>::new_with_constructor(histogram as fn() -> Histogram);
        let attempt_seconds =
            Family::<Kind, Histogram>::new_with_constructor(histogram as fn() -> Histogram);
        let upstream_requests = Family::<OriginClass, Counter>::default();
        let retries = Family::<Kind, Counter>::default();
        let rate_limit_waits = Family::<Key, Counter>::default();
        let rate_limit_wait_seconds = histogram();
        let circuit_state = Family::<Key, Gauge>::default();
        let queue_depth = Gauge::default();
        let in_flight = Gauge::default();
        registry.register(
            "executions",
            "Finished executions by task type and final status",
            executions.clone(),
        );
        registry.register(
            "execution_duration_seconds",
            "Execution time from start to finish, by task type",
            execution_seconds.clone(),
        );
        registry.register(
            "attempt_duration_seconds",
            "Attempt time, by task type",
            attempt_seconds.clone(),
        );
        registry.register(
            "upstream_requests",
            "Upstream calls by origin and status class (2xx..5xx, or error)",
            upstream_requests.clone(),
        );
        registry.register(
            "retries",
            "Retries scheduled, by task type",
            retries.clone(),
        );
        registry.register(
            "rate_limit_waits",
            "Attempts that waited for a rate limiter, by key",
            rate_limit_waits.clone(),
        );
        registry.register(
            "rate_limit_wait_seconds",
            "Time spent waiting for rate limiters",
            rate_limit_wait_seconds.clone(),
        );
        registry.register(
            "circuit_state",
            "Circuit breaker state by key: 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled",
            circuit_state.clone(),
        );
        registry.register(
            "queue_depth",
            "Executions waiting for a worker",
            queue_depth.clone(),
        );
        registry.register(
            "in_flight_executions",
            "Executions running now",
            in_flight.clone(),
        );
        Self {
            cached: Default::default(),
            registry,
            executions,
            execution_seconds,
            attempt_seconds,
            upstream_requests,
            retries,
            rate_limit_waits,
            rate_limit_wait_seconds,
            circuit_state,
            queue_depth,
            in_flight,
        }
    }

    /// `kind`'s series of a family labelled by type alone, kept in `slot`.
    fn by_kind<M: Clone>(
        family: &Family<Kind, M, impl Fn() -> M>,
        kind: TaskType,
        slot: &OnceLock<M>,
    ) -> M {
        slot.get_or_init(|| family.get_or_create(&[("type", kind.as_str())]).clone())
            .clone()
    }

    fn cached(&self, kind: TaskType) -> &Cached {
        // One entry per variant: the index is in range.
        &self.cached[kind as usize]
    }

    pub(crate) fn finished(&self, kind: TaskType, status: Status, took: Duration) {
        let cached = self.cached(kind);
        // One entry per variant: the index is in range.
        cached.executions[status as usize]
            .get_or_init(|| {
                self.executions
                    .get_or_create(&[("type", kind.as_str()), ("status", status.as_str())])
                    .clone()
            })
            .inc();
        Self::by_kind(&self.execution_seconds, kind, &cached.execution_seconds)
            .observe(took.as_secs_f64());
    }

    pub(crate) fn attempt(
        &self,
        kind: TaskType,
        upstream: Option<&Arc<str>>,
        status_code: Option<u16>,
        failed: bool,
        took: Duration,
    ) {
        Self::by_kind(
            &self.attempt_seconds,
            kind,
            &self.cached(kind).attempt_seconds,
        )
        .observe(took.as_secs_f64());
        // Only attempts that went to the upstream count as its requests.
        let Some(origin) = upstream else {
            return;
        };
        let class = match status_code {
            Some(100..=199) => "1xx",
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(400..=499) => "4xx",
            Some(_) => "5xx",
            None if failed => "error",
            None => "ok",
        };
        let labels = [
            ("origin", LabelValue::Shared(Arc::clone(origin))),
            ("class", LabelValue::Static(class)),
        ];
        self.upstream_requests.get_or_create(&labels).inc();
    }

    pub(crate) fn retry(&self, kind: TaskType) {
        Self::by_kind(&self.retries, kind, &self.cached(kind).retries).inc();
    }

    pub(crate) fn rate_limit_wait(&self, key: &Arc<str>, waited: Duration) {
        self.rate_limit_waits
            .get_or_create(&[("key", Arc::clone(key))])
            .inc();
        self.rate_limit_wait_seconds.observe(waited.as_secs_f64());
    }

    pub(crate) fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, queue_depth: usize, breakers: &[(String, u8)]) -> String {
        self.queue_depth
            .set(i64::try_from(queue_depth).unwrap_or(i64::MAX));
        for (key, state) in breakers {
            self.circuit_state
                .get_or_create(&[("key", Arc::from(key.as_str()))])
                .set(i64::from(*state));
        }
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
