//! An HTTP client for calling third-party APIs from a server: hyper and hyper-util's
//! pooled client underneath, rustls for TLS, and the guards a server needs when the
//! URLs come from its users.
//!
//! # What it adds to hyper-util
//!
//! - **Egress policy, checked where it counts.** [`EgressPolicy`] denies loopback,
//!   private, link-local (cloud metadata), CGNAT, multicast, unspecified, documentation,
//!   benchmarking and reserved ranges, and the IPv6 spellings that embed IPv4 (mapped,
//!   compatible, NAT64, 6to4, Teredo). The check runs on the *resolved socket address*,
//!   inside the connector, so the address checked is the address dialed and DNS
//!   rebinding cannot slip between them. hyper-util skips the resolver for IP literals,
//!   so literals are checked separately. URLs are parsed with the `url` crate, which
//!   reads decimal, hex, octal and short IPv4 the way resolvers do (`http://2130706433/`
//!   is `127.0.0.1`). An allowlist of CIDRs and host names opens targets.
//! - **Timeouts**: connect (DNS, TCP and TLS together), and the whole request, redirects,
//!   headers and body included. `TCP_NODELAY` is on.
//! - **A body limit that counts decoded bytes.** The body is read as a stream and gzip,
//!   deflate and br are decoded as it arrives; a decompression bomb fails with
//!   [`Error::is_body_too_large`] after at most the limit, never an out-of-memory.
//! - **Redirects** up to a limit (default 10): 303 (and 301/302 after a POST) becomes
//!   GET, 307/308 keep method and body, credentials are dropped when the origin changes
//!   (`Authorization`, `Cookie`, `Proxy-Authorization`, and every header marked
//!   sensitive: those whose name mentions a key, token, secret, password, signature or
//!   auth, and any the caller marked), and every hop passes the egress policy again.
//! - **TLS**: the Mozilla roots by default, extra CA certificates, a client certificate
//!   for mutual TLS, and an explicit [`ClientBuilder::danger_accept_invalid_certs`] for
//!   development. HTTP/2 is negotiated by ALPN.
//! - **An opaque error with predicates** (`is_timeout`, `is_connect`, `is_tls`,
//!   `is_egress_denied`, `is_body_too_large`, `is_redirect_limit`), as hyper does: the
//!   wording is not API, and a denied call says nothing about what lies behind the
//!   address.
//! - Credential headers marked sensitive so `Debug` hides them, and a W3C
//!   [`traceparent`](TraceContext) helper.
//!
//! # Example
//!
//! ```
//! use flunq_http_client::{Client, EgressPolicy, Request};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), flunq_http_client::Error> {
//! let client = Client::builder()
//!     .egress_policy(EgressPolicy::default())
//!     .max_response_bytes(1024 * 1024)
//!     .build()?;
//!
//! // The default policy refuses loopback in every spelling, before anything is dialed.
//! for url in ["http://127.0.0.1/", "http://2130706433/", "http://[::ffff:127.0.0.1]/"] {
//!     let err = client.execute(Request::get(url)?).await.unwrap_err();
//!     assert!(err.is_egress_denied());
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Compared with reqwest
//!
//! reqwest has more (cookies, proxies, multipart, a blocking client, HTTP/3) and no
//! egress policy: a server that forwards user URLs through reqwest must build the
//! resolver filter and the literal check itself, and reqwest's decompression has no
//! limit on the decoded size. This client reads whole bodies into memory (bounded): it is
//! meant for API calls, not for streaming downloads.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod body;
mod client;
mod connect;
pub mod egress;
mod error;
mod headers;
mod redirect;
mod tls;

pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_POOL_IDLE_TIMEOUT, DEFAULT_REDIRECT_LIMIT, DEFAULT_REQUEST_TIMEOUT, Request, Response,
};
pub use connect::DialFilter;
pub use egress::{AddressClass, EgressDenied, EgressPolicy, HostVerdict};
pub use error::Error;
pub use headers::{
    TRACEPARENT, TraceContext, add_traceparent, basic_auth, is_credential_header, mark_sensitive,
};

pub use bytes::Bytes;
pub use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
pub use url::Url;
