//! A typed GraphQL query, sent through the flunq HTTP client.
//!
//! `#[derive(GraphQLQuery)]` (graphql_client) reads `graphql/schema.graphql` and
//! `graphql/query.graphql` at compile time and generates the module `user_repositories`:
//! a `Variables` struct for the query's variables and a `ResponseData` tree for exactly
//! the fields it selects. A query that names a field the schema lacks does not compile.
//! `UserRepositories::build_query(variables)` gives the request body (`query`,
//! `operationName`, `variables`), serialized with serde_json and POSTed with
//! `flunq_http_client::Request`; the reply is parsed into
//! `graphql_client::Response<ResponseData>`. A local server stands in for the GraphQL
//! API: it checks the operation name and variables it receives and answers canned JSON,
//! with a GraphQL error for an unknown user.
//!
//! Run with `cargo run -p flunq-examples --example graphql_typed_query`.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use flunq_http_client::{Client, EgressPolicy, HeaderValue, Method, Request};
use graphql_client::{GraphQLQuery, Response as GraphQLResponse};
use http_body_util::{BodyExt, Full};
use hyper::Response;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ServerBuilder;
use serde_json::{Value, json};
use tokio::net::TcpListener;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/schema.graphql",
    query_path = "graphql/query.graphql",
    response_derives = "Debug, PartialEq"
)]
struct UserRepositories;

use user_repositories::{Language, UserRepositoriesUserRepositories as Repository};

/// The GraphQL API's answer to one request body.
fn answer(request: &Value) -> (u16, Value) {
    if request["operationName"] != "UserRepositories" {
        return (400, json!({"errors": [{"message": "unknown operation"}]}));
    }
    let first = request["variables"]["first"].as_u64().unwrap_or(0);
    match request["variables"]["login"].as_str() {
        Some("ferris") if first == 2 => (
            200,
            json!({"data": {"user": {
                "login": "ferris",
                "name": "Ferris the Crab",
                "repositories": [
                    {"name": "flunq", "stars": 42, "language": "RUST"},
                    {"name": "claws", "stars": 7, "language": null},
                ],
            }}}),
        ),
        Some(login) => (
            200,
            json!({
                "data": {"user": null},
                "errors": [{"message": format!("no user `{login}` with {first} repositories"),
                            "path": ["user"]}],
            }),
        ),
        None => (
            400,
            json!({"errors": [{"message": "variable `login` is missing"}]}),
        ),
    }
}

async fn handle(req: hyper::Request<Incoming>) -> Response<Full<Bytes>> {
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (status, reply) = match serde_json::from_slice::<Value>(&body) {
        Ok(request) => {
            println!(
                "server: operation {} with variables {}",
                request["operationName"], request["variables"]
            );
            answer(&request)
        }
        Err(_) => (400, json!({"errors": [{"message": "body is not JSON"}]})),
    };
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(reply.to_string())))
        .expect("a valid response")
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

/// Builds the typed request body, POSTs it, and parses the typed reply.
async fn fetch_user(
    client: &Client,
    endpoint: &str,
    variables: user_repositories::Variables,
) -> Result<GraphQLResponse<user_repositories::ResponseData>, Box<dyn std::error::Error>> {
    let body = serde_json::to_vec(&UserRepositories::build_query(variables))?;
    println!("client: POST {endpoint} {}", String::from_utf8_lossy(&body));
    let mut request = Request::parse(Method::POST, endpoint)?.body(body);
    request
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    let response = client.execute(request).await?;
    assert_eq!(response.status(), 200);
    Ok(serde_json::from_slice(response.body())?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = start_server().await?;
    let endpoint = format!("http://{addr}/graphql");
    let client = Client::builder()
        .egress_policy(EgressPolicy::from_allowlist("127.0.0.0/8")?)
        .dial_filter(|addr| addr.ip().is_loopback())
        .build()?;

    let variables = user_repositories::Variables {
        login: "ferris".to_owned(),
        first: 2,
    };
    let reply = fetch_user(&client, &endpoint, variables).await?;
    assert!(reply.errors.is_none());
    let user = reply
        .data
        .and_then(|data| data.user)
        .expect("ferris exists");
    println!(
        "user {} ({}):",
        user.login,
        user.name.as_deref().unwrap_or("no name")
    );
    for repo in &user.repositories {
        println!(
            "  {} with {} stars, language {:?}",
            repo.name, repo.stars, repo.language
        );
    }
    assert_eq!(user.name.as_deref(), Some("Ferris the Crab"));
    assert_eq!(
        user.repositories,
        vec![
            Repository {
                name: "flunq".to_owned(),
                stars: 42,
                language: Some(Language::RUST),
            },
            Repository {
                name: "claws".to_owned(),
                stars: 7,
                language: None,
            },
        ]
    );

    // A GraphQL error comes in a 200 reply, next to `data`.
    let reply = fetch_user(
        &client,
        &endpoint,
        user_repositories::Variables {
            login: "nobody".to_owned(),
            first: 5,
        },
    )
    .await?;
    let errors = reply.errors.unwrap_or_default();
    for error in &errors {
        println!("GraphQL error: {} at {:?}", error.message, error.path);
    }
    assert_eq!(reply.data.and_then(|data| data.user), None);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].message, "no user `nobody` with 5 repositories");
    Ok(())
}
