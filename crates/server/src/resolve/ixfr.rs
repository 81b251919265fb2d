//! Incremental zone transfers (IXFR, RFC 1995) from the zones' history.
//!
//! The secondary names the serial it holds in the authority section. When
//! the journal reaches back to it, the answer is the current SOA, then for
//! each reload since, the SOA before, the records it removed, the SOA
//! after, the records it added, and the current SOA again (§4). A
//! secondary as new as us gets the SOA alone. When the history does not
//! reach (a restart, a TTL change, more changes than the zone holds), TCP
//! gets the whole zone in AXFR form, which §4 allows, and UDP the SOA
//! alone, which sends the secondary to TCP (§2). UDP carries the deltas
//! only when they fit in one message the client can take.

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use privatelink_mapping::journal::{AddressRecord, ZoneDelta};
use privatelink_mapping::serial::is_newer;
use privatelink_mapping::{Soa, Zone};

use super::authoritative::{ZoneRecords, soa_record, to_name};
use super::messages::{Transfer, ZoneMessages};
use crate::reply::{self, Outcome, Reply};
use crate::store::Snapshot;
use crate::wire::Transport;
use crate::wire::edns::ClientEdns;

/// The answer to an IXFR for `zone`, from a client `snapshot` allows.
pub(super) fn respond<'s>(
    request: &Request,
    snapshot: &'s Snapshot,
    zone: &'s Zone,
    prepared: &'s ZoneRecords,
) -> Transfer<'s> {
    let soa_alone = || Transfer::soa_alone(prepared.soa().clone());
    let current = zone.soa.serial;
    let held = match behind(request, prepared.soa(), current) {
        ControlFlow::Continue(held) => held,
        ControlFlow::Break(answer) => return answer,
    };
    let udp = request.protocol() == Protocol::Udp;
    let deltas = snapshot.journal.since(zone.apex.as_str(), held, current);
    let Some(records) = deltas.and_then(|deltas| incremental(zone, prepared, deltas)) else {
        if udp {
            return soa_alone();
        }
        let names = snapshot.mapping.names_in(zone);
        let whole = ZoneMessages::new(zone, prepared, names).answering_ixfr_from(held);
        return Transfer::Zone(whole);
    };
    if !udp {
        let messages =
            ZoneMessages::from_records(Box::new(records), &zone.apex, current, "IXFR", Some(held));
        return Transfer::Zone(messages);
    }
    // Encoded as it would be sent: if that truncates, the SOA alone. A
    // record takes 16 bytes at least (a compressed owner and an A), which
    // bounds what is gathered before trying.
    let client = ClientEdns::negotiate(request.edns.as_ref());
    let most = client.udp_limit / 16 + 1;
    let answers: Vec<Record> = records.take(most + 1).collect();
    if answers.len() > most {
        return soa_alone();
    }
    let reply = Reply::authoritative(
        Outcome::Transfer,
        ResponseCode::NoError,
        answers,
        Vec::new(),
    );
    let mut scratch = Vec::with_capacity(client.udp_limit);
    if reply::encode(&mut scratch, request, &reply, &client, Transport::Udp).truncated {
        return soa_alone();
    }
    Transfer::Single(reply)
}

/// The serial an IXFR's client holds (the SOA it puts in the authority
/// section, §3), when it is older than `current`; otherwise the answer:
/// FORMERR without that SOA (as BIND and Knot), `soa` alone when the
/// client is as new as us or newer.
pub(super) fn behind(
    request: &Request,
    soa: &Record,
    current: u32,
) -> ControlFlow<Transfer<'static>, u32> {
    let held = request
        .authorities
        .iter()
        .find_map(|record| match &record.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        });
    match held {
        None => ControlFlow::Break(Transfer::Single(Reply::error(
            Outcome::FormErr,
            ResponseCode::FormErr,
        ))),
        Some(held) if held == current || is_newer(held, current) => {
            ControlFlow::Break(Transfer::soa_alone(soa.clone()))
        }
        Some(held) => ControlFlow::Continue(held),
    }
}

/// The IXFR records from `deltas`, lazily per delta; `None` when an SOA
/// cannot be written (the whole zone is then sent instead).
fn incremental<'s>(
    zone: &'s Zone,
    prepared: &'s ZoneRecords,
    deltas: Vec<Arc<ZoneDelta>>,
) -> Option<impl Iterator<Item = Record> + Send + 's> {
    let apex = prepared.soa().name.clone();
    let soas = |soa: &Soa| soa_record(&apex, soa).ok();
    let bounds: Vec<(Record, Record)> = deltas
        .iter()
        .map(|delta| Some((soas(&delta.from)?, soas(&delta.to)?)))
        .collect::<Option<_>>()?;
    let ttl = zone.ttl;
    let sequences = deltas
        .into_iter()
        .zip(bounds)
        .flat_map(move |(delta, (from, to))| {
            let mut records = Vec::with_capacity(delta.record_count());
            records.push(from);
            records.extend(delta.removed.iter().filter_map(|r| address_record(r, ttl)));
            records.push(to);
            records.extend(delta.added.iter().filter_map(|r| address_record(r, ttl)));
            records
        });
    let current = || std::iter::once(prepared.soa().clone());
    Some(current().chain(sequences).chain(current()))
}

fn address_record((name, address): &AddressRecord, ttl: u32) -> Option<Record> {
    let owner: Name = to_name(name).ok()?;
    let data = match address {
        IpAddr::V4(ip) => RData::A(A(*ip)),
        IpAddr::V6(ip) => RData::AAAA(AAAA(*ip)),
    };
    Some(Record::from_rdata(owner, ttl, data))
}

#[cfg(test)]
#[path = "ixfr_tests.rs"]
mod tests;
