//! Server and forwarding settings from the mapping file, already validated.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::name::{DomainName, is_within};

/// Everything in the file that is not the mapping itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub server: ServerSettings,
    pub forward: ForwardSettings,
    pub zones: ZoneDefaults,
    pub rate_limit: RateLimitSettings,
}

/// `[rate_limit]`: response rate limiting for UDP, per client prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Responses per second per client prefix; 0 turns limiting off.
    pub responses_per_second: u32,
    /// Of the responses over the limit, every `slip`-th gets an empty
    /// truncated answer (the client retries over TCP); the rest are dropped.
    /// 0 drops them all, 1 truncates them all.
    pub slip: u32,
    /// Clients are grouped by these prefix lengths.
    pub ipv4_prefix: u8,
    pub ipv6_prefix: u8,
}

/// `[server]`: sockets, client allow-list, identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// Each address serves UDP and TCP.
    pub listen: Vec<SocketAddr>,
    /// Clients outside these networks get REFUSED.
    pub allow: Vec<IpNet>,
    /// The NS target at every served apex.
    pub hostname: DomainName,
    /// Reload when the file changes.
    pub watch: bool,
    /// Metrics, health, the status page and the API.
    pub http: Option<SocketAddr>,
    /// Clients that may read the status page and `/api/v1/*` (they show
    /// names and addresses); `/metrics`, `/healthz` and `/readyz` stay open
    /// to whoever reaches `http`.
    pub http_allow: Vec<IpNet>,
    /// When set, the status page and `/api/v1/*` also need this token
    /// (`Authorization: Bearer …`, or as a browser's Basic password).
    pub http_token: Option<String>,
    /// One log event per response.
    pub query_log: bool,
    /// `/readyz` reports not ready while the last reload failed.
    pub strict_readiness: bool,
    /// The VNet subnets private endpoints live in; `check` warns about
    /// addresses outside them. Empty: no such check.
    pub subnets: Vec<IpNet>,
    /// TCP connections served at once; more wait in the kernel's backlog.
    pub tcp_max_connections: usize,
    /// A TCP connection that sends nothing for this long is closed.
    pub tcp_idle_timeout: Duration,
    /// UDP sockets and worker threads per listen address; 0 = one per CPU.
    pub udp_workers: usize,
    /// Secondaries told (DNS NOTIFY) when a reload changes a zone.
    pub notify: Vec<SocketAddr>,
    /// `server.serial`: the SOA serial of every zone, declared in the file
    /// so that replicas loading it agree (see [`crate::serial`]).
    pub serial: Option<DeclaredSerial>,
    /// `server.catalog`: the catalog zone listing every served zone
    /// (see [`crate::catalog`]).
    pub catalog: Option<CatalogSetting>,
    /// `[[tsig_key]]`s (see [`crate::tsig`]).
    pub tsig_keys: Vec<crate::tsig::TsigKey>,
    /// `server.allow_transfer`: who may transfer the served zones, each
    /// entry with the TSIG key it requires, if any. Empty (the default):
    /// no transfers, and every SOA keeps Azure's serial 1.
    pub transfer_clients: Vec<crate::tsig::TransferClient>,
}

/// The catalog zone's name, with its line for the errors about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSetting {
    pub apex: DomainName,
    pub line: usize,
}

/// A serial the file declares, with its line for the errors about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeclaredSerial {
    pub value: u32,
    pub line: usize,
}

impl ServerSettings {
    /// Zone transfers are on: SOA serials then follow the mapping.
    pub fn transfers_enabled(&self) -> bool {
        !self.transfer_clients.is_empty()
    }
}

