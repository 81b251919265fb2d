//! Zone transfers out (RFC 5936), so that existing DNS servers can hold
//! secondary copies of the served zones.
//!
//! Only clients in `server.allow_transfer` may transfer (none by default).
//! AXFR is served over TCP; IXFR is answered with the whole zone in AXFR
//! form, which RFC 1995 §4 allows when no history is kept, and over UDP
//! with the current SOA alone, which tells the secondary whether it needs
//! to ask again over TCP. Zone data comes from the query's one snapshot, so
//! a transfer never mixes two mapping versions.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;

use crate::answer::ZoneRecords;
use crate::handler::lookup_key;
use crate::reply::{Outcome, Reply};
use crate::store::Snapshot;

/// Records per transfer message. A record is at most 281 bytes (a 255-byte
/// owner without compression, an AAAA), so 200 of them, with the question
/// and an OPT, stay under the 64 KiB a TCP message can hold.
const RECORDS_PER_MESSAGE: usize = 200;

/// The messages that answer a zone transfer request, in order; `None` when
/// `request` asks for no transfer (the handler answers it as any query).
pub(crate) fn respond(request: &Request, snapshot: &Snapshot) -> Option<Vec<Reply>> {
    let [query] = request.queries.queries() else {
        return None;
    };
    let rtype = query.query_type();
    if !matches!(rtype, RecordType::AXFR | RecordType::IXFR) || query.query_class() != DNSClass::IN
    {
        return None;
    }
    let refused = || Some(vec![Reply::error(Outcome::Refused, ResponseCode::Refused)]);
    if !snapshot.transfers.allow.allows(request.src().ip()) {
        return refused();
    }
    let key = lookup_key(query.name());
    let Some(zone) = snapshot
        .mapping
        .zone_for(&key)
        .filter(|zone| zone.apex.as_str() == key)
    else {
        // RFC 5936 §2.2.1: not authoritative for that zone.
        return Some(vec![Reply::error(Outcome::NotAuth, ResponseCode::NotAuth)]);
    };
    let records = snapshot.zone_records(zone)?;
    match (request.protocol(), rtype) {
        (Protocol::Udp, RecordType::IXFR) => Some(vec![Reply::authoritative(
            Outcome::Transfer,
            ResponseCode::NoError,
            vec![records.soa().clone()],
            Vec::new(),
        )]),
        (Protocol::Udp, _) => refused(),
        _ => Some(whole_zone(snapshot, zone, records)),
    }
}

/// The zone as AXFR sends it: SOA, NS, every mapped address, SOA again.
fn whole_zone(
    snapshot: &Snapshot,
    zone: &privatelink_mapping::Zone,
    prepared: &ZoneRecords,
) -> Vec<Reply> {
    let mut records = vec![prepared.soa().clone(), prepared.ns().clone()];
    for mapped in snapshot.mapping.names_in(zone) {
        let Ok(owner) = Name::from_ascii(format!("{}.", mapped.name)) else {
            continue;
        };
        records.extend(
            mapped
                .v4
                .iter()
                .map(|ip| Record::from_rdata(owner.clone(), zone.ttl, RData::A(A(*ip)))),
        );
        records.extend(
            mapped
                .v6
                .iter()
                .map(|ip| Record::from_rdata(owner.clone(), zone.ttl, RData::AAAA(AAAA(*ip)))),
        );
    }
    records.push(prepared.soa().clone());
    records
        .chunks(RECORDS_PER_MESSAGE)
        .map(|chunk| {
            Reply::authoritative(
                Outcome::Transfer,
                ResponseCode::NoError,
                chunk.to_vec(),
                Vec::new(),
            )
        })
        .collect()
}
