//! The catalog zone (RFC 9432) as DNS: queries for its names and its
//! transfers. The content is [`privatelink_mapping::catalog`]'s, as records
//! built at load ([`super::authoritative::catalog_records`]).
//!
//! Only clients in `server.allow_transfer` get answers: the catalog lists
//! every zone, which is a secondary's business. Others get REFUSED.

use std::ops::ControlFlow;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Record, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use privatelink_mapping::DomainName;
use privatelink_mapping::catalog::Catalog;

use super::messages::{Transfer, ZoneMessages};
use crate::reply::{Outcome, Reply};
use crate::store::Snapshot;

/// The answer to a query for a name in the catalog zone; `None` when the
/// name is not in it (or there is no catalog).
pub(super) fn answer(
    request: &Request,
    snapshot: &Snapshot,
    key: &str,
    rtype: RecordType,
    signed: Option<&DomainName>,
) -> Option<Reply> {
    let (catalog, records) = snapshot.catalog()?;
    if !in_catalog(key, catalog) {
        return None;
    }
    if !snapshot.transfers.allows(request.src().ip(), signed) {
        return Some(Reply::error(Outcome::Refused, ResponseCode::Refused));
    }
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
    let (catalog, records) = snapshot.catalog().filter(|(c, _)| c.apex.as_str() == key)?;
    let soa = records.first()?;
    let current = catalog.soa.serial;
    let udp = request.protocol() == Protocol::Udp;
    let (style, held) = if rtype == RecordType::IXFR {
        let held = match super::ixfr::behind(request, soa, current) {
            ControlFlow::Continue(held) => held,
            ControlFlow::Break(answer) => return Some(answer),
        };
        if udp {
            return Some(Transfer::soa_alone(soa.clone()));
        }
        ("AXFR for IXFR", Some(held))
    } else if udp {
        return Some(Transfer::Single(Reply::error(
            Outcome::Refused,
            ResponseCode::Refused,
        )));
    } else {
        ("AXFR", None)
    };
    let all = records.iter().chain(std::iter::once(soa)).cloned();
    let messages = ZoneMessages::from_records(Box::new(all), &catalog.apex, current, style, held);
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
