//! The guarded connector: the egress policy applied to the address that is dialed.
//!
//! Two places, because hyper-util's `HttpConnector` skips the resolver for IP literals:
//! [`GuardedResolver`] filters what a host name resolves to (only checked addresses are
//! handed to the dialer, so DNS rebinding between check and connect is impossible), and
//! [`GuardedConnector`] checks literal hosts before delegating. Both also apply an
//! optional [`DialFilter`], a last line of defence that tests use to make sure nothing
//! but loopback is ever dialed.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use tower_service::Service;

use crate::egress::{EgressDenied, EgressPolicy};
use crate::error::ConnectTimeout;

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// A predicate over the socket address about to be dialed; `false` refuses it.
///
/// It runs after the egress policy and cannot open what the policy denies.
pub type DialFilter = Arc<dyn Fn(SocketAddr) -> bool + Send + Sync>;

/// What both guards consult.
#[derive(Clone)]
pub(crate) struct Guard {
    pub(crate) policy: EgressPolicy,
    pub(crate) dial_filter: Option<DialFilter>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("policy", &self.policy)
            .field("dial_filter", &self.dial_filter.is_some())
            .finish()
    }
}

impl Guard {
    fn allows(&self, addr: SocketAddr, name_allowlisted: bool) -> bool {
        let policy_ok = name_allowlisted || self.policy.check_ip(addr.ip()).is_ok();
        policy_ok && self.dial_filter.as_ref().is_none_or(|f| f(addr))
    }
}

/// A resolver that hands the dialer only the addresses the policy allows.
#[derive(Clone, Debug)]
pub(crate) struct GuardedResolver {
    inner: GaiResolver,
    guard: Arc<Guard>,
}

impl GuardedResolver {
    pub(crate) fn new(guard: Arc<Guard>) -> Self {
        Self {
            inner: GaiResolver::new(),
            guard,
        }
    }
}

impl Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = BoxError;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let guard = Arc::clone(&self.guard);
        let name_allowlisted = guard.policy.is_host_allowed(name.as_str());
        let resolving = self.inner.call(name);
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = resolving.await?.collect();
            if resolved.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "name resolved to no address",
                )
                .into());
            }
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| guard.allows(*addr, name_allowlisted))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(EgressDenied::Destination) as BoxError);
            }
            Ok(allowed.into_iter())
        })
    }
}

/// Checks IP-literal hosts, bounds the whole connect (DNS, TCP, TLS) by the connect
/// timeout, then delegates.
#[derive(Clone, Debug)]
pub(crate) struct GuardedConnector<C> {
    inner: C,
    guard: Arc<Guard>,
    connect_timeout: Option<Duration>,
}

impl<C> GuardedConnector<C> {
    pub(crate) fn new(inner: C, guard: Arc<Guard>, connect_timeout: Option<Duration>) -> Self {
        Self {
            inner,
            guard,
            connect_timeout,
        }
    }
}

impl<C> Service<Uri> for GuardedConnector<C>
where
    C: Service<Uri> + Clone + Send + 'static,
    C::Response: Send + 'static,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = C::Response;
    type Error = BoxError;
    type Future = BoxFuture<C::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        if let Some(ip) = literal_ip(&uri) {
            let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
                Some("https") => 443,
                _ => 80,
            });
            if !self.guard.allows(SocketAddr::new(ip, port), false) {
                return Box::pin(async { Err(Box::new(EgressDenied::Destination) as BoxError) });
            }
        }
        let connecting = self.inner.call(uri);
        let limit = self.connect_timeout;
        Box::pin(async move {
            match limit {
                Some(limit) => match tokio::time::timeout(limit, connecting).await {
                    Ok(result) => result.map_err(Into::into),
                    Err(_) => Err(Box::new(ConnectTimeout) as BoxError),
                },
                None => connecting.await.map_err(Into::into),
            }
        })
    }
}

fn literal_ip(uri: &Uri) -> Option<IpAddr> {
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}
