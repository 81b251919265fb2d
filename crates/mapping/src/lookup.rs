//! Answering one question from the mapping, without any DNS wire format.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::mapping::{Mapping, Origin, Zone};
use crate::settings::Fallback;

/// The query types the mapping distinguishes; everything else is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryType {
    A,
    Aaaa,
    Soa,
    Ns,
    /// `ANY` (QTYPE 255).
    Any,
    Other,
}

/// The records that answer a question, as references into the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Records<'m> {
    pub v4: &'m [Ipv4Addr],
    pub v6: &'m [Ipv6Addr],
    /// The zone SOA (apex only).
    pub soa: bool,
    /// The zone NS (apex only).
    pub ns: bool,
    /// Where the name came from, when it is a mapped name.
    pub origin: Option<&'m Origin>,
}

impl Records<'_> {
    fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty() && !self.soa && !self.ns
    }
}

/// The outcome of looking up one name and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'m> {
    /// Authoritative data: NOERROR with these records.
    Answer {
        zone: &'m Zone,
        records: Records<'m>,
    },
    /// The name exists but has no data of this type: NOERROR, empty answer, SOA.
    NoData {
        zone: &'m Zone,
        origin: Option<&'m Origin>,
    },
    /// The name does not exist in a served zone: NXDOMAIN with the SOA.
    NxDomain { zone: &'m Zone },
    /// The name does not exist in a served zone whose fallback is `forward`.
    Fallback { zone: &'m Zone },
    /// No served zone contains the name: forward it.
    NotServed,
}

impl Mapping {
    /// Looks up a lower-case name (trailing dot optional).
    ///
    /// The deepest served zone containing the name decides; inside it a name
    /// is mapped, an empty non-terminal (NODATA), or absent (NXDOMAIN, or
    /// `Fallback` when the zone forwards what it does not map).
    pub fn lookup(&self, qname: &str, qtype: QueryType) -> Lookup<'_> {
        let qname = qname.strip_suffix('.').unwrap_or(qname);
        let Some(zone_index) = self.zone_index_for(qname) else {
            return Lookup::NotServed;
        };
        let zone = &self.zones[zone_index];
        let node = self.nodes.get(qname);
        let at_apex = qname == zone.apex.as_str();
        if node.is_none() && !at_apex {
            return match zone.fallback {
                Fallback::NxDomain => Lookup::NxDomain { zone },
                Fallback::Forward => Lookup::Fallback { zone },
            };
        }

        let (v4, v6, origin) = node.map_or((&[][..], &[][..], None), |node| {
            (
                node.addresses.v4(),
                node.addresses.v6(),
                node.origin.as_ref(),
            )
        });
        // ANY gets one RRset, not everything (RFC 8482): the SOA at an apex,
        // else the A records, else the AAAA records.
        let any = qtype == QueryType::Any;
        let any_soa = any && at_apex;
        let any_v4 = any && !at_apex && !v4.is_empty();
        let any_v6 = any && !at_apex && v4.is_empty();
        let records = Records {
            v4: if qtype == QueryType::A || any_v4 {
                v4
            } else {
                &[]
            },
            v6: if qtype == QueryType::Aaaa || any_v6 {
                v6
            } else {
                &[]
            },
            soa: at_apex && (qtype == QueryType::Soa || any_soa),
            ns: at_apex && qtype == QueryType::Ns,
            origin,
        };
        if records.is_empty() {
            Lookup::NoData { zone, origin }
        } else {
            Lookup::Answer { zone, records }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load_str;

    const FILE: &str = r#"
[zones]
fallback = "nxdomain"

[[zone]]
name = "privatelink.vaultcore.azure.net"
fallback = "forward"

[[zone]]
name = "privatelink.file.core.windows.net"

[records]
"Acct01.privatelink.blob.core.windows.net" = ["10.0.0.1", "10.0.0.2"]
"dual.privatelink.blob.core.windows.net" = ["10.0.0.3", "fd00::3"]
"app.deep.privatelink.blob.core.windows.net" = "10.0.0.4"
"kv1.privatelink.vaultcore.azure.net" = "10.0.0.5"
"#;

    fn mapping() -> Mapping {
        load_str("t.toml", FILE).unwrap().mapping
    }

    fn apex(lookup: Lookup<'_>) -> Option<&str> {
        match lookup {
            Lookup::Answer { zone, .. }
            | Lookup::NoData { zone, .. }
            | Lookup::NxDomain { zone }
            | Lookup::Fallback { zone } => Some(zone.apex.as_str()),
            Lookup::NotServed => None,
        }
    }

    #[test]
    fn mapped_name_answers_a_with_its_addresses() {
        let m = mapping();
        let Lookup::Answer { zone, records } =
            m.lookup("acct01.privatelink.blob.core.windows.net.", QueryType::A)
        else {
            panic!("expected an answer");
        };
        assert_eq!(zone.apex.as_str(), "privatelink.blob.core.windows.net");
        assert_eq!(
            records.v4,
            [
                "10.0.0.1".parse::<Ipv4Addr>().unwrap(),
                "10.0.0.2".parse().unwrap()
            ]
        );
        assert!(records.v6.is_empty() && !records.soa && !records.ns);
        assert_eq!(records.origin, Some(&Origin::Records));
        assert_eq!(zone.ttl, 10);
    }

    #[test]
    fn other_types_at_a_mapped_name_are_nodata() {
        let m = mapping();
        let name = "acct01.privatelink.blob.core.windows.net";
        assert!(matches!(
            m.lookup(name, QueryType::Aaaa),
            Lookup::NoData {
                origin: Some(_),
                ..
            }
        ));
        assert!(matches!(
            m.lookup(name, QueryType::Other),
            Lookup::NoData { .. }
        ));
        assert!(matches!(
            m.lookup(name, QueryType::Soa),
            Lookup::NoData { .. }
        ));
        let Lookup::Answer { records, .. } =
            m.lookup("dual.privatelink.blob.core.windows.net", QueryType::Aaaa)
        else {
            panic!("expected an answer");
        };
        assert_eq!(records.v6, ["fd00::3".parse::<Ipv6Addr>().unwrap()]);
        let Lookup::Answer { records, .. } =
            m.lookup("dual.privatelink.blob.core.windows.net", QueryType::Any)
        else {
            panic!("expected an answer");
        };
        // ANY: one RRset (RFC 8482), A first.
        assert_eq!((records.v4.len(), records.v6.len()), (1, 0));
        let Lookup::Answer { records, .. } =
            m.lookup("app.deep.privatelink.blob.core.windows.net", QueryType::Any)
        else {
            panic!("expected an answer");
        };
        assert_eq!(records.v4.len(), 1);
    }

    #[test]
    fn apex_answers_soa_and_ns_and_nodata_for_a() {
        let m = mapping();
        let apex_name = "privatelink.blob.core.windows.net";
        assert!(matches!(
            m.lookup(apex_name, QueryType::Soa),
            Lookup::Answer {
                records: Records {
                    soa: true,
                    ns: false,
                    ..
                },
                ..
            }
        ));
        assert!(matches!(
            m.lookup(apex_name, QueryType::Ns),
            Lookup::Answer {
                records: Records {
                    soa: false,
                    ns: true,
                    ..
                },
                ..
            }
        ));
        assert!(matches!(
            m.lookup(apex_name, QueryType::Any),
            Lookup::Answer {
                records: Records {
                    soa: true,
                    ns: false,
                    ..
                },
                ..
            }
        ));
        assert!(matches!(
            m.lookup(apex_name, QueryType::A),
            Lookup::NoData { origin: None, .. }
        ));
        // A zone declared with [[zone]] alone is served too.
        assert!(matches!(
            m.lookup("privatelink.file.core.windows.net", QueryType::Soa),
            Lookup::Answer { .. }
        ));
    }

    #[test]
    fn unmapped_names_in_served_zones() {
        let m = mapping();
        assert!(matches!(
            m.lookup("nosuch.privatelink.blob.core.windows.net", QueryType::A),
            Lookup::NxDomain { .. }
        ));
        // Below a mapped name nothing exists either.
        assert!(matches!(
            m.lookup("x.acct01.privatelink.blob.core.windows.net", QueryType::A),
            Lookup::NxDomain { .. }
        ));
        // An empty non-terminal exists: NODATA, not NXDOMAIN.
        assert!(matches!(
            m.lookup("deep.privatelink.blob.core.windows.net", QueryType::A),
            Lookup::NoData { origin: None, .. }
        ));
        // A zone whose fallback is `forward` hands unmapped names on.
        let nosuch_kv = m.lookup("nosuch.privatelink.vaultcore.azure.net", QueryType::A);
        assert!(matches!(nosuch_kv, Lookup::Fallback { .. }));
        assert_eq!(apex(nosuch_kv), Some("privatelink.vaultcore.azure.net"));
        assert!(matches!(
            m.lookup("kv1.privatelink.vaultcore.azure.net", QueryType::A),
            Lookup::Answer { .. }
        ));
    }

    #[test]
    fn public_names_have_private_twins_in_served_zones() {
        let m = mapping();
        let twin = |name: &str| m.private_twins(name).into_iter().next();
        let (name, zone) = twin(
            "Acct01.blob.core.windows.net."
                .to_ascii_lowercase()
                .as_str(),
        )
        .unwrap();
        assert_eq!(name, "acct01.privatelink.blob.core.windows.net");
        assert_eq!(zone.apex.as_str(), "privatelink.blob.core.windows.net");
        let (name, _) = twin("kv1.vault.azure.net").unwrap();
        assert_eq!(name, "kv1.privatelink.vaultcore.azure.net");
        // Managed disks and Elastic SAN: blob.storage.azure.net is a twin too.
        let (name, _) = twin("acct01.blob.storage.azure.net").unwrap();
        assert_eq!(name, "acct01.privatelink.blob.core.windows.net");
        // The twin exists whether or not the name is mapped; lookup decides.
        assert_eq!(
            twin("nosuch.blob.core.windows.net").unwrap().0,
            "nosuch.privatelink.blob.core.windows.net"
        );
        // No served queue zone, no twin; the zone apex itself has none either.
        assert_eq!(twin("acct01.queue.core.windows.net"), None);
        assert_eq!(twin("blob.core.windows.net"), None);
        // Names inside served zones are never twins.
        assert_eq!(twin("x.privatelink.blob.core.windows.net"), None);
    }

    #[test]
    fn names_outside_served_zones_are_not_served() {
        let m = mapping();
        for name in [
            "acct01.blob.core.windows.net",
            "login.microsoftonline.com",
            "x.privatelink.queue.core.windows.net",
            "blob.core.windows.net",
            ".",
            "",
        ] {
            assert_eq!(m.lookup(name, QueryType::A), Lookup::NotServed, "{name}");
        }
    }
}
