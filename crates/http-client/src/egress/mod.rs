//! The egress policy: where outbound calls may go.
//!
//! Denied by default: every address that is not globally routable unicast (see
//! [`AddressClass`]), whatever spelling the URL used. The `url` crate parses hosts the
//! WHATWG way, so `http://2130706433/`, `http://0x7f000001/`, `http://0177.0.0.1/` and
//! `http://127.1/` all arrive here as `127.0.0.1`. Host names are checked twice: the
//! name against the allowlist and `localhost`, then every address the resolver returns,
//! inside the connector, so the address checked is the address dialed.
//!
//! An allowlist of CIDRs and host names opens targets; `allow_private_networks` opens
//! every non-global range except link-local (cloud metadata lives there).

mod classify;

pub use classify::{AddressClass, classify, embedded_ipv4};

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use url::{Host, Url};

/// Where outbound calls may go. Cheap to clone; share one per client.
///
/// ```
/// use flunq_http_client::EgressPolicy;
///
/// let policy = EgressPolicy::default();
/// assert!(policy.check_ip("127.0.0.1".parse().unwrap()).is_err());
/// assert!(policy.check_ip("93.184.215.14".parse().unwrap()).is_ok());
///
/// let open = EgressPolicy::from_allowlist("127.0.0.0/8, api.internal").unwrap();
/// assert!(open.check_ip("127.0.0.1".parse().unwrap()).is_ok());
/// assert!(open.is_host_allowed("API.internal."));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    allow_private: bool,
    allow_nets: Vec<IpNet>,
    allow_hosts: Vec<HostPattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Exact(String),
    /// `*.example.com`, stored as `.example.com`.
    Subdomains(String),
}

impl HostPattern {
    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(h) => h == host,
            HostPattern::Subdomains(suffix) => host.ends_with(suffix.as_str()),
        }
    }
}

/// What [`EgressPolicy::check_url`] found out about a URL's host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostVerdict {
    /// The host is an address literal and the policy allows it.
    AllowedAddress,
    /// The host name is on the allowlist: whatever it resolves to may be dialed.
    AllowedName,
    /// The host name must be resolved, and each address checked before it is dialed.
    CheckResolved,
}

/// A call the egress policy refused. Its message says that the call was denied and
/// nothing about what lies behind the address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressDenied {
    /// Only `http` and `https` may be called.
    #[error("scheme `{0}` is not allowed: only http and https")]
    Scheme(String),
    /// The URL has no host.
    #[error("the URL has no host")]
    NoHost,
    /// The destination is not allowed by the egress policy.
    #[error("destination denied by the egress policy")]
    Destination,
}

/// An allowlist entry that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid egress allowlist entry `{entry}`: expected a CIDR, an IP address or a host name")]
pub struct AllowlistError {
    entry: String,
}

impl EgressPolicy {
    /// The default policy: only globally routable unicast addresses.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a comma-separated allowlist of CIDRs (`10.1.0.0/16`), addresses
    /// (`192.168.1.5`, `::1`) and host names (`api.internal`, `*.corp.example`), as
    /// `EGRESS_ALLOW` spells it. Empty entries are skipped.
    pub fn from_allowlist(list: &str) -> Result<Self, AllowlistError> {
        let mut policy = Self::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            policy = policy.allow_entry(entry)?;
        }
        Ok(policy)
    }

    /// Opens every non-global range except link-local (`169.254/16`, `fe80::/10`,
    /// and IPv6 spellings that embed a link-local IPv4 address).
    pub fn allow_private_networks(mut self, allow: bool) -> Self {
        self.allow_private = allow;
        self
    }

    /// Opens a network, whatever its class (link-local included: the entry is explicit).
    pub fn allow_net(mut self, net: IpNet) -> Self {
        self.allow_nets.push(net.trunc());
        self
    }

    /// Adds one allowlist entry: a CIDR, an address or a host name (`*.` for subdomains).
    pub fn allow_entry(self, entry: &str) -> Result<Self, AllowlistError> {
        let bad = || AllowlistError {
            entry: entry.to_owned(),
        };
        if let Ok(net) = entry.parse::<IpNet>() {
            return Ok(self.allow_net(net));
        }
        let unbracketed = entry.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(self.allow_net(IpNet::from(ip.to_canonical())));
        }
        let (pattern, name) = match entry.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, entry),
        };
        let name = normalise_host(name);
        let valid = !name.is_empty()
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(bad());
        }
        let mut this = self;
        this.allow_hosts.push(if pattern {
            HostPattern::Subdomains(format!(".{name}"))
        } else {
            HostPattern::Exact(name)
        });
        Ok(this)
    }

    /// Whether a host name is on the allowlist (case and a trailing dot ignored).
    pub fn is_host_allowed(&self, host: &str) -> bool {
        let host = normalise_host(host);
        self.allow_hosts.iter().any(|p| p.matches(&host))
    }

    /// Checks one address: the one about to be dialed, or an address literal.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), EgressDenied> {
        let ip = ip.to_canonical();
        if self.allow_nets.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        let class = classify(ip);
        if class.is_global() {
            return Ok(());
        }
        if self.allow_private && !class.is_link_local() && !embeds_link_local(ip) {
            return Ok(());
        }
        Err(EgressDenied::Destination)
    }

    /// Checks a URL before anything is resolved: its scheme, and its host when the host
    /// is an address literal or a `localhost` name. A host name that passes still has its
    /// resolved addresses checked by the connector ([`HostVerdict::CheckResolved`]).
    pub fn check_url(&self, url: &Url) -> Result<HostVerdict, EgressDenied> {
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(EgressDenied::Scheme(other.to_owned())),
        }
        match url.host() {
            None => Err(EgressDenied::NoHost),
            Some(Host::Ipv4(v4)) => self
                .check_ip(IpAddr::V4(v4))
                .map(|()| HostVerdict::AllowedAddress),
            Some(Host::Ipv6(v6)) => self
                .check_ip(IpAddr::V6(v6))
                .map(|()| HostVerdict::AllowedAddress),
            Some(Host::Domain(name)) => self.check_name(name),
        }
    }

    /// Checks a host name as a URL or a connection string spells it.
    pub fn check_name(&self, name: &str) -> Result<HostVerdict, EgressDenied> {
        let host = normalise_host(name);
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return self.check_ip(ip).map(|()| HostVerdict::AllowedAddress);
        }
        if self.allow_hosts.iter().any(|p| p.matches(&host)) {
            return Ok(HostVerdict::AllowedName);
        }
        // RFC 6761: `localhost` and its subdomains always mean the loopback interface.
        if host == "localhost" || host.ends_with(".localhost") {
            return self
                .check_ip(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST))
                .map(|()| HostVerdict::CheckResolved);
        }
        Ok(HostVerdict::CheckResolved)
    }
}

impl fmt::Display for HostVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostVerdict::AllowedAddress => "allowed address",
            HostVerdict::AllowedName => "allowlisted host name",
            HostVerdict::CheckResolved => "resolved addresses to be checked",
        })
    }
}

fn embeds_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => false,
        IpAddr::V6(v6) => embedded_ipv4(v6).into_iter().any(|v4| v4.is_link_local()),
    }
}

fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}
