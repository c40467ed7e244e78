//! The client, its builder, and the request and response it speaks.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, HOST, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use url::Url;

use crate::body;
use crate::connect::{DialFilter, Guard, GuardedConnector, GuardedResolver};
use crate::egress::EgressPolicy;
use crate::error::{self, Error, Kind};
use crate::headers::mark_sensitive;
use crate::redirect;
use crate::tls::{self, TlsOptions};

type Connector = GuardedConnector<HttpsConnector<HttpConnector<GuardedResolver>>>;

/// Default limit of one whole request, headers and body.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default limit of one connect: DNS, TCP and TLS.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time an idle pooled connection is kept.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Default limit of a response body, after decompression (10 MiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;
/// Default number of redirects followed.
pub const DEFAULT_REDIRECT_LIMIT: usize = 10;

/// An HTTP/1.1 and HTTP/2 client with a connection pool, timeouts, a response size
/// limit, decompression, redirects and an egress policy. Cheap to clone: clones share
/// the pool.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    hyper: HyperClient<Connector, Full<Bytes>>,
    policy: EgressPolicy,
    request_timeout: Duration,
    max_response_bytes: usize,
    redirect_limit: usize,
    decompress: bool,
    user_agent: Option<HeaderValue>,
}

/// Builds a [`Client`].
#[must_use]
pub struct ClientBuilder {
    policy: EgressPolicy,
    dial_filter: Option<DialFilter>,
    connect_timeout: Duration,
    request_timeout: Duration,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    max_response_bytes: usize,
    redirect_limit: usize,
    decompress: bool,
    http2: bool,
    user_agent: Option<HeaderValue>,
    tls: TlsOptions,
    error: Option<Error>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("policy", &self.policy)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("redirect_limit", &self.redirect_limit)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            policy: EgressPolicy::default(),
            dial_filter: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            pool_max_idle_per_host: 32,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            redirect_limit: DEFAULT_REDIRECT_LIMIT,
            decompress: true,
            http2: true,
            user_agent: Some(HeaderValue::from_static(concat!(
                "flunq-http-client/",
                env!("CARGO_PKG_VERSION")
            ))),
            tls: TlsOptions::default(),
            error: None,
        }
    }
}

impl ClientBuilder {
    /// The egress policy every hop and every dialed address must pass.
    pub fn egress_policy(mut self, policy: EgressPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// A last check on every socket address before it is dialed, after the policy.
    /// Tests use it to make sure nothing beyond loopback is ever dialed.
    pub fn dial_filter(
        mut self,
        filter: impl Fn(std::net::SocketAddr) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.dial_filter = Some(Arc::new(filter));
        self
    }

    /// Limit of one connect: DNS, TCP and the TLS handshake. Default 10 s.
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit;
        self
    }

    /// Limit of a whole request, redirects, headers and body included. Default 30 s.
    pub fn request_timeout(mut self, limit: Duration) -> Self {
        self.request_timeout = limit;
        self
    }

    /// How long an idle pooled connection is kept. Default 90 s.
    pub fn pool_idle_timeout(mut self, idle: Duration) -> Self {
        self.pool_idle_timeout = idle;
        self
    }

    /// Idle connections kept per host. Default 32.
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// Limit of a response body, counted after decompression. Default 10 MiB.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Redirects followed before [`Error::is_redirect_limit`]. Default 10; 0 follows none
    /// and returns the redirect response itself.
    pub fn redirect_limit(mut self, limit: usize) -> Self {
        self.redirect_limit = limit;
        self
    }

    /// Whether to ask for and decode gzip, deflate and br bodies. Default on.
    pub fn decompress(mut self, on: bool) -> Self {
        self.decompress = on;
        self
    }

    /// Whether to offer HTTP/2 by ALPN on TLS connections. Default on.
    pub fn http2(mut self, on: bool) -> Self {
        self.http2 = on;
        self
    }

    /// The `User-Agent` sent when a request has none; `None` sends none.
    pub fn user_agent(mut self, agent: Option<&str>) -> Self {
        match agent.map(HeaderValue::from_str).transpose() {
            Ok(value) => self.user_agent = value,
            Err(e) => self.error = Some(Error::new(Kind::Builder).with_source(e)),
        }
        self
    }

