//! Dialing a target under the egress policy: resolve the host ourselves, check every
//! address, and connect to a checked address only.

use std::net::IpAddr;
use std::time::Duration;

use flunq_http_client::{EgressPolicy, HostVerdict};
use tokio_postgres::{Client, NoTls};

use crate::error::DatabaseError;
use crate::target::ConnectionTarget;

/// The check that needs no DNS: an address literal (or `hostaddr`) against the policy,
/// a host name against the allowlist and `localhost`. A denied target is never dialed.
pub(crate) fn precheck(
    policy: &EgressPolicy,
    target: &ConnectionTarget,
) -> Result<HostVerdict, DatabaseError> {
    match target.hostaddr() {
        // The address dialed, whatever `host` says: the one the error names.
        Some(addr) => policy
            .check_ip(addr)
            .map(|()| HostVerdict::AllowedAddress)
            .map_err(|_| DatabaseError::EgressDenied {
                host: addr.to_string(),
            }),
        None => policy
            .check_name(target.host())
            .map_err(|_| DatabaseError::EgressDenied {
                host: target.host().to_owned(),
            }),
    }
}

impl ConnectionTarget {
    /// The egress check that needs no DNS lookup: `hostaddr` or an address literal
    /// against the policy, a host name against its allowlist and `localhost`. A caller
    /// that validates tasks refuses such a target before it runs; a name that passes is
    /// still checked on every address it resolves to, when connecting.
    pub fn egress_precheck(&self, policy: &EgressPolicy) -> Result<(), DatabaseError> {
        precheck(policy, self).map(drop)
    }
}

/// The addresses that may be dialed for `target`, in resolver order.
///
/// A name the allowlist names explicitly may resolve anywhere (as in the HTTP client);
/// any other name is resolved here and refused when ANY of its addresses is denied, so
/// an answer mixing a public and a private address cannot be used to reach the private
/// one. The caller connects to these addresses, never to the name, so a second lookup
/// (DNS rebinding) cannot change where the connection goes.
async fn allowed_addresses(
    policy: &EgressPolicy,
    target: &ConnectionTarget,
    timeout: Duration,
) -> Result<Vec<IpAddr>, DatabaseError> {
    let verdict = precheck(policy, target)?;
    if let Some(addr) = target.hostaddr() {
        return Ok(vec![addr]);
    }
    let host = target.host();
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let lookup = tokio::net::lookup_host((host, target.port()));
    let resolved = match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(addrs)) => addrs,
        Ok(Err(e)) => return Err(connect_error(target, format!("cannot resolve host: {e}"))),
        Err(_) => return Err(connect_error(target, "host resolution timed out")),
    };
    let mut addrs: Vec<IpAddr> = Vec::new();
    for addr in resolved.map(|a| a.ip()) {
        if verdict == HostVerdict::CheckResolved && policy.check_ip(addr).is_err() {
            return Err(DatabaseError::EgressDenied {
                host: host.to_owned(),
            });
        }
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(connect_error(target, "the host resolved to no address"));
    }
    Ok(addrs)
}

/// Opens a connection to the first checked address that answers, and spawns its I/O
/// task. TLS is not used (`NoTls`).
pub(crate) async fn dial(
    policy: &EgressPolicy,
    target: &ConnectionTarget,
    timeout: Duration,
) -> Result<Client, DatabaseError> {
    let addrs = allowed_addresses(policy, target, timeout).await?;
    let mut last_error = None;
    for addr in addrs {
        let mut config = target.config().clone();
        if target.hostaddr().is_none() {
            // `host` stays for TLS server names and error messages; `hostaddr` is what
            // tokio-postgres dials, so it never resolves the name again.
            config.hostaddr(addr);
        }
        config.connect_timeout(timeout);
        match config.connect(NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    // The connection ends with an error when the server goes away; the
                    // client sees it as closed and the pool drops it.
                    let _ = connection.await;
                });
                return Ok(client);
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(match last_error {
        Some(e) => from_connect_error(target, &e),
        None => connect_error(target, "no address to connect to"),
    })
}

fn connect_error(target: &ConnectionTarget, reason: impl Into<String>) -> DatabaseError {
    DatabaseError::Connect {
        target: target.to_string(),
        reason: reason.into(),
        code: None,
    }
}

/// tokio-postgres' connect errors name the failure (refused, timed out, the server's
/// FATAL message), never the configuration or its password.
pub(crate) fn from_connect_error(
    target: &ConnectionTarget,
    e: &tokio_postgres::Error,
) -> DatabaseError {
    match e.as_db_error() {
        Some(db) => DatabaseError::Connect {
            target: target.to_string(),
            reason: db.message().to_owned(),
            code: Some(db.code().code().to_owned()),
        },
        None => connect_error(target, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_hostaddr_is_named_not_the_host() {
        let policy = EgressPolicy::from_allowlist("127.0.0.0/8").unwrap();
        let target =
            ConnectionTarget::parse("postgres://u@127.0.0.1/db?hostaddr=10.0.0.5").unwrap();
        let err = target.egress_precheck(&policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "connection to 10.0.0.5 denied by the egress policy"
        );
        let plain = ConnectionTarget::parse("postgres://u@127.0.0.1/db").unwrap();
        assert!(plain.egress_precheck(&policy).is_ok());
    }
}
