//! What Azure's resolver does with forwarded answers, done here: a public
//! name whose CNAME chain enters a served zone gets the local answer for the
//! rest of the chain, and, when no upstream can be asked, a public twin of a
//! mapped name gets the CNAME + A that Azure would have given.
//!
//! `acct.blob.core.windows.net CNAME acct.privatelink.blob.core.windows.net`
//! keeps that first CNAME; whatever the upstream said after it (the public
//! `blob.<cluster>.store.core.windows.net` and its public IP) is replaced by
//! the served zone's answer: the private A records, or NODATA / NXDOMAIN with
//! the zone's SOA. A zone whose fallback is `forward` leaves the public
//! answer alone, as Azure's NxDomainRedirect does.

use std::net::SocketAddr;
use std::time::Instant;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use privatelink_mapping::{Lookup, QueryType};

use super::authoritative;
use super::forward::chain;
use crate::reply::{Aging, Outcome, Reply};
use crate::store::Snapshot;
use crate::wire::lookup_key;

/// The client's question, as chain completion and synthesis need it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asked<'a> {
    /// The name as the client wrote it.
    pub(crate) name: &'a Name,
    pub(crate) rtype: RecordType,
    /// The same type in the mapping's terms.
    pub(crate) mapped: QueryType,
    /// The client asked for DNSSEC (DO) or set AD: an upstream AD may be relayed.
    pub(crate) wants_ad: bool,
}

/// Whether a question's answer follows CNAMEs at all: a query for the CNAME
/// itself, or for ANY, is answered as the upstream gave it.
fn follows_cnames(qtype: RecordType) -> bool {
    !matches!(qtype, RecordType::CNAME | RecordType::ANY)
}

/// The reply for a sanitised upstream answer to `qname`: the answer itself,
/// or, when its chain enters a served zone, the chain up to there plus the
/// local answer. `outcome` says where the answer came from (forwarded, cached, stale);
/// `aged_at`, for a fresh cached answer, when its TTLs were exact: the
/// records that came from the cache are then marked as aging.
pub(crate) fn complete(
    asked: &Asked<'_>,
    answer: Message,
    snapshot: &Snapshot,
    outcome: Outcome,
    upstream: Option<SocketAddr>,
    aged_at: Option<Instant>,
) -> Reply {
    if follows_cnames(asked.rtype) {
        let names = chain(asked.name, &answer);
        for (position, name) in names.iter().enumerate().skip(1) {
            let key = lookup_key(name);
            let lookup = snapshot.mapping.lookup(&key, asked.mapped);
            let zone = match lookup {
                Lookup::NotServed => continue,
                // The zone resolves unmapped names publicly: keep the upstream's answer.
                Lookup::Fallback { .. } => break,
                Lookup::Answer { zone, .. }
                | Lookup::NoData { zone, .. }
                | Lookup::NxDomain { zone } => zone,
            };
            let Some(zone_records) = snapshot.zone_records(zone) else {
                break;
            };
            let local = authoritative::authoritative(&lookup, name, zone_records);
            let kept = &names[..position];
            let mut answers: Vec<Record> = answer
                .answers
                .into_iter()
                .filter(|r| r.record_type() == RecordType::CNAME && kept.contains(&r.name))
                .collect();
            let from_cache = answers.len();
            answers.extend(local.answers);
            let mut reply = Reply::recursive(
                Outcome::Chained,
                local.rcode,
                answers,
                local.authorities,
                upstream,
            );
            reply.missing = local.missing;
            reply.aging = aged_at.map(|since| Aging {
                answers: from_cache,
                authorities: 0,
                since,
            });
            return reply;
        }
    }
    let mut reply = Reply::relayed(answer, asked.wants_ad, outcome, upstream);
    reply.aging = aged_at.map(|since| Aging {
        answers: reply.answers.len(),
        authorities: reply.authorities.len(),
        since,
    });
    reply
}

