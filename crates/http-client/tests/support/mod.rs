//! Real servers for the client's tests: hyper on 127.0.0.1:0, plain or TLS (certificates
//! made by flunq-testkit's `pki`), HTTP/1.1 and HTTP/2, and a raw TCP server for misbehaviour
//! that hyper would not produce (a reset mid-body, a body that stalls).

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use flunq_http_client::{Client, ClientBuilder, EgressPolicy};
use hyper::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ServerBuilder;
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub use flunq_testkit::Reply;
#[allow(unused_imports)] // used by some test binaries only
pub use flunq_testkit::redirect;

/// A client that may reach loopback (the test servers) and whose dialer refuses
/// anything that is not loopback, whatever the policy says: no test can send a packet
/// beyond this machine, even with a broken guard.
pub fn loopback_client(builder: ClientBuilder) -> Client {
    builder
        .egress_policy(EgressPolicy::from_allowlist("127.0.0.0/8, ::1/128, localhost").unwrap())
        .dial_filter(|addr| addr.ip().is_loopback())
        .build()
        .unwrap()
}

/// A client under the default (deny-private) policy, dialing loopback only.
pub fn guarded_default_client() -> Client {
    Client::builder()
        .dial_filter(|addr| addr.ip().is_loopback())
        .build()
        .unwrap()
}

/// Serves `handler` over plain HTTP (HTTP/1.1, and HTTP/2 with prior knowledge).
pub async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    flunq_testkit::serve(handler).await.unwrap()
}

pub use flunq_testkit::pki::TestPki;

/// Serves `handler` over TLS with ALPN `h2` and `http/1.1`. With `client_ca_pem`, the
/// server requires a client certificate signed by that CA.
pub async fn serve_tls<F, Fut>(pki: &TestPki, client_ca_pem: Option<&str>, handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match client_ca_pem {
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots.add(cert.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                Arc::new(rustls::crypto::ring::default_provider()),
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(
            vec![rustls::pki_types::CertificateDer::from(
                pki.server_cert_der.clone(),
            )],
            rustls::pki_types::PrivateKeyDer::try_from(pki.server_key_der.clone()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let handler = handler.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _ = ServerBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

/// A raw TCP server: reads the request head, then runs `script` on the stream.
pub async fn serve_raw<F, Fut>(script: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let script = script.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                script(stream).await;
            });
        }
    });
    addr
}

/// Writes raw bytes, ignoring errors (the peer may have gone).
pub async fn write_raw(stream: &mut TcpStream, bytes: &[u8]) {
    let _ = stream.write_all(bytes).await;
    let _ = stream.flush().await;
}

pub fn text(status: u16, body: impl Into<Bytes>) -> Reply {
    flunq_testkit::reply(status, "text/plain", body)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}