/// `[forward]`: where names that are not served go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardSettings {
    /// Default upstreams, in order; empty means offline mode.
    pub upstreams: Vec<SocketAddr>,
    /// Budget of one forwarded query across all tries.
    pub timeout: Duration,
    /// How long past expiry a cached answer may still be served when every upstream fails.
    pub stale_max: Duration,
    /// Memory bound of the answer cache, in MiB; 0 turns caching off.
    pub cache_mb: u64,
    /// Questions upstream at once; past this, SERVFAIL at once (or a stale
    /// or synthesised answer) instead of an unbounded queue.
    pub max_inflight: usize,
    /// Refresh a cached answer asked for in the last tenth of its TTL
    /// before it expires (as Unbound's `prefetch`).
    pub prefetch: bool,
    /// What each default upstream may be sent (Azure's resolver limits).
    pub limits: UpstreamLimits,
    /// Conditional forwarding, deepest suffix first.
    pub rules: Vec<ForwardRule>,
}

/// What one upstream may be sent: `upstream_max_qps` and
/// `upstream_max_pending`, in `[forward]` or a `[[forward.rule]]`.
///
/// Azure's resolver takes 1,000 queries per second and 200 pending from
/// each VM and drops the rest (Azure DNS limits, 2024-10), so those are the
/// defaults. Every try counts, retries included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// Queries sent in any one-second window.
    pub max_qps: u32,
    /// Queries sent and not yet answered (or timed out).
    pub max_pending: u32,
}

impl UpstreamLimits {
    /// Azure's per-VM limits.
    pub const AZURE: Self = Self {
        max_qps: 1000,
        max_pending: 200,
    };

    /// The stricter of two limits on the same upstream.
    #[must_use]
    pub fn min(self, other: Self) -> Self {
        Self {
            max_qps: self.max_qps.min(other.max_qps),
            max_pending: self.max_pending.min(other.max_pending),
        }
    }
}

/// `[[forward.rule]]`: names under `suffix` go to `upstreams`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRule {
    pub suffix: DomainName,
    pub upstreams: Vec<SocketAddr>,
    /// The rule's own limits, else `[forward]`'s.
    pub limits: UpstreamLimits,
}

/// Where one name is forwarded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    /// The matching rule's suffix, or `None` for the default upstreams.
    pub rule: Option<&'a DomainName>,
    pub upstreams: &'a [SocketAddr],
    pub limits: UpstreamLimits,
}

impl ForwardSettings {
    /// Every configured upstream once, in the order first named, with what
    /// it serves: `default`, and the suffix of each rule that names it.
    pub fn upstream_routes(&self) -> Vec<(SocketAddr, Vec<String>)> {
        let mut routes: Vec<(SocketAddr, Vec<String>)> = Vec::new();
        let named = self.upstreams.iter().map(|&u| (u, "default".to_owned()));
        let by_rules = self
            .rules
            .iter()
            .flat_map(|rule| rule.upstreams.iter().map(|&u| (u, rule.suffix.to_string())));
        for (address, route) in named.chain(by_rules) {
            match routes.iter_mut().find(|(a, _)| *a == address) {
                Some((_, list)) => list.push(route),
                None => routes.push((address, vec![route])),
            }
        }
        routes
    }

    /// The upstreams for a lower-case query name (trailing dot optional):
    /// the rule with the longest matching suffix, else the defaults.
    pub fn route(&self, qname: &str) -> Route<'_> {
        let qname = qname.strip_suffix('.').unwrap_or(qname);
        self.rules
            .iter()
            .find(|rule| is_within(qname, rule.suffix.as_str()))
            .map_or(
                Route {
                    rule: None,
                    upstreams: &self.upstreams,
                    limits: self.limits,
                },
                |rule| Route {
                    rule: Some(&rule.suffix),
                    upstreams: &rule.upstreams,
                    limits: rule.limits,
                },
            )
    }

    /// Orders rules so that the deepest suffix is tried first.
    pub(crate) fn sort_rules(&mut self) {
        self.rules
            .sort_by_key(|rule| std::cmp::Reverse(rule.suffix.label_count()));
    }
}

/// `[zones]`: defaults for every served zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneDefaults {
    /// TTL of mapped records.
    pub ttl: u32,
    pub fallback: Fallback,
}

/// What a served zone does with a name it does not map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fallback {
    /// Authoritative NXDOMAIN (Azure's default).
    NxDomain,
    /// Forward the query (Azure's `NxDomainRedirect`, "fallback to internet").
    Forward,
}