/// For a public name whose private twin is mapped (`acct.blob.core.windows.net`
/// → `acct.privatelink.blob.core.windows.net`), the answer Azure would give:
/// CNAME to the twin plus the twin's local answer. `None` when the name has
/// no mapped twin.
pub(crate) fn synthesize(asked: &Asked<'_>, key: &str, snapshot: &Snapshot) -> Option<Reply> {
    // The first candidate that is mapped (two private zones may share a
    // public one, as both Virtual Desktop zones share wvd.microsoft.com).
    let (twin, zone, lookup) =
        snapshot
            .mapping
            .private_twins(key)
            .into_iter()
            .find_map(|(twin, zone)| {
                let lookup = snapshot.mapping.lookup(&twin, asked.mapped);
                let mapped = match &lookup {
                    Lookup::Answer { records, .. } => records.origin.is_some(),
                    Lookup::NoData { origin, .. } => origin.is_some(),
                    _ => false,
                };
                mapped.then_some((twin, zone, lookup))
            })?;
    let twin_name = Name::from_ascii(format!("{twin}.")).ok()?;
    let cname = Record::from_rdata(
        asked.name.clone(),
        zone.ttl,
        RData::CNAME(CNAME(twin_name.clone())),
    );
    let (rcode, answers, authorities) = if follows_cnames(asked.rtype) {
        let local = authoritative::authoritative(&lookup, &twin_name, snapshot.zone_records(zone)?);
        let mut answers = vec![cname];
        answers.extend(local.answers);
        (local.rcode, answers, local.authorities)
    } else {
        (ResponseCode::NoError, vec![cname], Vec::new())
    };
    Some(Reply::recursive(
        Outcome::Synthesized,
        rcode,
        answers,
        authorities,
        None,
    ))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::rdata::A;
    use privatelink_mapping::load_str;

    use super::*;

    fn snapshot() -> Snapshot {
        let loaded = load_str(
            "t.toml",
            r#"
[[zone]]
name = "privatelink.vaultcore.azure.net"
fallback = "forward"
[records]
"acct.privatelink.blob.core.windows.net" = ["10.0.0.1", "10.0.0.2"]
"kv.privatelink.vaultcore.azure.net" = "10.0.0.3"
"#,
        )
        .unwrap();
        Snapshot::new(loaded, 1).unwrap()
    }

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn upstream(records: &[(&str, &str)]) -> Message {
        let mut message = Message::new(1, MessageType::Response, OpCode::Query);
        for (owner, data) in records {
            let data = match data.parse::<Ipv4Addr>() {
                Ok(ip) => RData::A(A(ip)),
                Err(_) => RData::CNAME(CNAME(name(data))),
            };
            message.add_answer(Record::from_rdata(name(owner), 60, data));
        }
        message
    }

    fn run(qname: &str, qtype: RecordType, answer: Message) -> Reply {
        let mapped = match qtype {
            RecordType::A => QueryType::A,
            RecordType::AAAA => QueryType::Aaaa,
            _ => QueryType::Other,
        };
        let qname = name(qname);
        let asked = Asked {
            name: &qname,
            rtype: qtype,
            mapped,
            wants_ad: false,
        };
        complete(&asked, answer, &snapshot(), Outcome::Forwarded, None, None)
    }

    fn rendered(records: &[Record]) -> Vec<String> {
        records
            .iter()
            .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
            .collect()
    }

    #[test]
    fn the_public_tail_is_replaced_by_the_private_answer() {
        let answer = upstream(&[
            (
                "acct.blob.core.windows.net.",
                "acct.privatelink.blob.core.windows.net.",
            ),
            (
                "acct.privatelink.blob.core.windows.net.",
                "blob.ams.store.core.windows.net.",
            ),
            ("blob.ams.store.core.windows.net.", "20.60.0.1"),
        ]);
        let reply = run("acct.blob.core.windows.net.", RecordType::A, answer);
        assert_eq!(reply.outcome, Outcome::Chained);
        assert_eq!(reply.rcode, ResponseCode::NoError);
        assert!(!reply.authoritative && !reply.authentic_data);
        assert_eq!(
            rendered(&reply.answers),
            [
                "acct.blob.core.windows.net. CNAME acct.privatelink.blob.core.windows.net.",
                "acct.privatelink.blob.core.windows.net. A 10.0.0.1",
                "acct.privatelink.blob.core.windows.net. A 10.0.0.2",
            ]
        );
        assert!(reply.authorities.is_empty());
    }

    #[test]
    fn a_chain_that_already_stops_at_the_private_name_is_completed() {
        // Some resolvers stop where their view ends; the private answer is added.
        let answer = upstream(&[(
            "acct.blob.core.windows.net.",
            "acct.privatelink.blob.core.windows.net.",
        )]);
        let reply = run("acct.blob.core.windows.net.", RecordType::A, answer);
        assert_eq!(reply.answers.len(), 3);
    }

    #[test]
    fn unmapped_and_other_type_targets_carry_the_zone_soa() {
        let answer = upstream(&[
            (
                "other.blob.core.windows.net.",
                "other.privatelink.blob.core.windows.net.",
            ),
            (
                "other.privatelink.blob.core.windows.net.",
                "blob.ams.store.core.windows.net.",
            ),
            ("blob.ams.store.core.windows.net.", "20.60.0.1"),
        ]);
        let reply = run("other.blob.core.windows.net.", RecordType::A, answer);
        assert_eq!(reply.rcode, ResponseCode::NXDomain);
        assert_eq!(reply.answers.len(), 1);
        assert_eq!(
            rendered(&reply.authorities)[0].split(' ').nth(1),
            Some("SOA")
        );
        assert_eq!(reply.authorities[0].ttl, 10);

        let answer = upstream(&[(
            "acct.blob.core.windows.net.",
            "acct.privatelink.blob.core.windows.net.",
        )]);
        let reply = run("acct.blob.core.windows.net.", RecordType::AAAA, answer);
        assert_eq!(reply.rcode, ResponseCode::NoError);
        assert_eq!(reply.answers.len(), 1);
        assert_eq!(reply.authorities.len(), 1);
    }

    #[test]
    fn answers_that_never_enter_a_served_zone_are_relayed() {
        let answer = upstream(&[
            ("www.example.", "edge.example.net."),
            ("edge.example.net.", "192.0.2.1"),
        ]);
        let reply = run("www.example.", RecordType::A, answer);
        assert_eq!(reply.outcome, Outcome::Forwarded);
        assert_eq!(reply.answers.len(), 2);
    }

    #[test]
    fn zones_that_fall_back_and_cname_queries_keep_the_upstream_answer() {
        let answer = upstream(&[
            (
                "kv2.vault.azure.net.",
                "kv2.privatelink.vaultcore.azure.net.",
            ),
            (
                "kv2.privatelink.vaultcore.azure.net.",
                "data.vaultcore.azure.net.",
            ),
            ("data.vaultcore.azure.net.", "52.1.2.3"),
        ]);
        let reply = run("kv2.vault.azure.net.", RecordType::A, answer);
        assert_eq!(reply.outcome, Outcome::Forwarded);
        assert_eq!(reply.answers.len(), 3);
        // But a mapped name in such a zone is still completed.
        let answer = upstream(&[("kv.vault.azure.net.", "kv.privatelink.vaultcore.azure.net.")]);
        let reply = run("kv.vault.azure.net.", RecordType::A, answer);
        assert_eq!(reply.outcome, Outcome::Chained);
        let answer = upstream(&[(
            "acct.blob.core.windows.net.",
            "acct.privatelink.blob.core.windows.net.",
        )]);
        assert_eq!(
            run("acct.blob.core.windows.net.", RecordType::CNAME, answer).outcome,
            Outcome::Forwarded
        );
    }

    #[test]
    fn synthesis_needs_a_mapped_twin() {
        let snapshot = snapshot();
        let synth = |qname: &str, rtype: RecordType, mapped: QueryType| {
            let qname = name(qname);
            let key = qname.to_ascii().trim_end_matches('.').to_ascii_lowercase();
            let asked = Asked {
                name: &qname,
                rtype,
                mapped,
                wants_ad: false,
            };
            synthesize(&asked, &key, &snapshot)
        };
        let reply = synth("Acct.Blob.Core.Windows.Net.", RecordType::A, QueryType::A).unwrap();
        assert_eq!(reply.outcome, Outcome::Synthesized);
        assert_eq!(
            rendered(&reply.answers)[0],
            "Acct.Blob.Core.Windows.Net. CNAME acct.privatelink.blob.core.windows.net."
        );
        assert_eq!(reply.answers.len(), 3);
        let cname_only = synth(
            "acct.blob.core.windows.net.",
            RecordType::CNAME,
            QueryType::Other,
        )
        .unwrap();
        assert_eq!(cname_only.answers.len(), 1);
        assert!(synth("nope.blob.core.windows.net.", RecordType::A, QueryType::A).is_none());
        assert!(synth("www.example.", RecordType::A, QueryType::A).is_none());
    }
}
