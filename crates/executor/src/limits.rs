//! Circuit breakers and rate limiters per key (a config, else an upstream origin),
//! built from the configs' plain-data settings.

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};

use flunq_circuit::{
    CircuitBreaker, CircuitBreakerRegistry, Config as BreakerConfig, SlidingWindow, State,
    StateChange,
};
use flunq_ratelimit::redis::RedisRateLimiter;
use flunq_ratelimit::{
    Decision, Gcra, KeyedError, KeyedRateLimiter, MonotonicClock, Quota, RateLimitBackend,
    SlidingWindow as Window,
};

use crate::model::config::{CircuitInput, RateAlgorithm, RateLimitInput};

/// A rate limit: algorithm and quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSpec {
    /// Token bucket or sliding window.
    pub algorithm: RateAlgorithm,
    /// Rate, period, burst.
    pub quota: Quota,
}

impl LimitSpec {
    /// `rate` per second with a burst of `rate`, or `None` for 0 (no limit).
    pub fn per_second(rate: u32) -> Option<Self> {
        (rate > 0).then(|| Self {
            algorithm: RateAlgorithm::TokenBucket,
            quota: Quota::per_second(rate),
        })
    }
}

/// The breaker config of a config's `circuit_breaker` object (defaults of API.md's
/// example: 50 % over 60 s after 10 calls, open 30 s, 3 probes).
pub fn breaker_config(input: &CircuitInput) -> Result<BreakerConfig, (String, String)> {
    let mut b = BreakerConfig::builder()
        .failure_rate(input.failure_rate.unwrap_or(0.5))
        .window(SlidingWindow::time(
            input.window.map_or(Duration::from_secs(60), |d| d.get()),
        ))
        .minimum_calls(input.minimum_calls.unwrap_or(10))
        .open_for(input.open_for.map_or(Duration::from_secs(30), |d| d.get()))
        .half_open_calls(input.half_open_calls.unwrap_or(3));
    if let Some(slow) = input.slow_call_duration {
        b = b.slow_calls(slow.get(), input.slow_call_rate.unwrap_or(1.0));
    }
    if let Some(n) = input.consecutive_failures {
        b = b.consecutive_failures(n);
    }
    b.build().map_err(|e| {
        let field = e.field().map_or("circuit_breaker".to_owned(), |f| {
            format!("circuit_breaker.{f}")
        });
        (field, e.to_string())
    })
}

/// The limit of a config's `rate_limit` object.
pub fn limit_spec(input: &RateLimitInput) -> Result<LimitSpec, (String, String)> {
    let Some(rate) = input.rate else {
        return Err(("rate_limit.rate".into(), "missing field `rate`".into()));
    };
    let per = input.per.map_or(Duration::from_secs(1), |d| d.get());
    let quota = Quota::new(rate, per).burst(input.burst.unwrap_or(rate));
    quota
        .validate()
        .map_err(|e| ("rate_limit".to_owned(), e.to_string()))?;
    Ok(LimitSpec {
        algorithm: input.algorithm.unwrap_or_default(),
        quota,
    })
}

/// Keyed rate limiters: one keyed store per distinct limit, so each key is limited by
/// its own config's quota. A config that changes its limit moves to a fresh limiter.
/// Idle keys are evicted by the keyed limiters themselves.
///
/// Shared ([`share`](Limiters::share)), the limits live in Redis: one script per check,
/// so 5/s is 5/s across every instance. While Redis is out of reach, each instance falls
/// back to its own in-memory limiter with the same quota: calls go on, each instance
/// keeping the limit by itself (so N instances may together make up to N times the
/// rate), and a warning is logged. Failing closed instead would stop every execution
/// for as long as Redis is away; failing wide open would drop the limit altogether.
#[derive(Debug, Default)]
pub struct Limiters {
    buckets: RwLock<HashMap<QuotaKey, Arc<Keyed<Gcra>>>>,
    windows: RwLock<HashMap<QuotaKey, Arc<Keyed<Window>>>>,
    shared: std::sync::OnceLock<SharedLimits>,
    /// The callers waiting, per key.
    lines: Lines,
}

/// Limiters in Redis, one per algorithm and quota.
struct SharedLimits {
    conn: redis::aio::ConnectionManager,
    prefix: String,
    limiters: RwLock<HashMap<(RateAlgorithm, QuotaKey), Arc<RedisRateLimiter>>>,
    /// When the last "Redis unreachable" warning was logged (one per 10 s at most).
    warned: Mutex<Option<std::time::Instant>>,
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimits")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Limiters {
    /// No limiter yet: each is made on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the limits in Redis from now on (the executor's Redis mode), under keys
    /// starting with `{prefix}:`. A second call changes nothing.
    pub fn share(&self, conn: redis::aio::ConnectionManager, prefix: &str) {
        let _ = self.shared.set(SharedLimits {
            conn,
            prefix: format!("{{{prefix}}}"),
            limiters: RwLock::new(HashMap::new()),
            warned: Mutex::new(None),
        });
    }