impl Fallback {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NxDomain => "nxdomain",
            Self::Forward => "forward",
        }
    }
}

/// Azure's resolver, the default upstream.
pub const AZURE_RESOLVER: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(168, 63, 129, 16)), 53);

/// The default listen address: loopback, unprivileged port.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 5353);

/// The default NS target.
pub const DEFAULT_HOSTNAME: &str = "ns1.privatelink-dns.internal";

/// Loopback only: the default HTTP allow-list.
pub fn loopback() -> Vec<IpNet> {
    vec![
        IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8)),
        IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128)),
    ]
}

/// Loopback and private ranges: the default allow-list.
pub fn default_allow() -> Vec<IpNet> {
    let v4 = |a, b, c, d, len| IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len));
    let v6 = |addr: Ipv6Addr, len| IpNet::V6(Ipv6Net::new_assert(addr, len));
    vec![
        v4(127, 0, 0, 0, 8),
        v4(10, 0, 0, 0, 8),
        v4(172, 16, 0, 0, 12),
        v4(192, 168, 0, 0, 16),
        v6(Ipv6Addr::LOCALHOST, 128),
        v6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
    ]
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: ServerSettings {
                listen: vec![DEFAULT_LISTEN],
                allow: default_allow(),
                hostname: DomainName::from_trusted(DEFAULT_HOSTNAME),
                watch: true,
                http: None,
                http_allow: loopback(),
                http_token: None,
                query_log: false,
                strict_readiness: false,
                subnets: Vec::new(),
                tcp_max_connections: 1024,
                tcp_idle_timeout: Duration::from_secs(10),
                udp_workers: 0,
                notify: Vec::new(),
                serial: None,
                catalog: None,
                tsig_keys: Vec::new(),
                transfer_clients: Vec::new(),
            },
            forward: ForwardSettings {
                upstreams: vec![AZURE_RESOLVER],
                timeout: Duration::from_millis(4000),
                stale_max: Duration::from_secs(86_400),
                cache_mb: 32,
                max_inflight: 1024,
                prefetch: true,
                limits: UpstreamLimits::AZURE,
                rules: Vec::new(),
            },
            zones: ZoneDefaults {
                ttl: 10,
                fallback: Fallback::NxDomain,
            },
            rate_limit: RateLimitSettings {
                responses_per_second: 0,
                slip: 2,
                ipv4_prefix: 32,
                ipv6_prefix: 64,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(suffix: &str, port: u16) -> ForwardRule {
        ForwardRule {
            suffix: DomainName::parse(suffix).unwrap(),
            upstreams: vec![SocketAddr::from(([127, 0, 0, 1], port))],
            limits: UpstreamLimits::AZURE,
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let settings = Settings::default();
        assert_eq!(settings.server.hostname.as_str(), DEFAULT_HOSTNAME);
        assert_eq!(settings.server.listen, [DEFAULT_LISTEN]);
        assert_eq!(settings.forward.upstreams, [AZURE_RESOLVER]);
        assert_eq!(settings.zones.ttl, 10);
        assert_eq!(settings.forward.timeout, Duration::from_secs(4));
        assert_eq!(settings.forward.limits.max_qps, 1000);
        assert_eq!(settings.forward.limits.max_pending, 200);
    }

    #[test]
    fn longest_suffix_rule_wins() {
        let mut forward = Settings::default().forward;
        forward.rules = vec![rule("contoso.com", 1), rule("corp.contoso.com", 2)];
        forward.sort_rules();
        assert_eq!(forward.route("a.corp.contoso.com.").upstreams[0].port(), 2);
        assert_eq!(forward.route("corp.contoso.com").upstreams[0].port(), 2);
        assert_eq!(forward.route("www.contoso.com").upstreams[0].port(), 1);
        assert_eq!(
            forward.route("www.contoso.com").limits,
            UpstreamLimits::AZURE
        );
        let default = forward.route("xcontoso.com");
        assert_eq!(default.rule, None);
        assert_eq!(default.upstreams, [AZURE_RESOLVER]);
    }
}
