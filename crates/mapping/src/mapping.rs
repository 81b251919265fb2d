//! The mapping: served zones and the names they map, indexed for lookup.
//!
//! A [`Mapping`] is immutable and only built from a checked file
//! ([`crate::load_str`]), so everything in it is valid: every name lies in
//! exactly one served zone, and no name maps to conflicting addresses.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::azure::backup::StorageService;
use crate::name::{DomainName, Suffixes};
use crate::nodes::Nodes;
use crate::settings::Fallback;

/// The SOA of a served zone, with the values Azure Private DNS uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    pub mname: DomainName,
    pub rname: DomainName,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    /// Negative-caching TTL (RFC 2308); also the TTL of the SOA in NXDOMAIN/NODATA answers.
    pub minimum: u32,
    /// TTL of the SOA record itself when asked for.
    pub ttl: u32,
}

impl Soa {
    /// Azure Private DNS's SOA (reference §4.2): `azureprivatedns.net`,
    /// `azureprivatedns-host.microsoft.com`, 1, 3600/300/2419200, minimum 10, TTL 3600.
    pub fn azure() -> Self {
        Self {
            mname: DomainName::from_trusted("azureprivatedns.net"),
            rname: DomainName::from_trusted("azureprivatedns-host.microsoft.com"),
            serial: 1,
            refresh: 3600,
            retry: 300,
            expire: 2_419_200,
            minimum: 10,
            ttl: 3600,
        }
    }

    /// The TTL of this SOA in a negative answer: min(SOA TTL, minimum), RFC 2308 §3.
    pub fn negative_ttl(&self) -> u32 {
        self.ttl.min(self.minimum)
    }
}

/// The TTL of the NS record set at a served apex.
pub const NS_TTL: u32 = 3600;

/// A zone this server answers for authoritatively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// This zone's position in [`Mapping::zones`], for tables kept beside the mapping.
    pub index: usize,
    pub apex: DomainName,
    pub fallback: Fallback,
    /// TTL of the mapped records.
    pub ttl: u32,
    pub soa: Soa,
    /// The NS target at the apex (`server.hostname`).
    pub nameserver: DomainName,
}

/// The role of a storage account in Azure Backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StorageRole {
    /// The communication account (`_ecs` private endpoint): blob and queue,
    /// needed after the first registration.
    Ecs,
    /// A backup-data account (`_prot` private endpoint): blob, needed after the first backup.
    Prot,
}

impl StorageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ecs => "ecs",
            Self::Prot => "prot",
        }
    }
}

/// Where in the file a mapped name came from, for logs and `records`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The `[records]` table.
    Records,
    /// A `[[vault]]`'s `[vault.backup]` service.
    Backup { vault: Arc<str>, service: Arc<str> },
    /// A `[[vault]]`'s `[vault.site_recovery]` service.
    SiteRecovery { vault: Arc<str>, service: Arc<str> },
    /// A `[[vault.storage]]` account.
    Storage {
        vault: Arc<str>,
        account: Arc<str>,
        role: StorageRole,
        service: StorageService,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Records => f.write_str("records"),
            Self::Backup { vault, service } => write!(f, "vault {vault} backup {service}"),
            Self::SiteRecovery { vault, service } => {
                write!(f, "vault {vault} site-recovery {service}")
            }
            Self::Storage {
                vault,
                role,
                service,
                ..
            } => write!(
                f,
                "vault {vault} storage {} {}",
                role.as_str(),
                service.as_str()
            ),
        }
    }
}

/// The data at one name. A node without origin is an empty non-terminal: a
/// name that only exists because names below it are mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// Index of the zone in [`Mapping::zones`] (u32 keeps the node small).
    pub(crate) zone: u32,
    /// The file line the name was declared on (0 for an empty non-terminal);
    /// beside `zone`, it costs no space.
    pub(crate) line: u32,
    pub(crate) addresses: Addresses,
    pub(crate) origin: Option<Origin>,
}

/// The addresses of one name, IPv4 and IPv6 each in the order given. Most
/// names have a single IPv4 address, kept inline: a 100,000-name mapping
/// then makes no allocation for its addresses, and a node stays small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Addresses {
    #[default]
    None,
    One(Ipv4Addr),
    Many(Box<AddressLists>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddressLists {
    v4: Box<[Ipv4Addr]>,
    v6: Box<[Ipv6Addr]>,
}

impl Addresses {
    pub(crate) fn new(addrs: &[IpAddr]) -> Self {
        match addrs {
            [] => Self::None,
            [IpAddr::V4(v4)] => Self::One(*v4),
            _ => Self::Many(Box::new(AddressLists {
                v4: addrs
                    .iter()
                    .filter_map(|a| match a {
                        IpAddr::V4(v4) => Some(*v4),
                        IpAddr::V6(_) => None,
                    })
                    .collect(),
                v6: addrs
                    .iter()
                    .filter_map(|a| match a {
                        IpAddr::V6(v6) => Some(*v6),
                        IpAddr::V4(_) => None,
                    })
                    .collect(),
            })),
        }
    }

    pub(crate) fn v4(&self) -> &[Ipv4Addr] {
        match self {
            Self::None => &[],
            Self::One(v4) => std::slice::from_ref(v4),
            Self::Many(lists) => &lists.v4,
        }
    }

    pub(crate) fn v6(&self) -> &[Ipv6Addr] {
        match self {
            Self::None | Self::One(_) => &[],
            Self::Many(lists) => &lists.v6,
        }
    }

    /// Every address, IPv4 first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let v4 = self.v4().iter().map(|&a| IpAddr::V4(a));
        v4.chain(self.v6().iter().map(|&a| IpAddr::V6(a)))
    }

    /// The addresses as a set: sorted, each once. Two entries mean the same
    /// when their sets are equal, whatever their order or repeats.
    pub(crate) fn set(&self) -> Vec<IpAddr> {
        let mut addresses: Vec<IpAddr> = self.iter().collect();
        addresses.sort();
        addresses.dedup();
        addresses
    }

    /// The same addresses with repeats next to each other removed, as served.
    pub(crate) fn deduplicated(self) -> Self {
        let Self::Many(lists) = self else {
            return self;
        };
        let AddressLists { v4, v6 } = *lists;
        let (mut v4, mut v6) = (v4.into_vec(), v6.into_vec());
        v4.dedup();
        v6.dedup();
        match (v4.as_slice(), v6.as_slice()) {
            ([], []) => Self::None,
            ([one], []) => Self::One(*one),
            _ => Self::Many(Box::new(AddressLists {
                v4: v4.into(),
                v6: v6.into(),
            })),
        }
    }
}