    /// Waits until `key` may make a call under `spec`; returns how long it waited, or
    /// `None` when the permit was there at once (no wait: the time to take it, a Redis
    /// round trip included, is not one). Cancel-safe: dropping the future takes no
    /// permit.
    ///
    /// Callers that must wait are served first come, first served: they queue per key
    /// and only the first of them polls the limiter. With the limits in this process, a
    /// caller that comes while others wait goes behind them rather than taking a permit
    /// that has just come back. (Each sleeping and trying again on its own, or a
    /// newcomer trying first, a later one could take the permit an earlier one was
    /// waiting for, and under a steady backlog an execution could wait without end.)
    /// With the limits in Redis, a newcomer still tries first: the line is served one
    /// round trip at a time, and sending every caller through it would cap the key at
    /// one permit per round trip in this instance.
    pub async fn until_ready(&self, key: &Arc<str>, spec: &LimitSpec) -> Option<Duration> {
        let started = tokio::time::Instant::now();
        let behind = self.shared.get().is_none() && self.has_line(key);
        if !behind && self.take_now(key, spec).await {
            return None;
        }
        let line = InLine::join(&self.lines, key);
        let turn = line.line.lock().await;
        self.wait_for_permit(key, spec).await;
        drop(turn);
        drop(line);
        Some(started.elapsed())
    }

    /// Whether callers are waiting for `key`'s permits. With nobody waiting for any key
    /// (the usual case) an atomic load, not the map's lock.
    fn has_line(&self, key: &Arc<str>) -> bool {
        self.lines.waiting.load(Ordering::SeqCst) > 0
            && self
                .lines
                .map
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(key)
    }

    /// Takes a permit now if there is one (or the limiter lets the key through).
    async fn take_now(&self, key: &Arc<str>, spec: &LimitSpec) -> bool {
        if let Some(shared) = self.shared.get()
            && let Some(taken) = shared.check_once(key, spec).await
        {
            return taken;
        }
        self.local(spec).is_none_or(|limiter| limiter.check(key))
    }

    /// Waits for a permit: from Redis when shared and reachable, else here.
    async fn wait_for_permit(&self, key: &Arc<str>, spec: &LimitSpec) {
        if let Some(shared) = self.shared.get()
            && shared.until_ready(key, spec).await.is_some()
        {
            return;
        }
        if let Some(limiter) = self.local(spec) {
            limiter.wait(key).await;
        }
    }

    /// The in-memory limiter of this process for `spec`, made on first use.
    fn local(&self, spec: &LimitSpec) -> Option<Local> {
        match spec.algorithm {
            RateAlgorithm::TokenBucket => get_or_insert(&self.buckets, spec.quota, |q| {
                Ok(KeyedRateLimiter::with_clock(
                    Gcra::new(q)?,
                    MonotonicClock::new(),
                ))
            })
            .map(Local::Bucket),
            RateAlgorithm::SlidingWindow => get_or_insert(&self.windows, spec.quota, |q| {
                Ok(KeyedRateLimiter::with_clock(
                    Window::new(q)?,
                    MonotonicClock::new(),
                ))
            })
            .map(Local::Window),
        }
    }
}

/// An in-memory keyed limiter of either algorithm.
enum Local {
    Bucket(Arc<Keyed<Gcra>>),
    Window(Arc<Keyed<Window>>),
}

impl Local {
    /// Takes a permit of `key` at once if there is one. A key the limiter cannot track
    /// is let through (`true`), as it always was.
    fn check(&self, key: &Arc<str>) -> bool {
        let checked = match self {
            Local::Bucket(l) => l.check_key(key),
            Local::Window(l) => l.check_key(key),
        };
        !matches!(checked, Err(KeyedError::Limited(_)))
    }

    async fn wait(&self, key: &Arc<str>) {
        let _ = match self {
            Local::Bucket(l) => l.until_key_ready(key).await,
            Local::Window(l) => l.until_key_ready(key).await,
        };
    }
}

/// The callers waiting, per key: each key's line in the order they came (tokio's mutex
/// is fair: its waiters are served first in, first out), and how many wait in all.
#[derive(Debug, Default)]
struct Lines {
    map: Mutex<HashMap<Arc<str>, Arc<tokio::sync::Mutex<()>>>>,
    waiting: AtomicUsize,
}

