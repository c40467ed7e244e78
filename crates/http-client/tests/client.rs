//! The client against real local servers: bodies, limits, compression, timeouts,
//! broken connections, redirects.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use flunq_http_client::{Client, HeaderValue, Method, Request, TraceContext, add_traceparent};
use http_body_util::{BodyExt, Full};
use hyper::Response;
use support::{gzip, loopback_client, redirect, serve, serve_raw, text, write_raw, zlib};

fn url(addr: std::net::SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

#[tokio::test]
async fn echoes_method_headers_and_body() {
    let addr = serve(|req: hyper::Request<hyper::body::Incoming>| async move {
        let method = req.method().to_string();
        let agent = req
            .headers()
            .get("user-agent")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        text(
            201,
            format!("{method} {agent} {}", String::from_utf8_lossy(&body)),
        )
    })
    .await;
    let client = loopback_client(Client::builder());
    let response = client
        .execute(
            Request::parse(Method::PUT, &url(addr, "/x"))
                .unwrap()
                .body("payload"),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body = String::from_utf8(response.body().to_vec()).unwrap();
    assert!(body.starts_with("PUT flunq-http-client/"), "{body}");
    assert!(body.ends_with(" payload"), "{body}");
}

#[tokio::test]
async fn gzip_and_deflate_bodies_are_decoded() {
    let addr = serve(|req: hyper::Request<hyper::body::Incoming>| async move {
        let accepts = req.headers().get("accept-encoding").cloned();
        let (coding, data) = match req.uri().path() {
            "/gzip" => ("gzip", gzip(b"{\"ok\":true}")),
            _ => ("deflate", zlib(b"{\"ok\":true}")),
        };
        assert!(accepts.unwrap().to_str().unwrap().contains(coding));
        Response::builder()
            .header("content-encoding", coding)
            .body(Full::new(Bytes::from(data)))
            .unwrap()
    })
    .await;
    let client = loopback_client(Client::builder());
    for path in ["/gzip", "/deflate"] {
        let response = client
            .execute(Request::get(&url(addr, path)).unwrap())
            .await
            .unwrap();
        assert_eq!(response.body().as_ref(), b"{\"ok\":true}", "{path}");
        assert!(response.headers().get("content-encoding").is_none());
    }
}

#[tokio::test]
async fn gzip_bomb_fails_as_too_large_not_out_of_memory() {
    // 64 MiB of zeros gzip to about 64 KiB; the limit is 1 MiB of decoded bytes.
    let bomb = Bytes::from(gzip(&vec![0u8; 64 * 1024 * 1024]));
    assert!(bomb.len() < 200 * 1024);
    let addr = serve(move |_req| {
        let bomb = bomb.clone();
        async move {
            Response::builder()
                .header("content-encoding", "gzip")
                .body(Full::new(bomb))
                .unwrap()
        }
    })
    .await;
    let client = loopback_client(Client::builder().max_response_bytes(1024 * 1024));
    let err = client
        .execute(Request::get(&url(addr, "/")).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_body_too_large(), "{err:?}");
}

#[tokio::test]
async fn plain_body_over_the_limit_fails() {
    let addr = serve(|_req| async { text(200, vec![b'x'; 4096]) }).await;
    let client = loopback_client(Client::builder());
    let err = client
        .execute(
            Request::get(&url(addr, "/"))
                .unwrap()
                .max_response_bytes(4095),
        )
        .await
        .unwrap_err();
    assert!(err.is_body_too_large());
    let ok = client
        .execute(
            Request::get(&url(addr, "/"))
                .unwrap()
                .max_response_bytes(4096),
        )
        .await
        .unwrap();
    assert_eq!(ok.body().len(), 4096);
}

#[tokio::test]
async fn chunked_body_over_the_limit_fails() {
    let addr = serve_raw(|mut stream| async move {
        write_raw(
            &mut stream,
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
        )
        .await;
        for _ in 0..64 {
            write_raw(&mut stream, b"400\r\n").await;
            write_raw(&mut stream, &[b'y'; 1024]).await;
            write_raw(&mut stream, b"\r\n").await;
        }
        write_raw(&mut stream, b"0\r\n\r\n").await;
    })
    .await;
    let client = loopback_client(Client::builder().max_response_bytes(10 * 1024));
    let err = client
        .execute(Request::get(&url(addr, "/")).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_body_too_large(), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn slow_headers_time_out() {
    let addr = serve(|_req| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        text(200, "late")
    })
    .await;
    let client = loopback_client(Client::builder().request_timeout(Duration::from_secs(2)));
    let started = tokio::time::Instant::now();
    let err = client
        .execute(Request::get(&url(addr, "/")).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn slow_body_times_out() {
    let addr = serve_raw(|mut stream| async move {
        write_raw(
            &mut stream,
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst bytes",
        )
        .await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        write_raw(&mut stream, &[b'z'; 89]).await;
    })
    .await;
    let client = loopback_client(Client::builder());
    let err = client
        .execute(
            Request::get(&url(addr, "/"))
                .unwrap()
                .timeout(Duration::from_secs(1)),
        )
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn reset_mid_body_is_a_request_error() {
    let addr = serve_raw(|mut stream| async move {
        write_raw(
            &mut stream,
            b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly this much",
        )
        .await;
        let _ = stream.set_zero_linger();
        drop(stream);
    })
    .await;
    let client = loopback_client(Client::builder());
    let err = client
        .execute(Request::get(&url(addr, "/")).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_request(), "{err:?}");
    assert!(!err.is_timeout() && !err.is_connect());
}

#[tokio::test]
async fn connection_refused_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = loopback_client(Client::builder());
    let err = client
        .execute(Request::get(&url(addr, "/")).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
}

#[tokio::test]
async fn follows_a_redirect_chain() {
    let addr = serve(|req: hyper::Request<hyper::body::Incoming>| async move {
        match req.uri().path() {
            "/a" => redirect(301, "/b"),
            "/b" => redirect(302, "/c"),
            "/c" => redirect(307, "/end"),
            _ => text(200, "arrived"),
        }
    })
    .await;
    let client = loopback_client(Client::builder());
    let response = client
        .execute(Request::get(&url(addr, "/a")).unwrap())
        .await
        .unwrap();
    assert_eq!(response.body().as_ref(), b"arrived");
    assert_eq!(response.redirects(), 3);
    assert_eq!(response.url().path(), "/end");
}

#[tokio::test]
async fn redirect_loop_hits_the_limit() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let addr = serve(move |req: hyper::Request<hyper::body::Incoming>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            match req.uri().path() {
                "/ping" => redirect(302, "/pong"),
                _ => redirect(302, "/ping"),
            }
        }
    })
    .await;
    let client = loopback_client(Client::builder());
    let err = client
        .execute(Request::get(&url(addr, "/ping")).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_redirect_limit(), "{err:?}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        11,
        "the first request and 10 redirects"
    );
}

#[tokio::test]
async fn redirect_limit_is_configurable_and_zero_returns_the_redirect() {
    let addr = serve(|req: hyper::Request<hyper::body::Incoming>| async move {
        match req.uri().path() {
            "/1" => redirect(302, "/2"),
            "/2" => redirect(302, "/3"),
            _ => text(200, "three"),
        }
    })
    .await;
    let limited = loopback_client(Client::builder().redirect_limit(1));
    assert!(
        limited
            .execute(Request::get(&url(addr, "/1")).unwrap())
            .await
            .unwrap_err()
            .is_redirect_limit()
    );
    let raw = loopback_client(Client::builder());
    let response = raw
        .execute(
            Request::get(&url(addr, "/1"))
                .unwrap()
                .follow_redirects(false),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
}

#[tokio::test]
async fn see_other_turns_post_into_get_without_body() {
    let addr = serve(|req: hyper::Request<hyper::body::Incoming>| async move {
        if req.uri().path() == "/submit" {
            return redirect(303, "/result");
        }
        let method = req.method().to_string();
        let has_type = req.headers().contains_key("content-type");
        let body = req.into_body().collect().await.unwrap().to_bytes();
        text(200, format!("{method} type={has_type} body={}", body.len()))
    })
    .await;
    let client = loopback_client(Client::builder());
    let response = client
        .execute(
            Request::parse(Method::POST, &url(addr, "/submit"))
                .unwrap()
                .header(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
                .body("{}"),
        )
        .await
        .unwrap();
    assert_eq!(response.body().as_ref(), b"GET type=false body=0");
}

#[tokio::test]
async fn cross_origin_hop_drops_credentials() {
    let seen = |req: &hyper::Request<hyper::body::Incoming>| {
        format!(
            "auth={} cookie={} key={} marked={} other={}",
            req.headers().contains_key("authorization"),
            req.headers().contains_key("cookie"),
            req.headers().contains_key("x-api-key"),
            req.headers().get_all("x-tenant").iter().count(),
            req.headers().contains_key("x-trace-me"),
        )
    };
    let target = serve(move |req| {
        let shown = seen(&req);
        async move { text(200, shown) }
    })
    .await;
    // Same host, another port: another origin.
    let other_origin = format!("http://127.0.0.1:{}/landing", target.port());
    let origin = serve(move |req: hyper::Request<hyper::body::Incoming>| {
        let other_origin = other_origin.clone();
        let shown = seen(&req);
        async move {
            match req.uri().path() {
                "/same" => redirect(302, "/here"),
                "/cross" => redirect(302, &other_origin),
                _ => text(200, shown),
            }
        }
    })
    .await;
    // A header the caller marked sensitive although its name says nothing.
    let mut marked = HeaderValue::from_static("canary-tenant");
    marked.set_sensitive(true);
    let client = loopback_client(Client::builder());
    let request = |path: &str| {
        Request::get(&url(origin, path))
            .unwrap()
            .header(
                http::header::AUTHORIZATION,
                HeaderValue::from_static("Bearer canary"),
            )
            .header(
                http::header::COOKIE,
                HeaderValue::from_static("session=canary"),
            )
            .header(
                http::HeaderName::from_static("x-api-key"),
                HeaderValue::from_static("canary-key"),
            )
            .header(http::HeaderName::from_static("x-tenant"), marked.clone())
            .header(
                http::HeaderName::from_static("x-tenant"),
                HeaderValue::from_static("plain"),
            )
            .header(
                http::HeaderName::from_static("x-trace-me"),
                HeaderValue::from_static("1"),
            )
    };
    let same = client.execute(request("/same")).await.unwrap();
    assert_eq!(
        same.body().as_ref(),
        b"auth=true cookie=true key=true marked=2 other=true"
    );
    let cross = client.execute(request("/cross")).await.unwrap();
    // Only the plain value of x-tenant travels on.
    assert_eq!(
        cross.body().as_ref(),
        b"auth=false cookie=false key=false marked=1 other=true"
    );
}

#[tokio::test]
async fn every_hop_passes_the_egress_policy() {
    let addr = serve(|_req| async { redirect(302, "http://10.0.0.1/internal") }).await;
    let client = loopback_client(Client::builder());
    let err = client
        .execute(Request::get(&url(addr, "/")).unwrap())
        .await
        .unwrap_err();
    assert!(err.is_egress_denied(), "{err:?}");
    assert_eq!(
        err.redirects(),
        1,
        "the first request was sent and answered"
    );
    // Denied at the first hop: nothing was sent.
    let first = client
        .execute(Request::get("http://10.0.0.2/").unwrap())
        .await
        .unwrap_err();
    assert!(first.is_egress_denied(), "{first:?}");
    assert_eq!(first.redirects(), 0);
}

#[tokio::test]
async fn traceparent_reaches_the_server() {
    let addr = serve(|req: hyper::Request<hyper::body::Incoming>| async move {
        let value = req
            .headers()
            .get("traceparent")
            .map(|v| v.to_str().unwrap().to_owned());
        text(200, value.unwrap_or_default())
    })
    .await;
    let client = loopback_client(Client::builder());
    let mut request = Request::get(&url(addr, "/")).unwrap();
    let sent = add_traceparent(request.headers_mut(), None);
    let response = client.execute(request).await.unwrap();
    let received = TraceContext::parse(std::str::from_utf8(response.body()).unwrap()).unwrap();
    assert_eq!(received, sent);
}

#[tokio::test]
async fn debug_of_a_request_hides_credentials() {
    let request = Request::get("https://api.example.com/")
        .unwrap()
        .header(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer canary-token"),
        )
        .header(
            http::HeaderName::from_static("x-api-key"),
            HeaderValue::from_static("canary-key"),
        );
    let shown = format!("{request:?}");
    assert!(!shown.contains("canary"), "{shown}");
}

#[tokio::test]
async fn userinfo_becomes_basic_credentials() {
    let addr = serve(|req: hyper::Request<hyper::body::Incoming>| async move {
        let auth = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        text(200, auth.unwrap_or_default())
    })
    .await;
    let client = loopback_client(Client::builder());
    let response = client
        .execute(Request::get(&format!("http://user:p%40ss@{addr}/")).unwrap())
        .await
        .unwrap();
    // base64("user:p@ss")
    assert_eq!(response.body().as_ref(), b"Basic dXNlcjpwQHNz");
}

#[tokio::test]
async fn connect_errors_say_why() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = loopback_client(Client::builder());
    let err = client
        .execute(Request::get(&url(addr, "/")).unwrap())
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(shown.to_lowercase().contains("refused"), "{shown}");
}
