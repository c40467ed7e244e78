//! An XML response decoded into JSON, and JSON encoded into an XML request body.
//!
//! A local server answers a catalog in XML. The client fetches it, and `decode` turns it
//! into a `serde_json::Value` by its `Content-Type`: attributes become `"@name"` keys,
//! text beside attributes `"#text"`, an element with text only a plain string, and the
//! repeated `<book>` elements an array. XML has no types, so every scalar comes back a
//! string. `encode` goes the other way: the decoded value encodes back to an equivalent
//! document (decoding it again gives the same value), and a new JSON order is encoded as
//! `application/xml` and POSTed to the server, which checks the document it receives.
//!
//! Run with `cargo run -p flunq-examples --example decode_xml_response`.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use flunq_http_client::{Client, EgressPolicy, HeaderValue, Method, Request};
use flunq_transform::{ResponseFormat, decode, encode};
use http_body_util::{BodyExt, Full};
use hyper::Response;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ServerBuilder;
use serde_json::json;
use tokio::net::TcpListener;

const CATALOG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a catalog, as a legacy upstream might serve it -->
<catalog updated="2024-05-01">
  <book id="b1" lang="en">
    <title>The Rust Programming Language</title>
    <price currency="USD">39.95</price>
  </book>
  <book id="b2">
    <title>Rust for Rustaceans</title>
    <price currency="EUR">42.00</price>
  </book>
  <note>Prices include VAT &amp; shipping</note>
</catalog>"#;

const EXPECTED_ORDER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
    <order id=\"o-7\"><book>b1</book><book>b2</book><quantity>2</quantity></order>";

/// `GET /catalog` answers the catalog; `POST /orders` answers 201 to the expected order.
async fn handle(req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let reply = |status: u16, content_type: &str, body: Bytes| {
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(Full::new(body))
            .expect("a valid response")
    };
    match (req.method().as_str(), req.uri().path()) {
        ("GET", "/catalog") => reply(
            200,
            "application/xml; charset=utf-8",
            Bytes::from_static(CATALOG.as_bytes()),
        ),
        ("POST", "/orders") => {
            let is_xml = req
                .headers()
                .get("content-type")
                .is_some_and(|v| v == "application/xml");
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            match body {
                Ok(body) if is_xml && body == EXPECTED_ORDER.as_bytes() => {
                    reply(201, "text/plain", Bytes::from_static(b"order accepted"))
                }
                _ => reply(400, "text/plain", Bytes::from_static(b"unexpected order")),
            }
        }
        _ => reply(404, "text/plain", Bytes::new()),
    }
}

async fn start_server() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(|req| async move { Ok::<_, Infallible>(handle(req).await) });
            tokio::spawn(async move {
                let _ = ServerBuilder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = start_server().await?;
    let client = Client::builder()
        .egress_policy(EgressPolicy::from_allowlist("127.0.0.0/8")?)
        .dial_filter(|addr| addr.ip().is_loopback())
        .build()?;

    // Fetch and decode by the response's Content-Type.
    let response = client
        .execute(Request::get(&format!("http://{addr}/catalog"))?)
        .await?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    println!("GET /catalog: {} ({content_type:?})", response.status());
    let catalog = decode(response.body(), content_type, ResponseFormat::Auto)?;
    println!("decoded:\n{}", serde_json::to_string_pretty(&catalog)?);
    assert_eq!(
        catalog,
        json!({"catalog": {
            "@updated": "2024-05-01",
            "book": [
                {"@id": "b1", "@lang": "en",
                 "title": "The Rust Programming Language",
                 "price": {"@currency": "USD", "#text": "39.95"}},
                {"@id": "b2",
                 "title": "Rust for Rustaceans",
                 "price": {"@currency": "EUR", "#text": "42.00"}},
            ],
            "note": "Prices include VAT & shipping",
        }})
    );
    let titles: Vec<&str> = catalog["catalog"]["book"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|book| book["title"].as_str())
        .collect();
    println!("titles: {titles:?}");

    // The decoded value encodes back to an equivalent document.
    let encoded = encode(&catalog, "application/xml")?;
    println!(
        "encoded back ({}):\n{}",
        encoded.content_type,
        String::from_utf8_lossy(&encoded.bytes)
    );
    let again = decode(&encoded.bytes, Some("application/xml"), ResponseFormat::Xml)?;
    assert_eq!(again, catalog);

    // A JSON order, sent as XML.
    let order = json!({"order": {"@id": "o-7", "book": ["b1", "b2"], "quantity": 2}});
    let body = encode(&order, "application/xml")?;
    println!("POST /orders with {}", String::from_utf8_lossy(&body.bytes));
    assert_eq!(body.bytes, EXPECTED_ORDER.as_bytes());
    let mut request =
        Request::parse(Method::POST, &format!("http://{addr}/orders"))?.body(body.bytes);
    request
        .headers_mut()
        .insert("content-type", HeaderValue::from_str(&body.content_type)?);
    let response = client.execute(request).await?;
    println!(
        "POST /orders: {} {}",
        response.status(),
        String::from_utf8_lossy(response.body())
    );
    assert_eq!(response.status(), 201);
    Ok(())
}
