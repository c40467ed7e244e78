//! TLS against real local servers with certificates made in the test: extra roots,
//! HTTP/2 by ALPN, mutual TLS, and the accept-invalid switch.

mod support;

use flunq_http_client::{Client, Request, Version};
use support::{TestPki, loopback_client, serve_tls, text};

fn https(port: u16) -> String {
    format!("https://localhost:{port}/")
}

#[tokio::test]
async fn trusts_an_extra_root_and_negotiates_http2() {
    let pki = TestPki::new();
    let addr = serve_tls(
        &pki,
        None,
        |req: hyper::Request<hyper::body::Incoming>| async move {
            text(200, format!("{:?}", req.version()))
        },
    )
    .await;
    let client =
        loopback_client(Client::builder().add_root_certificates_pem(pki.ca_pem.as_bytes()));
    let response = client
        .execute(Request::get(&https(addr.port())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(response.body().as_ref(), b"HTTP/2.0");
}

#[tokio::test]
async fn http1_only_when_http2_is_off() {
    let pki = TestPki::new();
    let addr = serve_tls(&pki, None, |_req| async { text(200, "h1") }).await;
    let client = loopback_client(
        Client::builder()
            .add_root_certificates_pem(pki.ca_pem.as_bytes())
            .http2(false),
    );
    let response = client
        .execute(Request::get(&https(addr.port())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.version(), Version::HTTP_11);
}

#[tokio::test]
async fn unknown_certificate_is_a_tls_error() {
    let pki = TestPki::new();
    let addr = serve_tls(&pki, None, |_req| async { text(200, "secret") }).await;
    let client = loopback_client(Client::builder());
    let err = client
        .execute(Request::get(&https(addr.port())).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_tls(), "{err:?}");
    assert!(
        err.is_connect(),
        "a failed handshake never reached the upstream"
    );
}

#[tokio::test]
async fn accept_invalid_certs_connects_to_a_self_signed_server() {
    let pki = TestPki::new();
    let addr = serve_tls(&pki, None, |_req| async { text(200, "dev") }).await;
    let client = loopback_client(Client::builder().danger_accept_invalid_certs(true));
    let response = client
        .execute(Request::get(&https(addr.port())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.body().as_ref(), b"dev");
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let pki = TestPki::new();
    let addr = serve_tls(&pki, Some(&pki.ca_pem), |_req| async { text(200, "mtls") }).await;

    let without =
        loopback_client(Client::builder().add_root_certificates_pem(pki.ca_pem.as_bytes()));
    let err = without
        .execute(Request::get(&https(addr.port())).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");

    let (chain, key) = pki.client_identity();
    let with = loopback_client(
        Client::builder()
            .add_root_certificates_pem(pki.ca_pem.as_bytes())
            .identity_pem(chain.as_bytes(), key.as_bytes()),
    );
    let response = with
        .execute(Request::get(&https(addr.port())).unwrap())
        .await
        .unwrap();
    assert_eq!(response.body().as_ref(), b"mtls");
}

#[test]
fn bad_pem_fails_the_build() {
    let err = Client::builder()
        .add_root_certificates_pem(b"not a certificate")
        .build()
        .unwrap_err();
    assert!(err.is_builder());
}