/// Any name that exists in a served zone: mapped, or an empty non-terminal
/// (no addresses, no origin). Apexes exist too but are not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeView<'m> {
    pub name: &'m DomainName,
    pub zone: &'m Zone,
    pub v4: &'m [Ipv4Addr],
    pub v6: &'m [Ipv6Addr],
    pub origin: Option<&'m Origin>,
    /// The file line it was declared on; 0 for an empty non-terminal.
    pub line: u32,
}

/// One mapped name, as listed by [`Mapping::names_in`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappedName<'m> {
    pub name: &'m DomainName,
    pub v4: &'m [Ipv4Addr],
    pub v6: &'m [Ipv6Addr],
    pub origin: &'m Origin,
    /// The file line it was declared on.
    pub line: u32,
}

/// Served zones and mapped names, ready for lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    /// Sorted by apex.
    pub(crate) zones: Vec<Zone>,
    pub(crate) zone_by_apex: HashMap<DomainName, usize>,
    pub(crate) nodes: Nodes<Node>,
    pub(crate) name_count: usize,
    /// Public zone → the served zones Azure CNAMEs its names into.
    pub(crate) twins: HashMap<DomainName, Vec<usize>>,
    /// The catalog zone, with `server.catalog`.
    pub(crate) catalog: Option<Catalog>,
}

/// The catalog zone of a mapping ([`crate::catalog`]): its apex and SOA;
/// the members are the mapping's zones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub apex: DomainName,
    pub soa: Soa,
}

impl Mapping {
    /// Every served zone, sorted by apex.
    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    /// The number of mapped names (empty non-terminals excluded).
    pub fn name_count(&self) -> usize {
        self.name_count
    }

    /// True when no name is mapped (zones alone may still be served).
    pub fn is_empty(&self) -> bool {
        self.name_count == 0
    }

    /// The deepest served zone containing a lower-case name (trailing dot optional).
    pub fn zone_for(&self, qname: &str) -> Option<&Zone> {
        self.zone_index_for(qname).map(|i| &self.zones[i])
    }

    pub(crate) fn zone_index_for(&self, qname: &str) -> Option<usize> {
        Suffixes::new(qname).find_map(|suffix| self.zone_by_apex.get(suffix).copied())
    }

    /// For a public name such as `acct.blob.core.windows.net`, the private
    /// names Azure's CNAME may point to (`acct.privatelink.blob.core.windows.net`)
    /// that lie in served zones, each with the deepest served zone holding
    /// it. Usually one; a public zone shared by two private zones
    /// (`wvd.microsoft.com`) gives one per served zone, in apex order.
    pub fn private_twins(&self, qname: &str) -> Vec<(String, &Zone)> {
        let qname = qname.strip_suffix('.').unwrap_or(qname);
        if self.zone_index_for(qname).is_some() {
            return Vec::new();
        }
        let Some((public, indexes)) = Suffixes::new(qname)
            .skip(1)
            .find_map(|public| Some((public, self.twins.get(public)?)))
        else {
            return Vec::new();
        };
        let prefix = &qname[..qname.len() - public.len() - 1];
        indexes
            .iter()
            .filter_map(|&index| {
                let twin = format!("{prefix}.{}", self.zones.get(index)?.apex);
                let zone = self.zone_index_for(&twin)?;
                Some((twin, &self.zones[zone]))
            })
            .collect()
    }

    /// Every name with a node (mapped names and empty non-terminals), in no order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeView<'_>> {
        self.nodes.iter().filter_map(|(name, node)| {
            Some(NodeView {
                name,
                zone: self.zones.get(usize::try_from(node.zone).ok()?)?,
                v4: node.addresses.v4(),
                v6: node.addresses.v6(),
                origin: node.origin.as_ref(),
                line: node.line,
            })
        })
    }

    /// The mapped names of one zone, sorted.
    pub fn names_in(&self, zone: &Zone) -> Vec<MappedName<'_>> {
        let Some(&index) = self.zone_by_apex.get(zone.apex.as_str()) else {
            return Vec::new();
        };
        let mut names: Vec<MappedName<'_>> = self
            .nodes
            .iter()
            .filter(|(_, node)| usize::try_from(node.zone) == Ok(index))
            .filter_map(|(name, node)| {
                node.origin.as_ref().map(|origin| MappedName {
                    name,
                    v4: node.addresses.v4(),
                    v6: node.addresses.v6(),
                    origin,
                    line: node.line,
                })
            })
            .collect();
        names.sort_by(|a, b| a.name.cmp(b.name));
        names
    }
}