/// A place in a key's line; the line is dropped with its last caller.
struct InLine<'a> {
    lines: &'a Lines,
    key: Arc<str>,
    line: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> InLine<'a> {
    fn join(lines: &'a Lines, key: &Arc<str>) -> Self {
        let line = Arc::clone(
            lines
                .map
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(Arc::clone(key))
                .or_default(),
        );
        lines.waiting.fetch_add(1, Ordering::SeqCst);
        Self {
            lines,
            key: Arc::clone(key),
            line,
        }
    }
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.lines.waiting.fetch_sub(1, Ordering::SeqCst);
        let mut lines = self.lines.map.lock().unwrap_or_else(|p| p.into_inner());
        // This caller's hold on the line goes under the map's lock, so that of two
        // callers leaving at once the second sees the first gone.
        drop(std::mem::take(&mut self.line));
        // Only the map's left: nobody else is in line (joining takes the map's lock).
        if lines
            .get(&self.key)
            .is_some_and(|line| Arc::strong_count(line) == 1)
        {
            lines.remove(&self.key);
        }
    }
}

impl SharedLimits {
    /// One check in Redis: whether the permit was taken, or `None` when Redis could not
    /// decide (the caller falls back to the local limiter).
    async fn check_once(&self, key: &str, spec: &LimitSpec) -> Option<bool> {
        let limiter = self.limiter(spec)?;
        match limiter.check(key, 1).await {
            Ok(Decision::Allowed) => Some(true),
            Ok(Decision::Limited { .. }) => Some(false),
            Err(e) => {
                self.warn_unreachable(&e);
                None
            }
        }
    }

    fn warn_unreachable(&self, e: &dyn std::fmt::Display) {
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.is_none_or(|w| w.elapsed() > Duration::from_secs(10)) {
            *warned = Some(std::time::Instant::now());
            tracing::warn!(error = %e, "shared rate limit unavailable: limiting in this instance only");
        }
    }

    /// Waits for a permit from Redis: whether it had to wait, or `None` when Redis
    /// could not decide (the caller falls back to the local limiter).
    async fn until_ready(&self, key: &str, spec: &LimitSpec) -> Option<bool> {
        let limiter = self.limiter(spec)?;
        let mut waited = false;
        loop {
            match limiter.check(key, 1).await {
                Ok(Decision::Allowed) => return Some(waited),
                Ok(Decision::Limited { retry_after }) => {
                    waited = true;
                    tokio::time::sleep(retry_after).await;
                }
                Err(e) => {
                    self.warn_unreachable(&e);
                    return None;
                }
            }
        }
    }

    fn limiter(&self, spec: &LimitSpec) -> Option<Arc<RedisRateLimiter>> {
        let q = spec.quota;
        let id = (spec.algorithm, (q.rate(), q.period(), q.burst_size()));
        if let Some(found) = self
            .limiters
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return Some(Arc::clone(found));
        }
        let made = match spec.algorithm {
            RateAlgorithm::TokenBucket => {
                RedisRateLimiter::token_bucket(self.conn.clone(), self.prefix.clone(), q)
            }
            RateAlgorithm::SlidingWindow => {
                RedisRateLimiter::sliding_window(self.conn.clone(), self.prefix.clone(), q)
            }
        };
        let made = Arc::new(made.ok()?);
        self.limiters
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id)
            .or_insert_with(|| Arc::clone(&made));
        Some(made)
    }
}

/// A keyed limiter of one algorithm, keyed by breaker/limiter key.
type Keyed<A> = KeyedRateLimiter<Arc<str>, A, MonotonicClock>;

/// A quota as a map key: rate, period, burst.
type QuotaKey = (u32, Duration, u32);

/// The limiter for `quota`, made on first use; `None` if the quota is invalid (it was
/// validated when the config was stored, so this does not happen).
fn get_or_insert<L>(
    map: &RwLock<HashMap<QuotaKey, Arc<L>>>,
    quota: Quota,
    make: impl FnOnce(Quota) -> Result<L, flunq_ratelimit::QuotaError>,
) -> Option<Arc<L>> {
    let id = (quota.rate(), quota.period(), quota.burst_size());
    if let Some(found) = map.read().unwrap_or_else(|p| p.into_inner()).get(&id) {
        return Some(Arc::clone(found));
    }
    let mut write = map.write().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = write.get(&id) {
        return Some(Arc::clone(found));
    }
    let made = Arc::new(make(quota).ok()?);
    write.insert(id, Arc::clone(&made));
    Some(made)
}

