//! Authoritative answers on the reference path: a mapping [`Lookup`]
//! becomes DNS records.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::ProtoError;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, NS, NULL, PTR, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use privatelink_mapping::catalog::{CATALOG_NAMESERVER, CATALOG_VERSION, Catalog};
use privatelink_mapping::mapping::{NS_TTL, Soa};
use privatelink_mapping::{DomainName, Lookup, Mapping, Zone};

use crate::reply::{Outcome, Reply};
use crate::wire::soa_rdata;

/// A zone's SOA and NS records, built once per mapping load.
#[derive(Debug, Clone)]
pub(crate) struct ZoneRecords {
    /// The SOA as an answer (TTL 3600, Azure's).
    soa: Record,
    /// The SOA in the authority section of NXDOMAIN/NODATA: TTL = the SOA
    /// minimum (RFC 2308 §3), which is how long resolvers cache the
    /// negative answer; its RDATA written as the prepared answers write it.
    negative_soa: Record,
    ns: Record,
}

pub(crate) fn to_name(name: &DomainName) -> Result<Name, ProtoError> {
    Name::from_ascii(format!("{name}."))
}

impl ZoneRecords {
    pub(crate) fn new(zone: &Zone) -> Result<Self, ProtoError> {
        let apex = to_name(&zone.apex)?;
        let soa = &zone.soa;
        // Raw RDATA, so that hickory does not compress its names.
        let negative_data = RData::Unknown {
            code: RecordType::SOA,
            rdata: NULL::with(soa_rdata(soa)),
        };
        Ok(Self {
            soa: soa_record(&apex, soa)?,
            negative_soa: Record::from_rdata(apex.clone(), soa.negative_ttl(), negative_data),
            ns: Record::from_rdata(apex, NS_TTL, RData::NS(NS(to_name(&zone.nameserver)?))),
        })
    }
}

impl ZoneRecords {
    /// The SOA as an answer (and as a transfer's first and last record).
    pub(crate) fn soa(&self) -> &Record {
        &self.soa
    }

    pub(crate) fn ns(&self) -> &Record {
        &self.ns
    }
}

/// The SOA record `soa` of the zone at `apex`, as an answer gives it.
pub(crate) fn soa_record(apex: &Name, soa: &Soa) -> Result<Record, ProtoError> {
    let data = RData::SOA(SOA::new(
        to_name(&soa.mname)?,
        to_name(&soa.rname)?,
        soa.serial,
        clamp_i32(soa.refresh),
        clamp_i32(soa.retry),
        clamp_i32(soa.expire),
        soa.minimum,
    ));
    Ok(Record::from_rdata(apex.clone(), soa.ttl, data))
}

/// TTL of the catalog zone's records: they are read by transfer, not cached.
const CATALOG_TTL: u32 = 3600;

/// The records of `mapping`'s catalog zone (RFC 9432) in transfer order,
/// SOA first (the closing SOA is the transfer's), built once per load: SOA,
/// `NS invalid.`, `version TXT "2"`, and `<id>.zones PTR` per member zone.
pub(crate) fn catalog_records(
    catalog: &Catalog,
    mapping: &Mapping,
) -> Result<Vec<Record>, ProtoError> {
    let apex = to_name(&catalog.apex)?;
    let zones = Name::from_ascii("zones")?.append_domain(&apex)?;
    let version = Name::from_ascii("version")?.append_domain(&apex)?;
    let invalid = Name::from_ascii(format!("{CATALOG_NAMESERVER}."))?;
    let txt = RData::TXT(TXT::new(vec![CATALOG_VERSION.to_string()]));
    let mut records = vec![
        soa_record(&apex, &catalog.soa)?,
        Record::from_rdata(apex.clone(), CATALOG_TTL, RData::NS(NS(invalid))),
        Record::from_rdata(version, CATALOG_TTL, txt),
    ];
    for member in mapping.catalog_members() {
        let owner = Name::from_ascii(&member.id)?.append_domain(&zones)?;
        let target = RData::PTR(PTR(to_name(member.zone)?));
        records.push(Record::from_rdata(owner, CATALOG_TTL, target));
    }
    Ok(records)
}

/// The A and AAAA records of one name, IPv4 first, as served.
pub(crate) fn address_records<'a>(
    owner: Name,
    ttl: u32,
    v4: &'a [Ipv4Addr],
    v6: &'a [Ipv6Addr],
) -> impl Iterator<Item = Record> + 'a {
    let v4 = v4.iter().map(|ip| RData::A(A(*ip)));
    let v6 = v6.iter().map(|ip| RData::AAAA(AAAA(*ip)));
    v4.chain(v6)
        .map(move |data| Record::from_rdata(owner.clone(), ttl, data))
}

fn clamp_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// `record` with `owner` as its owner name.
fn owned_by(record: &Record, owner: &Name) -> Record {
    let mut record = record.clone();
    record.name = owner.clone();
    record
}

/// The response for an authoritative lookup. `owner` is the query name as
/// the client wrote it: every owner name written is the question name or
/// its apex suffix in the client's case, so that each points into the
/// question (as the prepared answers write them, and as Knot DNS does).
/// `Fallback` and `NotServed` are forwarded by the caller, never passed here.
pub(crate) fn authoritative(lookup: &Lookup<'_>, owner: &Name, zone: &ZoneRecords) -> Reply {
    let negative_soa = |served: &Zone| {
        owned_by(
            &zone.negative_soa,
            &owner.trim_to(served.apex.label_count()),
        )
    };
    match lookup {
        Lookup::Answer {
            zone: served,
            records,
        } => {
            let mut answers = Vec::with_capacity(records.v4.len() + records.v6.len() + 2);
            answers.extend(address_records(
                owner.clone(),
                served.ttl,
                records.v4,
                records.v6,
            ));
            if records.soa {
                answers.push(owned_by(&zone.soa, owner));
            }
            if records.ns {
                answers.push(owned_by(&zone.ns, owner));
            }
            Reply::authoritative(Outcome::Mapped, ResponseCode::NoError, answers, Vec::new())
        }
        Lookup::NoData { zone: served, .. } => Reply::authoritative(
            Outcome::NoData,
            ResponseCode::NoError,
            Vec::new(),
            vec![negative_soa(served)],
        ),
        Lookup::NxDomain { zone: served } | Lookup::Fallback { zone: served } => {
            let mut reply = Reply::authoritative(
                Outcome::NxDomain,
                ResponseCode::NXDomain,
                Vec::new(),
                vec![negative_soa(served)],
            );
            reply.missing = Some(crate::wire::lookup_key(owner).into());
            reply
        }
        Lookup::NotServed => Reply::error(Outcome::ServFail, ResponseCode::ServFail),
    }
}
