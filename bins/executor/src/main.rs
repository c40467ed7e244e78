//! The `executor` binary: reads its configuration from the environment (or flags),
//! serves the API on `0.0.0.0:$PORT`, runs the workers, and shuts down gracefully on
//! SIGTERM or SIGINT. `executor --help` lists every variable with its default.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use flunq_executor::model::validate::Defaults;
use flunq_executor::store::{RedisClientIdentity, RedisOptions};
use flunq_executor::{Engine, EngineOptions};
use flunq_executor_server::{ServerOptions, router};
use flunq_http_client::EgressPolicy;

/// How long running executions get to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The executor: runs HTTP, GraphQL and PostgreSQL tasks for workflow engines.
#[derive(Debug, Parser)]
#[command(name = "executor", version, about)]
struct Settings {
    /// Listen port.
    #[arg(long, env = "PORT", default_value_t = 8083)]
    port: u16,
    /// Redis for queue, state and shared limits (`redis://[:password@]host:port[/db]`,
    /// `rediss://` for TLS); unset = in-memory, one instance.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,
    /// With Redis: the prefix of every key, so several deployments can share one Redis.
    #[arg(long, env = "REDIS_PREFIX", default_value = "flunq")]
    redis_prefix: String,
    /// With a `rediss://` REDIS_URL: a PEM file of the certificate authorities to trust
    /// for Redis instead of the bundled Mozilla roots (a private CA).
    #[arg(long, env = "REDIS_CA_CERT")]
    redis_ca_cert: Option<std::path::PathBuf>,
    /// With a `rediss://` REDIS_URL to a Redis that requires client certificates: this
    /// instance's certificate chain, a PEM file (with REDIS_CLIENT_KEY).
    #[arg(long, env = "REDIS_CLIENT_CERT", requires = "redis_client_key")]
    redis_client_cert: Option<std::path::PathBuf>,
    /// Its private key, a PEM file (with REDIS_CLIENT_CERT).
    #[arg(long, env = "REDIS_CLIENT_KEY", requires = "redis_client_cert")]
    redis_client_key: Option<std::path::PathBuf>,
    /// Per-attempt timeout.
    #[arg(long, env = "DEFAULT_TIMEOUT", default_value = "30s", value_parser = duration)]
    default_timeout: Duration,
    /// Retries after the first attempt.
    #[arg(long, env = "MAX_RETRIES", default_value_t = 3)]
    max_retries: u32,
    /// Requests per second per upstream origin (0 = unlimited).
    #[arg(long, env = "RATE_LIMIT", default_value_t = 100)]
    rate_limit: u32,
    /// Executions running at once in this instance.
    #[arg(long, env = "CONCURRENCY", default_value_t = 256)]
    concurrency: usize,
    /// Largest request body.
    #[arg(long, env = "MAX_REQUEST_BYTES", default_value = "1MiB", value_parser = bytes)]
    max_request_bytes: usize,
    /// Largest response body (after decompression).
    #[arg(long, env = "MAX_RESPONSE_BYTES", default_value = "10MiB", value_parser = bytes)]
    max_response_bytes: usize,
    /// How long finished executions are kept.
    #[arg(long, env = "EXECUTION_TTL", default_value = "24h", value_parser = duration)]
    execution_ttl: Duration,
    /// With Redis: how long a dead instance's executions wait before another takes them.
    #[arg(long, env = "LEASE_TIMEOUT", default_value = "30s", value_parser = duration)]
    lease_timeout: Duration,
    /// Bearer keys for the API, comma-separated; unset leaves the API open.
    #[arg(long, env = "API_KEYS", value_delimiter = ',', hide_env_values = true)]
    api_keys: Vec<String>,
    /// CIDRs and host names that outbound calls may reach despite the policy.
    #[arg(long, env = "EGRESS_ALLOW", default_value = "")]
    egress_allow: String,
    /// Open private networks (all but link-local) to outbound calls.
    #[arg(long, env = "ALLOW_PRIVATE_NETWORKS", default_value_t = false, action = clap::ArgAction::Set)]
    allow_private_networks: bool,
    /// `json` or `pretty`; default pretty on a terminal, else json.
    #[arg(long, env = "LOG_FORMAT")]
    log_format: Option<LogFormat>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Json,
    Pretty,
}

