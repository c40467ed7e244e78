//! The shared token cache: one fetch per key however many callers wait, tokens kept
//! until shortly before they expire, and invalidation that spares a fresher token.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use flunq_http_client::Client;
use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

use super::{AccessToken, OAuth2Grant, TokenKey, endpoint};
use crate::error::AuthError;
use crate::secret::Secret;

/// How long a token is kept when the server does not say (`expires_in` absent).
///
/// Five minutes: short enough that a token which actually lives less is rarely used
/// stale (and a stale one costs one `401` and a refetch, see
/// [`OAuth2Cache::invalidate`]), long enough to spare the endpoint.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(5 * 60);

/// The most a token is refreshed ahead of its expiry. See [`refresh_skew`].
pub const MAX_REFRESH_SKEW: Duration = Duration::from_secs(30);

/// Keys kept at most by default.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// How long before its expiry a token of this lifetime stops being handed out:
/// a tenth of the lifetime, at most [`MAX_REFRESH_SKEW`]. A one-hour token is
/// refreshed 30 s early, a one-minute token 6 s early, so a request never leaves with
/// a token about to lapse in flight, and short tokens still get most of their life.
pub fn refresh_skew(lifetime: Duration) -> Duration {
    (lifetime / 10).min(MAX_REFRESH_SKEW)
}

/// The time the cache reads. [`SystemClock`] in production; tests inject their own to
/// test expiry without sleeping.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// [`Instant::now`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

type FetchResult = Result<Arc<AccessToken>, AuthError>;
type SharedFetch = Shared<BoxFuture<'static, FetchResult>>;

/// OAuth2 tokens shared by every caller: cheap to clone (an `Arc` inside), so one cache
/// serves a whole process.
///
/// - **Single flight.** The first caller for a key starts the fetch; callers arriving
///   meanwhile await the same fetch (a shared future, driven by whichever of them is
///   polled, so a caller that gives up does not strand the others). On success all get
///   the token; on failure all get the error, nothing is cached, and the next caller
///   fetches again.
/// - **Expiry.** A token is handed out until `lifetime - refresh_skew(lifetime)` after
///   the fetch started ([`refresh_skew`]); `lifetime` is `expires_in`, else
///   [`DEFAULT_TOKEN_LIFETIME`].
/// - **Invalidation.** [`invalidate`](Self::invalidate) drops the cached token only if
///   it is still the one that failed, so a token another caller refreshed meanwhile is
///   kept.
/// - **Bounded.** At most `capacity` keys: when full, expired entries go first, then
///   the one closest to expiry. Entries being fetched are never evicted.
/// - **Refresh token rotation.** When the server answers a `refresh_token` grant with a
///   new refresh token, the next fetch for that key uses it.
/// - Token requests go through the [`Client`] given, so its egress policy, timeouts and
///   size limits apply; they never follow redirects.
#[derive(Clone)]
pub struct OAuth2Cache {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    clock: Arc<dyn Clock>,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    slots: HashMap<TokenKey, Slot>,
    next_fetch_id: u64,
}

struct Slot {
    phase: Phase,
    /// The latest refresh token the server issued for this key, if it rotated it.
    rotated_refresh_token: Option<Secret>,
}

enum Phase {
    Empty,
    Fetching { id: u64, fetch: SharedFetch },
    Ready(Cached),
}

struct Cached {
    token: Arc<AccessToken>,
    refresh_at: Instant,
    expires_at: Instant,
}

impl fmt::Debug for OAuth2Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Cache")
            .field("entries", &self.len())
            .field("capacity", &self.inner.capacity)
            .field("clock", &self.inner.clock)
            .finish_non_exhaustive()
    }
}

impl OAuth2Cache {
    /// A cache whose token requests go through `client`.
    pub fn new(client: Client) -> Self {
        Self::with_options(client, DEFAULT_CACHE_CAPACITY, Arc::new(SystemClock))
    }

