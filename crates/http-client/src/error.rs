//! The client's error: opaque, with predicates, as hyper's is.

use std::error::Error as StdError;
use std::fmt;

use crate::egress::EgressDenied;

type BoxError = Box<dyn StdError + Send + Sync>;

/// What went wrong with a call. Ask with the `is_*` predicates; the message wording is
/// not part of the API. The message never contains a header value or a body.
pub struct Error {
    kind: Kind,
    url: Option<String>,
    redirects: usize,
    source: Option<BoxError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The request could not be built (bad URL, bad header).
    Builder,
    /// The egress policy refused the destination.
    EgressDenied,
    /// A connection could not be made (refused, DNS, unreachable).
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// The connect timeout or the whole-request timeout elapsed.
    Timeout,
    /// The response body grew past the limit (after decompression).
    BodyTooLarge,
    /// More redirects than the limit allows.
    RedirectLimit,
    /// A redirect without a usable `Location`.
    Redirect,
    /// The connection failed after it was made: reset, closed early, protocol error.
    Request,
    /// The response body could not be decoded (bad gzip, deflate or brotli data).
    Decode,
}

impl Error {
    pub(crate) fn new(kind: Kind) -> Self {
        Self {
            kind,
            url: None,
            redirects: 0,
            source: None,
        }
    }

    pub(crate) fn after_redirects(mut self, redirects: usize) -> Self {
        self.redirects = redirects;
        self
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub(crate) fn with_url(mut self, url: &url::Url) -> Self {
        self.url = Some(redacted_url(url));
        self
    }

    /// The error came from the egress policy: the destination is not allowed.
    pub fn is_egress_denied(&self) -> bool {
        self.kind == Kind::EgressDenied
    }

    /// A timeout elapsed: connect, or the whole request (headers and body).
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// No connection could be made: refused, name not resolved, unreachable.
    /// The request cannot have reached the upstream.
    pub fn is_connect(&self) -> bool {
        matches!(self.kind, Kind::Connect | Kind::Tls)
    }

    /// The TLS handshake failed (certificate, protocol). Also [`is_connect`](Self::is_connect).
    pub fn is_tls(&self) -> bool {
        self.kind == Kind::Tls
    }

    /// The response body exceeded the size limit, counted after decompression.
    pub fn is_body_too_large(&self) -> bool {
        self.kind == Kind::BodyTooLarge
    }

    /// The redirect limit was reached.
    pub fn is_redirect_limit(&self) -> bool {
        self.kind == Kind::RedirectLimit
    }

    /// A redirect could not be followed (missing or invalid `Location`).
    pub fn is_redirect(&self) -> bool {
        matches!(self.kind, Kind::Redirect | Kind::RedirectLimit)
    }

    /// The request or URL was invalid before anything was sent.
    pub fn is_builder(&self) -> bool {
        self.kind == Kind::Builder
    }

    /// The connection broke after it was made (reset, closed mid-body, protocol error).
    pub fn is_request(&self) -> bool {
        self.kind == Kind::Request
    }

    /// The body's content encoding could not be decoded.
    pub fn is_decode(&self) -> bool {
        self.kind == Kind::Decode
    }

    /// How many redirects were followed before the call failed. More than 0 means an
    /// earlier request of the chain reached a server (and was answered with a redirect),
    /// whatever the error: a hop the egress policy refused, say, still sent the first.
    pub fn redirects(&self) -> usize {
        self.redirects
    }

    /// The URL of the request that failed, with any password and query removed.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("flunq_http_client::Error");
        d.field("kind", &self.kind);
        if let Some(url) = &self.url {
            d.field("url", url);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            Kind::Builder => "invalid request",
            Kind::EgressDenied => "call denied by the egress policy",
            Kind::Connect => "connection failed",
            Kind::Tls => "TLS handshake failed",
            Kind::Timeout => "request timed out",
            Kind::BodyTooLarge => "response body exceeds the size limit",
            Kind::RedirectLimit => "too many redirects",
            Kind::Redirect => "invalid redirect",
            Kind::Request => "request failed",
            Kind::Decode => "response body could not be decoded",
        };
        f.write_str(what)?;
        if let Some(url) = &self.url {
            write!(f, " ({url})")?;
        }
        // The egress error's own text is generic by design; other sources add detail.
        if self.kind != Kind::EgressDenied
            && let Some(source) = &self.source
        {
            // hyper-util's own text ("client error (Connect)") says little: show the
            // innermost cause ("Connection refused (os error 111)") instead.
            let source: &(dyn StdError + 'static) = source.as_ref();
            let mut root = source;
            while let Some(next) = next_in_chain(root) {
                root = next;
            }
            write!(f, ": {root}")?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl From<EgressDenied> for Error {
    fn from(denied: EgressDenied) -> Self {
        let kind = match denied {
            EgressDenied::Scheme(_) | EgressDenied::NoHost | EgressDenied::Destination => {
                Kind::EgressDenied
            }
        };
        Error::new(kind).with_source(denied)
    }
}

/// Classifies an error from hyper-util's client by walking its source chain.
pub(crate) fn from_hyper_util(err: hyper_util::client::legacy::Error) -> Error {
    if find_source::<EgressDenied>(&err).is_some() {
        return Error::new(Kind::EgressDenied).with_source(err);
    }
    if find_source::<ConnectTimeout>(&err).is_some() {
        return Error::new(Kind::Timeout).with_source(err);
    }
    if err.is_connect() {
        let kind = if find_source::<rustls::Error>(&err).is_some() {
            Kind::Tls
        } else {
            Kind::Connect
        };
        return Error::new(kind).with_source(err);
    }
    Error::new(Kind::Request).with_source(err)
}

/// Classifies an error met while reading a response body.
pub(crate) fn from_body(err: hyper::Error) -> Error {
    if err.is_timeout() {
        return Error::new(Kind::Timeout).with_source(err);
    }
    Error::new(Kind::Request).with_source(err)
}

/// Marker source for a connect that did not finish within the connect timeout.
#[derive(Debug, thiserror::Error)]
#[error("connect timed out")]
pub(crate) struct ConnectTimeout;

/// The next error in a chain. `io::Error::source` skips the error it wraps (it returns
/// that error's source), so an `io::Error` is stepped into through `get_ref` instead.
fn next_in_chain<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    match e.downcast_ref::<std::io::Error>() {
        Some(io) => match io.get_ref() {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => None,
        },
        None => e.source(),
    }
}

fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        cur = next_in_chain(e);
    }
    None
}

/// A URL fit for an error message: no userinfo, no query, no fragment.
pub(crate) fn redacted_url(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}
