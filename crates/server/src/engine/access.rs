//! The client allow-list: who may query this server at all.
//!
//! Kept in our handler rather than hickory's `Server::with_access`, whose list
//! is fixed at start-up, so that the list can follow the configuration.

use std::net::IpAddr;

use ipnet::IpNet;

/// Networks whose clients are answered; everyone else gets REFUSED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    networks: Vec<IpNet>,
}

impl AllowList {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self { networks }
    }

    /// True when the list allows no client at all.
    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    /// True when `client` lies in an allowed network. An IPv4-mapped IPv6
    /// address (`::ffff:10.0.0.1`, as seen on dual-stack sockets) is matched
    /// as the IPv4 address it carries.
    pub fn allows(&self, client: IpAddr) -> bool {
        let client = client.to_canonical();
        self.networks.iter().any(|net| net.contains(&client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(nets: &[&str]) -> AllowList {
        AllowList::new(nets.iter().map(|n| n.parse().unwrap()).collect())
    }

    #[test]
    fn allows_members_only() {
        let allow = list(&["10.0.0.0/8", "::1/128"]);
        assert!(allow.allows("10.1.2.3".parse().unwrap()));
        assert!(allow.allows("::1".parse().unwrap()));
        assert!(!allow.allows("11.0.0.1".parse().unwrap()));
        assert!(!allow.allows("::2".parse().unwrap()));
        assert!(!list(&[]).allows("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn ipv4_mapped_clients_match_ipv4_networks() {
        let allow = list(&["10.0.0.0/8"]);
        assert!(allow.allows("::ffff:10.0.0.1".parse().unwrap()));
        assert!(!allow.allows("::ffff:11.0.0.1".parse().unwrap()));
    }
}
