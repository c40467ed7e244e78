//! The Redis of the tests and benches: `REDIS_URL`, else 127.0.0.1:6379 (loopback only),
//! and the clean-up of a test's keys.

// Test support: a Redis that does not answer fails the test that needs it, loudly.
#![allow(clippy::expect_used)]

/// `REDIS_URL`, else the local Redis. Panics on a non-loopback URL: tests and benches
/// never talk to another host.
pub fn url() -> String {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    assert!(
        url.contains("127.0.0.1") || url.contains("localhost") || url.contains("[::1]"),
        "tests use a Redis on loopback only, not {url}"
    );
    url
}

/// A connection to [`url`]. Panics when Redis does not answer.
pub async fn connection() -> ::redis::aio::MultiplexedConnection {
    ::redis::Client::open(url())
        .expect("a valid REDIS_URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers at REDIS_URL")
}

/// Deletes every key under the hash tag `{prefix}` (the keys of one test's instances).
pub async fn delete_prefix(prefix: &str) {
    let mut conn = connection().await;
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS answers");
    if !keys.is_empty() {
        let _: () = ::redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .expect("DEL answers");
    }
}

/// What a one-key command that answers a number (`PTTL`, `XLEN`, `ZCARD`...) says of
/// `key`. Panics when Redis does not answer.
pub async fn number(command: &str, key: &str) -> i64 {
    ::redis::cmd(command)
        .arg(key)
        .query_async(&mut connection().await)
        .await
        .expect("Redis answers the command")
}

/// A `redis-server` of a test's own that speaks TLS only, on a free loopback port, with
/// the server certificate of a [`TestPki`](crate::pki::TestPki); stopped and its files
/// removed when dropped. It runs the machine's `redis-server` (the one whose server the
/// tests use on 6379).
#[cfg(feature = "pki")]
#[derive(Debug)]
pub struct TlsRedis {
    child: std::process::Child,
    /// Its TLS port on 127.0.0.1.
    pub port: u16,
    /// The directory of its files: the certificates, and `ca.pem` for a client.
    pub dir: std::path::PathBuf,
}

#[cfg(feature = "pki")]
impl TlsRedis {
    /// Starts it and waits (up to 5 s) until it listens. With
    /// `require_client_certificate`, it accepts only clients with a certificate the
    /// PKI's CA signed.
    ///
    /// # Panics
    /// When `redis-server` is not on the `PATH` or does not listen in time.
    pub async fn start(pki: &crate::pki::TestPki, require_client_certificate: bool) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("flunq-tls-redis-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let file = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("a file in the temporary directory");
            path.to_string_lossy().into_owned()
        };
        let (ca, cert, key) = (
            file("ca.pem", &pki.ca_pem),
            file("server.pem", &pki.server_cert_pem),
            file("server.key", &pki.server_key_pem),
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1"])
            .args(["--tls-port", &port.to_string()])
            .args(["--tls-cert-file", &cert, "--tls-key-file", &key])
            .args(["--tls-ca-cert-file", &ca])
            .args([
                "--tls-auth-clients",
                if require_client_certificate {
                    "yes"
                } else {
                    "no"
                },
            ])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server, the machine's Redis, on the PATH");
        let redis = Self { child, port, dir };
        for _ in 0..500 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return redis;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        #[allow(clippy::panic)] // test support: the test that needs it fails here
        {
            panic!("the TLS redis-server did not listen on {port}")
        }
    }

    /// Its URL: `rediss://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }
}

#[cfg(feature = "pki")]
impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