/// Circuit breakers per key: one registry per distinct breaker config, each evicting
/// its idle breakers. Tasks without a config's `circuit_breaker` use
/// [`default_breaker_config`]. The latest state of every breaker that ever left
/// `closed` is kept for metrics (at most [`MAX_REPORTED_BREAKERS`] keys).
#[derive(Debug, Default)]
pub struct Breakers {
    registries: RwLock<HashMap<String, Arc<CircuitBreakerRegistry>>>,
    states: Arc<Mutex<HashMap<String, State>>>,
}

/// Keys whose breaker state is kept for metrics, at most.
pub const MAX_REPORTED_BREAKERS: usize = 10_000;

impl Breakers {
    /// No breaker yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The breaker of `key` under `config`; `None` when its registry is full of
    /// breakers that cannot be evicted (the call then goes without a breaker).
    pub fn get(&self, key: &str, profile: Option<&BreakerProfile>) -> Option<CircuitBreaker> {
        let (id, config) = match profile {
            Some(p) => (&*p.id, &p.config),
            None => ("default", default_breaker_config()),
        };
        if let Some(registry) = self
            .registries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
        {
            return registry.get(key).ok();
        }
        let mut write = self.registries.write().unwrap_or_else(|p| p.into_inner());
        let registry = match write.get(id) {
            Some(r) => Arc::clone(r),
            None => {
                let states = Arc::clone(&self.states);
                let r = CircuitBreakerRegistry::builder(config.clone())
                    .on_state_change(move |change: &StateChange| {
                        let mut states = states.lock().unwrap_or_else(|p| p.into_inner());
                        if states.len() >= MAX_REPORTED_BREAKERS {
                            states.retain(|_, s| *s != State::Closed);
                        }
                        if states.len() < MAX_REPORTED_BREAKERS || states.contains_key(&*change.key)
                        {
                            states.insert(change.key.to_string(), change.to);
                        }
                    })
                    .build()
                    .ok()?;
                let r = Arc::new(r);
                write.insert(id.to_owned(), Arc::clone(&r));
                r
            }
        };
        drop(write);
        registry.get(key).ok()
    }

    /// The latest state of every breaker that has left `closed` at some point.
    pub fn states(&self) -> Vec<(String, State)> {
        let states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states.iter().map(|(k, s)| (k.clone(), *s)).collect()
    }
}

/// A config's breaker settings with the id of its registry (`<config>@<version>`), so
/// breakers are found without comparing or formatting configs on every attempt.
#[derive(Debug, Clone)]
pub struct BreakerProfile {
    /// The registry's id.
    pub id: Arc<str>,
    /// The settings.
    pub config: BreakerConfig,
}

/// The breaker of calls whose config sets none: 50 % failures over 60 s after 10 calls,
/// open for 30 s, 3 probes.
pub fn default_breaker_config() -> &'static BreakerConfig {
    static DEFAULT: std::sync::OnceLock<BreakerConfig> = std::sync::OnceLock::new();
    DEFAULT.get_or_init(|| breaker_config(&CircuitInput::default()).unwrap_or_default())
}

/// A breaker state as the `circuit_state` gauge shows it: 0 closed, 1 open,
/// 2 half-open, 3 forced open, 4 disabled.
pub fn state_number(state: State) -> u8 {
    match state {
        State::Closed => 0,
        State::Open => 1,
        State::HalfOpen => 2,
        State::ForcedOpen => 3,
        State::Disabled => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller that comes at the instant a permit comes back, while another waits for
    /// it, goes behind the one waiting.
    #[tokio::test(start_paused = true)]
    async fn a_newcomer_does_not_take_the_permit_a_waiting_caller_is_in_line_for() {
        let limits = Arc::new(Limiters::new());
        let key: Arc<str> = Arc::from("http://127.0.0.1:1");
        let spec = LimitSpec::per_second(1).unwrap();
        let start = tokio::time::Instant::now();
        // The burst of one, taken at once.
        assert_eq!(limits.until_ready(&key, &spec).await, None);
        let first = tokio::spawn({
            let (limits, key) = (Arc::clone(&limits), Arc::clone(&key));
            async move {
                limits.until_ready(&key, &spec).await;
                start.elapsed()
            }
        });
        // The first one in line, asleep until the permit comes back at 1 s.
        tokio::task::yield_now().await;
        assert!(limits.has_line(&key));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(!first.is_finished(), "the first one has not woken yet");
        // At that instant, before the first one wakes, a newcomer asks.
        let waited = limits.until_ready(&key, &spec).await;
        let second = start.elapsed();
        let first = first.await.unwrap();
        assert_eq!(first, Duration::from_secs(1));
        assert!(waited.is_some(), "the newcomer waited behind the first");
        assert_eq!(second, Duration::from_secs(2));
        assert!(
            !limits.has_line(&key),
            "the line is gone with its last caller"
        );
    }
}