fn duration(text: &str) -> Result<Duration, String> {
    if text.trim().bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{text}` has no unit: write e.g. `{text}s`"));
    }
    humantime::parse_duration(text).map_err(|e| e.to_string())
}

fn bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: usize = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 1MiB"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" | "kb" => 1024,
        "mib" | "m" | "mb" => 1024 * 1024,
        "gib" | "g" | "gb" => 1024 * 1024 * 1024,
        other => return Err(format!("unknown unit `{other}`: use B, KiB, MiB or GiB")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

fn init_logging(format: Option<LogFormat>) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let format = format.unwrap_or(if std::io::stdout().is_terminal() {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

/// mimalloc rather than glibc's malloc: an execution allocates about a hundred times, often
/// on one worker thread and frees on the other, where glibc's arenas cost 10-15 % of the
/// executor's CPU (README, "Performance"). `--no-default-features` keeps the system allocator.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = Settings::parse();
    init_logging(settings.log_format);
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(error = %message, "executor stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> Result<(), String> {
    let egress = EgressPolicy::from_allowlist(&settings.egress_allow)
        .map_err(|e| format!("EGRESS_ALLOW: {e}"))?
        .allow_private_networks(settings.allow_private_networks);
    let options = EngineOptions {
        defaults: Defaults {
            timeout: settings.default_timeout,
            retries: settings.max_retries,
            rate_limit: settings.rate_limit,
            egress,
        },
        concurrency: settings.concurrency,
        max_response_bytes: settings.max_response_bytes,
        execution_ttl: settings.execution_ttl,
        dial_filter: None,
    };
    let (engine, state) = match settings.redis_url.as_deref() {
        None if settings.redis_ca_cert.is_some() || settings.redis_client_cert.is_some() => {
            return Err(
                "REDIS_CA_CERT, REDIS_CLIENT_CERT and REDIS_CLIENT_KEY need a rediss:// REDIS_URL, which is unset"
                    .to_owned(),
            );
        }
        None => (
            Engine::in_memory(options).map_err(|e| format!("cannot build the HTTP client: {e}"))?,
            "in-memory state",
        ),
        Some(url) => {
            let mut redis = RedisOptions::new(url);
            redis.prefix = settings.redis_prefix.clone();
            redis.lease_timeout = settings.lease_timeout;
            redis.ca_certificate = settings
                .redis_ca_cert
                .as_deref()
                .map(|path| read_pem("REDIS_CA_CERT", path))
                .transpose()?;
            if let (Some(cert), Some(key)) =
                (&settings.redis_client_cert, &settings.redis_client_key)
            {
                redis.client_identity = Some(RedisClientIdentity {
                    certificate_chain: read_pem("REDIS_CLIENT_CERT", cert)?,
                    private_key: read_pem("REDIS_CLIENT_KEY", key)?,
                });
            }
            let engine = Engine::with_redis(options, redis)
                .await
                .map_err(|e| format!("cannot start on Redis: {e}"))?;
            (engine, "state shared in Redis")
        }
    };
    if settings.api_keys.iter().all(|k| k.trim().is_empty()) {
        tracing::warn!(
            "API_KEYS is unset: the API is open to anyone who can reach port {}",
            settings.port
        );
    }
    let server_options = ServerOptions {
        api_keys: settings
            .api_keys
            .into_iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect(),
        max_request_bytes: settings.max_request_bytes,
    };
    let app = router(engine.clone(), server_options);
    let addr = SocketAddr::from(([0, 0, 0, 0], settings.port));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, concurrency = settings.concurrency, "executor listening ({state})");

    let workers = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run(SHUTDOWN_GRACE).await }
    });
    let stopping = engine.clone();
    // On a signal: no new work, but the API goes on answering while the running
    // executions finish (`/readyz` 503, submissions 503, records and cancels as usual);
    // then the listener closes and the open requests are finished.
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: no new work, finishing running executions");
            stopping.shutdown();
            let _ = workers.await;
            tracing::info!("the engine stopped: closing the listener");
        })
        .await
        .map_err(|e| format!("server error: {e}"))?;
    tracing::info!("stopped");
    Ok(())
}

/// The PEM file a setting names; the error says which setting and file.
fn read_pem(setting: &str, path: &std::path::Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{setting}: cannot read {}: {e}", path.display()))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = interrupt.await;
            return;
        };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sizes_and_durations() {
        assert_eq!(bytes("1MiB").unwrap(), 1024 * 1024);
        assert_eq!(bytes("10MiB").unwrap(), 10 * 1024 * 1024);
        assert_eq!(bytes("512").unwrap(), 512);
        assert!(bytes("1XB").is_err());
        assert_eq!(duration("30s").unwrap(), Duration::from_secs(30));
        assert!(duration("30").is_err());
    }

    #[test]
    fn help_lists_every_variable() {
        use clap::CommandFactory;
        let help = Settings::command().render_long_help().to_string();
        for var in [
            "PORT",
            "REDIS_URL",
            "REDIS_PREFIX",
            "REDIS_CA_CERT",
            "REDIS_CLIENT_CERT",
            "REDIS_CLIENT_KEY",
            "DEFAULT_TIMEOUT",
            "MAX_RETRIES",
            "RATE_LIMIT",
            "CONCURRENCY",
            "MAX_REQUEST_BYTES",
            "MAX_RESPONSE_BYTES",
            "EXECUTION_TTL",
            "LEASE_TIMEOUT",
            "API_KEYS",
            "EGRESS_ALLOW",
            "ALLOW_PRIVATE_NETWORKS",
            "LOG_FORMAT",
        ] {
            assert!(help.contains(var), "{var} missing from --help");
        }
    }
}
