//! The egress policy, through the classifier and through a real client whose dialer
//! refuses anything but loopback. Only loopback spellings are ever dialed for real.

mod support;

use std::net::IpAddr;

use flunq_http_client::{AddressClass, Client, EgressPolicy, Request, Url, egress::classify};
use support::{guarded_default_client, loopback_client, serve, text};

/// The URLs the default policy must deny (the I/O issue's list).
const DENIED: &[&str] = &[
    "http://127.0.0.1/",
    "http://localhost/",
    "http://LOCALHOST./",
    "http://2130706433/",
    "http://0x7f000001/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://0/",
    "http://0.0.0.0/",
    "http://[::]/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://169.254.169.254/",
    "http://[fe80::1]/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://100.64.0.1/",
    "http://[fd00::1]/",
    "http://198.18.0.1/",
    "http://240.0.0.1/",
    "http://224.0.0.1/",
    "http://evil.example@127.0.0.1/",
];

#[test]
fn default_policy_denies_every_listed_url() {
    let policy = EgressPolicy::default();
    for raw in DENIED {
        let url = Url::parse(raw).unwrap();
        assert!(policy.check_url(&url).is_err(), "{raw} must be denied");
    }
}

#[test]
fn listed_addresses_are_not_global() {
    for raw in DENIED {
        let url = Url::parse(raw).unwrap();
        let Some(host) = url.host() else {
            panic!("{raw} has a host")
        };
        let ip: Option<IpAddr> = match host {
            url::Host::Ipv4(v4) => Some(v4.into()),
            url::Host::Ipv6(v6) => Some(v6.into()),
            url::Host::Domain(_) => None,
        };
        if let Some(ip) = ip {
            assert_ne!(classify(ip), AddressClass::Global, "{raw}");
        }
    }
}

#[tokio::test]
async fn client_refuses_every_listed_url_without_dialing() {
    let client = guarded_default_client();
    for raw in DENIED {
        let err = client
            .execute(Request::get(raw).unwrap())
            .await
            .unwrap_err();
        assert!(err.is_egress_denied(), "{raw}: {err:?}");
    }
}

#[tokio::test]
async fn other_schemes_are_refused() {
    let client = guarded_default_client();
    for raw in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:70/",
        "ftp://127.0.0.1/",
    ] {
        let err = client
            .execute(Request::get(raw).unwrap())
            .await
            .unwrap_err();
        assert!(err.is_egress_denied(), "{raw}: {err:?}");
        assert!(
            err.to_string().contains("scheme") || err.source_text().contains("scheme"),
            "{raw}"
        );
    }
}

#[tokio::test]
async fn denial_says_nothing_about_the_destination() {
    let client = guarded_default_client();
    let err = client
        .execute(Request::get("http://10.0.0.1/admin").unwrap())
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("denied"), "{shown}");
    for leak in ["private", "rfc1918", "refused", "unreachable"] {
        assert!(!shown.to_lowercase().contains(leak), "{shown}");
    }
}

#[tokio::test]
async fn allowlist_opens_a_local_server() {
    let addr = serve(|_req| async { text(200, "hello") }).await;
    let client = loopback_client(Client::builder());
    let response = client
        .execute(Request::get(&format!("http://{addr}/")).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), b"hello");

    // The same server under the default policy: denied.
    let denied = guarded_default_client()
        .execute(Request::get(&format!("http://{addr}/")).unwrap())
        .await
        .unwrap_err();
    assert!(denied.is_egress_denied());
}

#[tokio::test]
async fn allowlisted_host_name_is_checked_by_name() {
    let addr = serve(|_req| async { text(200, "by name") }).await;
    let client = Client::builder()
        .egress_policy(EgressPolicy::from_allowlist("localhost").unwrap())
        .dial_filter(|a| a.ip().is_loopback())
        .build()
        .unwrap();
    let url = format!("http://localhost:{}/", addr.port());
    let response = client.execute(Request::get(&url).unwrap()).await.unwrap();
    assert_eq!(response.body().as_ref(), b"by name");
    // The name is open, the address literal is not.
    let err = client
        .execute(Request::get(&format!("http://{addr}/")).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_egress_denied());
}

#[tokio::test]
async fn allow_private_opens_loopback_but_never_link_local() {
    let addr = serve(|_req| async { text(200, "private ok") }).await;
    let client = Client::builder()
        .egress_policy(EgressPolicy::default().allow_private_networks(true))
        .dial_filter(|a| a.ip().is_loopback())
        .build()
        .unwrap();
    let ok = client
        .execute(Request::get(&format!("http://{addr}/")).unwrap())
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    for raw in [
        "http://169.254.169.254/",
        "http://[fe80::1]/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
    ] {
        let err = client
            .execute(Request::get(raw).unwrap())
            .await
            .unwrap_err();
        assert!(err.is_egress_denied(), "{raw}");
    }
}

#[tokio::test]
async fn dial_filter_refuses_what_the_policy_opens() {
    // Policy opens everything private, but the dial filter allows nothing: the call
    // fails before any packet is sent.
    let addr = serve(|_req| async { text(200, "unreachable") }).await;
    let client = Client::builder()
        .egress_policy(EgressPolicy::default().allow_private_networks(true))
        .dial_filter(|_| false)
        .build()
        .unwrap();
    let err = client
        .execute(Request::get(&format!("http://{addr}/")).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_egress_denied(), "{err:?}");
}

#[test]
fn allowlist_rejects_garbage() {
    assert!(EgressPolicy::from_allowlist("10.0.0.0/8, not a host!").is_err());
    assert!(EgressPolicy::from_allowlist("10.0.0.0/33").is_err());
    assert!(EgressPolicy::from_allowlist(" , ").is_ok());
}

trait SourceText {
    fn source_text(&self) -> String;
}

impl SourceText for flunq_http_client::Error {
    fn source_text(&self) -> String {
        std::error::Error::source(self)
            .map(|s| s.to_string())
            .unwrap_or_default()
    }
}
