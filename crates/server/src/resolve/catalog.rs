//! The catalog zone (RFC 9432) as DNS: its records, queries for its names,
//! and its transfers. The content is [`privatelink_mapping::catalog`]'s;
//! it is small (a record per served zone) and asked for only by
//! secondaries, so it is built per question rather than kept.
//!
//! Only clients in `server.allow_transfer` get answers: the catalog lists
//! every zone, which is a secondary's business. Others get REFUSED.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{NS, PTR, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use privatelink_mapping::DomainName;
use privatelink_mapping::catalog::{CATALOG_NAMESERVER, CATALOG_VERSION, Catalog};
use privatelink_mapping::serial::is_newer;

use super::authoritative::{soa_record, to_name};
use super::messages::{Transfer, ZoneMessages};
use crate::reply::{Outcome, Reply};
use crate::store::Snapshot;

/// TTL of the catalog's records: they are read by transfer, not cached.
const TTL: u32 = 3600;

/// The catalog's records in transfer order, SOA first (the closing SOA
/// is the caller's); `None` when a name cannot be written.
fn records(catalog: &Catalog, snapshot: &Snapshot) -> Option<Vec<Record>> {
    let apex = to_name(&catalog.apex).ok()?;
    let zones = Name::from_ascii("zones").ok()?.append_domain(&apex).ok()?;
    let version = Name::from_ascii("version")
        .ok()?
        .append_domain(&apex)
        .ok()?;
    let invalid = Name::from_ascii(format!("{CATALOG_NAMESERVER}.")).ok()?;
    let txt = RData::TXT(TXT::new(vec![CATALOG_VERSION.to_string()]));
    let mut records = vec![
        soa_record(&apex, &catalog.soa).ok()?,
        Record::from_rdata(apex.clone(), TTL, RData::NS(NS(invalid))),
        Record::from_rdata(version, TTL, txt),
    ];
    for member in snapshot.mapping.catalog_members() {
        let owner = Name::from_ascii(&member.id)
            .ok()?
            .append_domain(&zones)
            .ok()?;
        let target = to_name(member.zone).ok()?;
        records.push(Record::from_rdata(owner, TTL, RData::PTR(PTR(target))));
    }
    Some(records)
}

/// The answer to a query for a name in the catalog zone; `None` when the
/// name is not in it (or there is no catalog).
pub(super) fn answer(
    request: &Request,
    snapshot: &Snapshot,
    key: &str,
    rtype: RecordType,
    signed: Option<&DomainName>,
) -> Option<Reply> {
    let catalog = snapshot.mapping.catalog()?;
    if !in_catalog(key, catalog) {
        return None;
    }
    if !snapshot.transfers.allows(request.src().ip(), signed) {
        return Some(Reply::error(Outcome::Refused, ResponseCode::Refused));
    }
    let Some(records) = records(catalog, snapshot) else {
        return Some(Reply::error(Outcome::ServFail, ResponseCode::ServFail));
    };
    let asked = request.queries.queries().first()?.original().name().clone();
    let owned: Vec<&Record> = records
        .iter()
        .filter(|record| record.name.eq_ignore_root(&asked))
        .collect();
    let answers: Vec<Record> = owned
        .iter()
        .filter(|record| rtype == RecordType::ANY || record.record_type() == rtype)
        .map(|record| {
            // The owner as asked: a 0x20-randomised query gets its case back.
            let mut record = (*record).clone();
            record.name = asked.clone();
            record
        })
        .collect();
    let soa = records.first().cloned().into_iter().collect();
    // `zones.<catalog>` is an empty non-terminal: NODATA, not NXDOMAIN.
    let exists = !owned.is_empty()
        || records
            .iter()
            .any(|r| asked.zone_of(&r.name) && !r.name.eq_ignore_root(&asked));
    Some(match (answers.is_empty(), exists) {
        (false, _) => {
            Reply::authoritative(Outcome::Mapped, ResponseCode::NoError, answers, Vec::new())
        }
        (true, true) => {
            Reply::authoritative(Outcome::NoData, ResponseCode::NoError, Vec::new(), soa)
        }
        (true, false) => {
            Reply::authoritative(Outcome::NxDomain, ResponseCode::NXDomain, Vec::new(), soa)
        }
    })
}

/// The answer to an AXFR or IXFR of the catalog (the client is allowed);
/// `None` when `key` is not the catalog's apex. An IXFR from an older
/// serial gets the whole catalog: it is small.
pub(super) fn transfer<'s>(
    request: &Request,
    snapshot: &'s Snapshot,
    key: &str,
    rtype: RecordType,
) -> Option<Transfer<'s>> {
    let catalog = snapshot
        .mapping
        .catalog()
        .filter(|c| c.apex.as_str() == key)?;
    let Some(mut records) = records(catalog, snapshot) else {
        return Some(Transfer::Single(Reply::error(
            Outcome::ServFail,
            ResponseCode::ServFail,
        )));
    };
    let soa = records.first().cloned()?;
    let soa_alone = || {
        Transfer::Single(Reply::authoritative(
            Outcome::Transfer,
            ResponseCode::NoError,
            vec![soa.clone()],
            Vec::new(),
        ))
    };
    let current = catalog.soa.serial;
    let held = request
        .authorities
        .iter()
        .find_map(|record| match &record.data {
            RData::SOA(soa) => Some(soa.serial),
            _ => None,
        });
    let udp = request.protocol() == Protocol::Udp;
    let mut style = "AXFR";
    if rtype == RecordType::IXFR {
        let Some(held) = held else {
            return Some(Transfer::Single(Reply::error(
                Outcome::FormErr,
                ResponseCode::FormErr,
            )));
        };
        if held == current || is_newer(held, current) || udp {
            return Some(soa_alone());
        }
        style = "AXFR for IXFR";
    } else if udp {
        return Some(Transfer::Single(Reply::error(
            Outcome::Refused,
            ResponseCode::Refused,
        )));
    }
    records.push(soa.clone());
    let messages = ZoneMessages::from_records(
        Box::new(records.into_iter()),
        &catalog.apex,
        current,
        style,
        held,
    );
    Some(Transfer::Zone(messages))
}

/// True when `key` (lower case, no trailing dot) is in the catalog zone.
fn in_catalog(key: &str, catalog: &Catalog) -> bool {
    let apex = catalog.apex.as_str();
    key == apex
        || key
            .strip_suffix(apex)
            .is_some_and(|rest| rest.ends_with('.'))
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