    /// A cache with a capacity (keys kept, at least 1) and a clock of your choice.
    pub fn with_options(client: Client, capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                clock,
                capacity: capacity.max(1),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// The client token requests go through.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Keys held (tokens, fetches in flight, and remembered refresh tokens).
    pub fn len(&self) -> usize {
        self.inner.lock().slots.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A valid token for the grant: the cached one, the one being fetched, or a new one.
    pub async fn token(&self, grant: &OAuth2Grant) -> Result<Arc<AccessToken>, AuthError> {
        // The lock is taken and released here, before any await.
        let fetch = match self.cached_or_fetch(grant.key()) {
            Ok(token) => return Ok(token),
            Err(fetch) => fetch,
        };
        fetch.await
    }

    /// The fresh cached token, or the fetch to await: the one in flight for this key,
    /// or a new one registered as in flight.
    fn cached_or_fetch(&self, key: &TokenKey) -> Result<Arc<AccessToken>, SharedFetch> {
        let mut state = self.inner.lock();
        let now = self.inner.clock.now();
        let rotated = match state.slots.get(key) {
            Some(Slot {
                phase: Phase::Ready(c),
                ..
            }) if now < c.refresh_at => return Ok(Arc::clone(&c.token)),
            Some(Slot {
                phase: Phase::Fetching { fetch, .. },
                ..
            }) => return Err(fetch.clone()),
            Some(slot) => slot.rotated_refresh_token.clone(),
            None => None,
        };
        state.next_fetch_id += 1;
        let id = state.next_fetch_id;
        let fetch = self.start_fetch(key.clone(), id, rotated.clone());
        if !state.slots.contains_key(key) {
            self.inner.make_room(&mut state, now);
        }
        state.slots.insert(
            key.clone(),
            Slot {
                phase: Phase::Fetching {
                    id,
                    fetch: fetch.clone(),
                },
                rotated_refresh_token: rotated,
            },
        );
        Err(fetch)
    }

    /// Drops the cached token of `key` if it is still `failed` (the one an upstream
    /// answered `401` to), so the next call fetches a new one. A token fetched since by
    /// another caller is kept. Returns whether a token was dropped.
    pub fn invalidate(&self, key: &TokenKey, failed: &AccessToken) -> bool {
        let mut state = self.inner.lock();
        match state.slots.get_mut(key) {
            Some(slot) => match &slot.phase {
                Phase::Ready(c) if c.token.secret() == failed.secret() => {
                    slot.phase = Phase::Empty;
                    true
                }
                _ => false,
            },
            None => false,
        }
    }

    /// The fetch every caller of this key will await. It holds the cache weakly, so an
    /// abandoned fetch does not keep a dropped cache alive.
    fn start_fetch(&self, key: TokenKey, id: u64, rotated: Option<Secret>) -> SharedFetch {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let client = self.inner.client.clone();
        let started = self.inner.clock.now();
        async move {
            let result = endpoint::fetch(&client, key.params(), rotated.as_ref())
                .await
                .map(Arc::new);
            if let Some(inner) = weak.upgrade() {
                inner.finish(&key, id, started, &result);
            }
            result
        }
        .boxed()
        .shared()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock guards plain map updates that cannot panic halfway, so a poisoned
        // lock still holds a consistent map: keep using it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records the outcome of fetch `id`, unless the slot has moved on (evicted, or a
    /// newer fetch started after an invalidation).
    fn finish(&self, key: &TokenKey, id: u64, started: Instant, result: &FetchResult) {
        let mut state = self.lock();
        let Some(slot) = state.slots.get_mut(key) else {
            return;
        };
        if !matches!(slot.phase, Phase::Fetching { id: current, .. } if current == id) {
            return;
        }
        match result {
            Ok(token) => {
                let lifetime = token.expires_in().unwrap_or(DEFAULT_TOKEN_LIFETIME);
                if let Some(rotated) = token.refresh_token() {
                    slot.rotated_refresh_token = Some(rotated.clone());
                }
                slot.phase = Phase::Ready(Cached {
                    token: Arc::clone(token),
                    refresh_at: started + lifetime - refresh_skew(lifetime),
                    expires_at: started + lifetime,
                });
            }
            Err(_) => slot.phase = Phase::Empty,
        }
    }

    /// Frees one place when the cache is full: expired or empty entries first, then
    /// the token closest to expiry. Fetches in flight stay.
    fn make_room(&self, state: &mut State, now: Instant) {
        if state.slots.len() < self.capacity {
            return;
        }
        state.slots.retain(|_, slot| match &slot.phase {
            Phase::Empty => false,
            Phase::Fetching { .. } => true,
            Phase::Ready(c) => now < c.expires_at,
        });
        if state.slots.len() < self.capacity {
            return;
        }
        let victim = state
            .slots
            .iter()
            .filter_map(|(k, slot)| match &slot.phase {
                Phase::Ready(c) => Some((k, c.expires_at)),
                _ => None,
            })
            .min_by_key(|(_, at)| *at)
            .map(|(k, _)| k.clone());
        if let Some(victim) = victim {
            state.slots.remove(&victim);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_is_a_tenth_capped_at_thirty_seconds() {
        assert_eq!(
            refresh_skew(Duration::from_secs(3600)),
            Duration::from_secs(30)
        );
        assert_eq!(
            refresh_skew(Duration::from_secs(60)),
            Duration::from_secs(6)
        );
        assert_eq!(refresh_skew(Duration::ZERO), Duration::ZERO);
    }
}
