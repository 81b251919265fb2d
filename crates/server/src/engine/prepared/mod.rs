//! Prepared answers: a plain question for a name in a served zone,
//! answered straight from the mapping and per-zone wire data built once per
//! snapshot, without decoding the query into hickory types, allocating or
//! encoding records. The part of the engine that makes it fast.
//!
//! [`answer`] writes a complete response into the caller's buffer, says the
//! name is forwarded (the [response memo](super::memo) may then have an
//! answer), or declines, and the reference path answers. It declines every
//! QTYPE that is not plain data, SOA/NS/ANY questions in served zones (their
//! apex and RFC 8482 rules live in one place, the reference path) and
//! answers larger than the client may receive.
//!
//! The response is the reference path's, byte for byte (the engine's oracle
//! tests prove it): the header from [`crate::wire::response_flags`], the
//! question echoed as the client wrote it, answer owners and the SOA owner
//! pointers into the question, TTL 10 answers, the zone SOA with the
//! negative TTL for NODATA/NXDOMAIN, and the OPT from [`ClientEdns`].

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;
use privatelink_mapping::{Lookup, Mapping, QueryType};

use crate::reply::Outcome;
use crate::wire::edns::ClientEdns;
use crate::wire::query::{Question, suffix_offset};
use crate::wire::{
    HEADER, HeaderBits, QtypeClass, TYPE_A, TYPE_AAAA, TYPE_NS, TYPE_SOA, push_record, qtype_class,
    response_flags, soa_rdata,
};

#[derive(Debug, Clone)]
struct PreparedZone {
    /// The SOA's RDATA, names uncompressed.
    soa_rdata: Vec<u8>,
    negative_ttl: u32,
    /// Labels of the apex, so that the SOA owner can point into the question.
    apex_labels: usize,
}

/// Per-zone wire data for the prepared answers, in the order of the
/// mapping's zones; names are looked up in the mapping itself.
#[derive(Debug, Clone, Default)]
pub struct PreparedZones {
    zones: Vec<PreparedZone>,
}

impl PreparedZones {
    pub fn new(mapping: &Mapping) -> Self {
        Self {
            zones: mapping
                .zones()
                .iter()
                .map(|zone| PreparedZone {
                    soa_rdata: soa_rdata(&zone.soa),
                    negative_ttl: zone.soa.negative_ttl(),
                    apex_labels: zone.apex.label_count(),
                })
                .collect(),
        }
    }
}

/// What the prepared answers made of a parsed query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    /// The response is in the output buffer.
    Answered(Outcome, ResponseCode),
    /// No served zone answers the name: it is forwarded.
    Forwarded,
    /// The reference path must take it.
    Declined,
}

/// Writes the response to `query` (read into `question`, its OPT into
/// `edns`) into `out` when a served zone answers it within `limit` bytes.
pub(crate) fn answer(
    mapping: &Mapping,
    zones: &PreparedZones,
    question: &Question<'_>,
    query: &[u8],
    edns: &ClientEdns,
    limit: usize,
    out: &mut Vec<u8>,
) -> Served {
    let class = qtype_class(question.qtype());
    if !matches!(class, QtypeClass::Data | QtypeClass::Any) {
        return Served::Declined;
    }
    let Ok(name) = std::str::from_utf8(question.name()) else {
        return Served::Declined;
    };
    let qtype = match question.qtype() {
        TYPE_A => QueryType::A,
        TYPE_AAAA => QueryType::Aaaa,
        _ => QueryType::Other,
    };
    // SOA, NS and ANY have apex and RFC 8482 rules in served zones.
    let apex_rules = class == QtypeClass::Any || matches!(question.qtype(), TYPE_NS | TYPE_SOA);
    let (outcome, rcode, zone, records) = match mapping.lookup(name, qtype) {
        Lookup::Fallback { .. } | Lookup::NotServed => return Served::Forwarded,
        _ if apex_rules => return Served::Declined,
        Lookup::Answer { zone, records } => {
            let records = if !records.v4.is_empty() {
                Records::V4(records.v4, zone.ttl)
            } else {
                Records::V6(records.v6, zone.ttl)
            };
            (Outcome::Mapped, ResponseCode::NoError, zone, records)
        }
        Lookup::NoData { zone, .. } => {
            (Outcome::NoData, ResponseCode::NoError, zone, Records::None)
        }
        Lookup::NxDomain { zone } => (
            Outcome::NxDomain,
            ResponseCode::NXDomain,
            zone,
            Records::None,
        ),
    };
    let Some(prepared) = zones.zones.get(zone.index) else {
        return Served::Declined;
    };
    match write(prepared, question, query, edns, out, rcode, records) {
        Some(()) if out.len() <= limit => Served::Answered(outcome, rcode),
        _ => Served::Declined,
    }
}

fn write(
    zone: &PreparedZone,
    question: &Question<'_>,
    query: &[u8],
    edns: &ClientEdns,
    out: &mut Vec<u8>,
    rcode: ResponseCode,
    records: Records<'_>,
) -> Option<()> {
    let rcode = u16::from(rcode);
    let bits = HeaderBits {
        authoritative: true,
        recursion_available: true,
        ..HeaderBits::default()
    };
    out.clear();
    out.extend_from_slice(query.get(..2)?);
    out.extend_from_slice(&response_flags(question.flags(), bits, rcode).to_be_bytes());
    let answers = records.len();
    let authorities = u16::from(answers == 0);
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&u16::try_from(answers).ok()?.to_be_bytes());
    out.extend_from_slice(&authorities.to_be_bytes());
    out.extend_from_slice(&u16::from(edns.present).to_be_bytes());
    // The question as the client wrote it.
    out.extend_from_slice(query.get(HEADER..question.end())?);
    // Answers, their owner a pointer to the question name.
    match records {
        Records::V4(addrs, ttl) => {
            for addr in addrs {
                push_record(out, 0xC00C, TYPE_A, ttl, &addr.octets());
            }
        }
        Records::V6(addrs, ttl) => {
            for addr in addrs {
                push_record(out, 0xC00C, TYPE_AAAA, ttl, &addr.octets());
            }
        }
        Records::None => {
            // The SOA, its owner a pointer to the apex inside the question name.
            let apex_offset = suffix_offset(query, question.labels(), zone.apex_labels)?;
            let pointer = 0xC000 | u16::try_from(apex_offset).ok()?;
            push_record(out, pointer, TYPE_SOA, zone.negative_ttl, &zone.soa_rdata);
        }
    }
    edns.write_opt(out, rcode);
    Some(())
}

enum Records<'a> {
    V4(&'a [Ipv4Addr], u32),
    V6(&'a [Ipv6Addr], u32),
    None,
}

impl Records<'_> {
    fn len(&self) -> usize {
        match self {
            Self::V4(addrs, _) => addrs.len(),
            Self::V6(addrs, _) => addrs.len(),
            Self::None => 0,
        }
    }
}

#[cfg(test)]
mod tests;