    /// Trusts the CA certificates of a PEM document, beside the default roots.
    pub fn add_root_certificates_pem(mut self, pem: &[u8]) -> Self {
        match tls::certificates_from_pem(pem) {
            Ok(certs) => self.tls.extra_roots.extend(certs),
            Err(e) => self.error = Some(e),
        }
        self
    }

    /// Trusts only the roots added with [`add_root_certificates_pem`](Self::add_root_certificates_pem).
    pub fn without_default_roots(mut self) -> Self {
        self.tls.no_default_roots = true;
        self
    }

    /// A client certificate chain and its private key (PEM), for mutual TLS.
    pub fn identity_pem(mut self, chain_pem: &[u8], key_pem: &[u8]) -> Self {
        match (
            tls::certificates_from_pem(chain_pem),
            tls::private_key_from_pem(key_pem),
        ) {
            (Ok(chain), Ok(key)) => self.tls.identity = Some((chain, key)),
            (Err(e), _) | (_, Err(e)) => self.error = Some(e),
        }
        self
    }

    /// Accepts any server certificate. For development against self-signed servers only:
    /// it removes the protection TLS gives against an attacker on the path.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls.accept_invalid_certs = accept;
        self
    }

    /// Builds the client. Fails when a PEM document or a header given to the builder
    /// was invalid.
    pub fn build(self) -> Result<Client, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let tls_config = tls::client_config(self.tls)?;
        let guard = Arc::new(Guard {
            policy: self.policy.clone(),
            dial_filter: self.dial_filter,
        });
        let mut http = HttpConnector::new_with_resolver(GuardedResolver::new(Arc::clone(&guard)));
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(self.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config)
            .https_or_http();
        let https = if self.http2 {
            https.enable_all_versions().wrap_connector(http)
        } else {
            https.enable_http1().wrap_connector(http)
        };
        let connector = GuardedConnector::new(https, guard, Some(self.connect_timeout));
        let hyper = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(self.pool_idle_timeout)
            .pool_max_idle_per_host(self.pool_max_idle_per_host)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Client {
            inner: Arc::new(Inner {
                hyper,
                policy: self.policy,
                request_timeout: self.request_timeout,
                max_response_bytes: self.max_response_bytes,
                redirect_limit: self.redirect_limit,
                decompress: self.decompress,
                user_agent: self.user_agent,
            }),
        })
    }
}

/// One request: method, URL, headers, body, and optional per-request limits.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Bytes,
    timeout: Option<Duration>,
    max_response_bytes: Option<usize>,
    follow_redirects: bool,
}

impl Request {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: None,
            max_response_bytes: None,
            follow_redirects: true,
        }
    }

    /// Parses the URL (WHATWG rules, as the egress policy expects) and builds a request.
    pub fn parse(method: Method, url: &str) -> Result<Self, Error> {
        let url = Url::parse(url).map_err(|e| Error::new(Kind::Builder).with_source(e))?;
        Ok(Self::new(method, url))
    }

    /// A `GET` of `url`.
    pub fn get(url: &str) -> Result<Self, Error> {
        Self::parse(Method::GET, url)
    }

    /// Adds a header. Credential headers are marked sensitive, so `Debug` hides them.
    pub fn header(mut self, name: HeaderName, mut value: HeaderValue) -> Self {
        if crate::headers::is_credential_header(&name) {
            value.set_sensitive(true);
        }
        self.headers.append(name, value);
        self
    }

    /// The headers, to read or change.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Overrides the client's whole-request timeout for this request.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Overrides the client's response size limit for this request.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = Some(limit);
        self
    }

    /// Whether to follow redirects (within the client's limit). Default true.
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL, to change (an API key sent as a query parameter, for instance).
    pub fn url_mut(&mut self) -> &mut Url {
        &mut self.url
    }
}

/// A response whose body has been read in full (decoded, within the limit).
#[derive(Debug, Clone)]
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    url: Url,
    body: Bytes,
    redirects: usize,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version the response came over.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The response headers (without `Content-Encoding` when the body was decoded).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL of the last hop.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The body, decoded.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Takes the body.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// How many redirects were followed to get here.
    pub fn redirects(&self) -> usize {
        self.redirects
    }
}

impl Client {
    /// A client with the default settings and the default (deny-private) egress policy.
    pub fn new() -> Result<Self, Error> {
        Self::builder().build()
    }

    /// A builder with the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The egress policy this client enforces.
    pub fn egress_policy(&self) -> &EgressPolicy {
        &self.inner.policy
    }

