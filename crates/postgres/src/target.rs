//! Connection strings, parsed and validated once into a [`ConnectionTarget`].

use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::IpAddr;

use tokio_postgres::Config;
use tokio_postgres::config::{Host, SslMode, SslNegotiation};

use crate::error::DatabaseError;

/// A validated PostgreSQL connection target: one TCP host (a name or an address), a
/// port, a database, a user and (maybe) a password.
///
/// Built from a URL (`postgres://user:pass@host:5432/db?application_name=x`) or a
/// key-value string (`host=db.example user=app dbname=orders`), as libpq spells them.
/// Refused: Unix socket hosts, several hosts, `options` (it could lift the server-side
/// timeouts), a missing host or user, `sslmode=require` and direct TLS negotiation (this
/// crate connects without TLS for now).
///
/// Neither [`Debug`](fmt::Debug) nor [`Display`](fmt::Display) shows the password:
///
/// ```
/// use flunq_postgres::ConnectionTarget;
///
/// let target = ConnectionTarget::parse("postgres://app:s3cret@db.example:5433/orders").unwrap();
/// assert_eq!(target.to_string(), "db.example:5433/orders");
/// assert!(!format!("{target:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
pub struct ConnectionTarget {
    config: Config,
    host: String,
    hostaddr: Option<IpAddr>,
    port: u16,
    database: String,
    user: String,
}

impl ConnectionTarget {
    /// Parses and validates a connection string. The error never repeats the string.
    pub fn parse(connection: &str) -> Result<Self, DatabaseError> {
        let config: Config = connection.parse().map_err(|_| {
            // tokio-postgres' parse errors can quote characters of the string (of the
            // password, too): give our own reason instead.
            DatabaseError::invalid_connection(
                "it could not be parsed: expected a postgres:// URL or key=value pairs",
            )
        })?;
        Self::from_config(config)
    }

    fn from_config(config: Config) -> Result<Self, DatabaseError> {
        let invalid = DatabaseError::invalid_connection;
        if config.get_options().is_some() {
            return Err(invalid(
                "the `options` parameter is not allowed (it could change server-side limits)",
            ));
        }
        let hosts = config.get_hosts();
        if hosts.iter().any(|h| !matches!(h, Host::Tcp(_))) {
            return Err(invalid(
                "a Unix socket host is not allowed: give a TCP host",
            ));
        }
        if hosts.len() > 1 || config.get_hostaddrs().len() > 1 {
            return Err(invalid("several hosts are not allowed: give exactly one"));
        }
        if config.get_ports().len() > 1 {
            return Err(invalid("several ports are not allowed: give exactly one"));
        }
        let hostaddr = config.get_hostaddrs().first().copied();
        let host = match (hosts.first(), hostaddr) {
            (Some(Host::Tcp(name)), _) if !name.is_empty() => name.clone(),
            (_, Some(addr)) => addr.to_string(),
            _ => return Err(invalid("no host: give a TCP host name or address")),
        };
        if host.starts_with('/') {
            return Err(invalid(
                "a Unix socket host is not allowed: give a TCP host",
            ));
        }
        if matches!(config.get_ssl_mode(), SslMode::Require)
            || matches!(config.get_ssl_negotiation(), SslNegotiation::Direct)
        {
            return Err(invalid("TLS connections are not supported yet"));
        }
        let Some(user) = config.get_user().map(str::to_owned) else {
            return Err(invalid("no user: name the database user"));
        };
        let database = config.get_dbname().unwrap_or(&user).to_owned();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        Ok(ConnectionTarget {
            config,
            host,
            hostaddr,
            port,
            database,
            user,
        })
    }

    /// The host as written: a name, or an address literal.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (5432 unless given).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database (the user's name unless given, as libpq does).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the string carries a password.
    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }

    /// A `hostaddr` given in the string: the address to dial instead of resolving `host`.
    pub(crate) fn hostaddr(&self) -> Option<IpAddr> {
        self.hostaddr
    }

    /// The parsed configuration, password included: for connecting only.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The pool this target shares: every setting, with the password only as a keyed
    /// hash (the hasher's keys are random per process), so two strings that differ only
    /// in the password never share connections and no map key holds a secret.
    pub(crate) fn pool_key(&self, hasher: &impl BuildHasher) -> PoolKey {
        let mut h = hasher.build_hasher();
        self.config.get_password().hash(&mut h);
        // tokio-postgres' Debug of a Config redacts the password and lists every other
        // setting, so it tells apart targets that differ in any option.
        format!("{:?}", self.config).hash(&mut h);
        PoolKey {
            host: self.host.clone(),
            port: self.port,
            database: self.database.clone(),
            user: self.user.clone(),
            settings_digest: h.finish(),
        }
    }
}

/// The identity of a pool: a target without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    host: String,
    port: u16,
    database: String,
    user: String,
    settings_digest: u64,
}

impl fmt::Display for ConnectionTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}/{}", self.host, self.port, self.database)
        } else {
            write!(f, "{}:{}/{}", self.host, self.port, self.database)
        }
    }
}

impl fmt::Debug for ConnectionTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionTarget")
            .field("host", &self.host)
            .field("hostaddr", &self.hostaddr)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.has_password().then_some("***"))
            .finish()
    }
}

impl std::str::FromStr for ConnectionTarget {
    type Err = DatabaseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::RandomState;

    #[test]
    fn key_value_strings_parse() {
        let t = ConnectionTarget::parse("host=db.example port=6000 user=app dbname=x").unwrap();
        assert_eq!(
            (t.host(), t.port(), t.database(), t.user()),
            ("db.example", 6000, "x", "app")
        );
    }

    #[test]
    fn database_defaults_to_the_user() {
        let t = ConnectionTarget::parse("postgres://app@db.example").unwrap();
        assert_eq!(t.database(), "app");
        assert_eq!(t.port(), 5432);
    }

    #[test]
    fn ipv6_literal_hosts_display_bracketed() {
        let t = ConnectionTarget::parse("postgres://app@[::1]:5432/db").unwrap();
        assert_eq!(t.to_string(), "[::1]:5432/db");
    }

    #[test]
    fn hostaddr_alone_is_the_host() {
        let t = ConnectionTarget::parse("hostaddr=10.0.0.1 user=app").unwrap();
        assert_eq!(t.host(), "10.0.0.1");
        assert_eq!(t.hostaddr(), Some("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn sslmode_require_is_refused() {
        let err = ConnectionTarget::parse("postgres://a@h/db?sslmode=require").unwrap_err();
        assert!(err.to_string().contains("TLS"), "{err}");
    }

    #[test]
    fn passwords_split_pools_without_being_keys() {
        let hasher = RandomState::new();
        let a = ConnectionTarget::parse("postgres://u:one@h/db").unwrap();
        let b = ConnectionTarget::parse("postgres://u:two@h/db").unwrap();
        let a2 = ConnectionTarget::parse("host=h port=5432 user=u password=one dbname=db").unwrap();
        assert_ne!(a.pool_key(&hasher), b.pool_key(&hasher));
        assert_eq!(a.pool_key(&hasher), a2.pool_key(&hasher));
        assert!(!format!("{:?}", a.pool_key(&hasher)).contains("one"));
    }
}