    /// Sends the request, follows redirects, and reads the body, all within the
    /// whole-request timeout. Dropping the future drops the connection's request at once.
    pub async fn execute(&self, request: Request) -> Result<Response, Error> {
        let limit = request.timeout.unwrap_or(self.inner.request_timeout);
        let url = request.url.clone();
        match tokio::time::timeout(limit, self.run(request)).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(Kind::Timeout).with_url(&url)),
        }
    }

    async fn run(&self, request: Request) -> Result<Response, Error> {
        let Request {
            mut method,
            mut url,
            mut headers,
            mut body,
            max_response_bytes,
            follow_redirects,
            ..
        } = request;
        let limit = max_response_bytes.unwrap_or(self.inner.max_response_bytes);
        mark_sensitive(&mut headers);
        let mut redirects = 0;
        let hops = async {
            loop {
                self.inner
                    .policy
                    .check_url(&url)
                    .map_err(|e| Error::from(e).with_url(&url))?;
                let outgoing = self.build_request(&method, &url, &headers, body.clone())?;
                let response = self
                    .inner
                    .hyper
                    .request(outgoing)
                    .await
                    .map_err(|e| error::from_hyper_util(e).with_url(&url))?;
                let status = response.status();
                if follow_redirects
                    && let Some(hop) =
                        redirect::next_hop(status, &method, &url, response.headers())?
                {
                    if redirects >= self.inner.redirect_limit {
                        return Err(Error::new(Kind::RedirectLimit).with_url(&url));
                    }
                    redirects += 1;
                    redirect::prepare_headers(&mut headers, &url, &hop.url, hop.keep_body);
                    if !hop.keep_body {
                        body = Bytes::new();
                    }
                    method = hop.method;
                    url = hop.url;
                    // The unread body of the redirect is dropped with `response`.
                    continue;
                }
                let (parts, incoming) = response.into_parts();
                let mut response_headers = parts.headers;
                let bytes = if method == Method::HEAD {
                    Bytes::new()
                } else {
                    body::read(
                        incoming,
                        &mut response_headers,
                        limit,
                        self.inner.decompress,
                    )
                    .await
                    .map_err(|e| e.with_url(&url))?
                };
                return Ok(Response {
                    status,
                    version: parts.version,
                    headers: response_headers,
                    url,
                    body: bytes,
                    redirects,
                });
            }
        };
        // The error says how far the chain got (an earlier hop reached a server).
        let outcome = hops.await;
        outcome.map_err(|e| e.after_redirects(redirects))
    }

    fn build_request(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<http::Request<Full<Bytes>>, Error> {
        let builder_error = |e: http::Error| Error::new(Kind::Builder).with_url(url).with_source(e);
        // Userinfo never goes on the wire in the URI: it becomes basic credentials.
        let userinfo = (!url.username().is_empty() || url.password().is_some())
            .then(|| (url.username().to_owned(), url.password().map(str::to_owned)));
        // Most URLs have neither userinfo nor fragment: only those are copied and changed.
        let stripped;
        let target = if userinfo.is_some() || url.fragment().is_some() {
            let mut copy = url.clone();
            let _ = copy.set_username("");
            let _ = copy.set_password(None);
            copy.set_fragment(None);
            stripped = copy;
            &stripped
        } else {
            url
        };
        let mut req = http::Request::builder()
            .method(method.clone())
            .uri(target.as_str())
            .body(Full::new(body))
            .map_err(builder_error)?;
        *req.headers_mut() = headers.clone();
        req.headers_mut().remove(HOST);
        if let Some((user, password)) = userinfo
            && !req.headers().contains_key(AUTHORIZATION)
        {
            let mut value = crate::headers::basic_auth(&user, password.as_deref());
            value.set_sensitive(true);
            req.headers_mut().insert(AUTHORIZATION, value);
        }
        if self.inner.decompress && !req.headers().contains_key(ACCEPT_ENCODING) {
            req.headers_mut().insert(
                ACCEPT_ENCODING,
                HeaderValue::from_static(body::ACCEPT_ENCODING),
            );
        }
        if let Some(agent) = &self.inner.user_agent
            && !req.headers().contains_key(USER_AGENT)
        {
            req.headers_mut().insert(USER_AGENT, agent.clone());
        }
        Ok(req)
    }
}
