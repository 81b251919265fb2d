//! A zone transfer's answer as messages: one reply, or records cut into
//! TCP messages as they are sent, with what the log reports of it.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Record;
use privatelink_mapping::{DomainName, MappedName, Zone};

use super::authoritative::{ZoneRecords, address_records, to_name};
use crate::reply::{Outcome, Reply};

/// Records per transfer message. A record is at most 281 bytes (a 255-byte
/// owner without compression, an AAAA), so 200 of them, with the question
/// and an OPT, stay under the 64 KiB a TCP message can hold.
pub(super) const RECORDS_PER_MESSAGE: usize = 200;

/// The answer to a zone transfer request: one message, or a whole zone.
pub(crate) enum Transfer<'s> {
    Single(Reply),
    Zone(ZoneMessages<'s>),
}

impl Transfer<'_> {
    /// The zone's SOA alone: "nothing newer", or over UDP, "ask over TCP".
    pub(super) fn soa_alone(soa: Record) -> Self {
        Self::Single(Reply::authoritative(
            Outcome::Transfer,
            ResponseCode::NoError,
            vec![soa],
            Vec::new(),
        ))
    }
}

/// The records of a transfer over TCP, cut into messages as they are
/// sent: a large zone is never held as records all at once, and a name
/// with many addresses spans messages.
pub(crate) struct ZoneMessages<'s> {
    records: Box<dyn Iterator<Item = Record> + Send + 's>,
    /// What the log says was sent.
    pub(crate) summary: TransferSummary<'s>,
}

/// A transfer as the log reports it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TransferSummary<'s> {
    pub(crate) zone: &'s DomainName,
    pub(crate) serial: u32,
    /// `AXFR`, `IXFR`, or `AXFR for IXFR` (the history did not reach).
    pub(crate) style: &'static str,
    /// The serial the client held, for an IXFR.
    pub(crate) from_serial: Option<u32>,
    pub(crate) records: usize,
}

impl TransferSummary<'_> {
    /// The log line of a transfer sent to `client` in `messages` messages.
    pub(crate) fn log(&self, client: std::net::SocketAddr, messages: usize) {
        tracing::info!(
            client = %client,
            zone = %self.zone,
            style = self.style,
            from_serial = self.from_serial,
            serial = self.serial,
            messages,
            records = self.records,
            "zone transferred"
        );
    }
}

impl<'s> ZoneMessages<'s> {
    /// The zone as AXFR sends it: SOA, NS, every mapped address, SOA again.
    pub(super) fn new(
        zone: &'s Zone,
        prepared: &'s ZoneRecords,
        names: Vec<MappedName<'s>>,
    ) -> Self {
        let addresses = names.into_iter().flat_map(move |mapped| {
            to_name(mapped.name)
                .into_iter()
                .flat_map(move |owner| address_records(owner, zone.ttl, mapped.v4, mapped.v6))
        });
        let soa = || std::iter::once(prepared.soa().clone());
        let records = soa()
            .chain(std::iter::once(prepared.ns().clone()))
            .chain(addresses)
            .chain(soa());
        Self::from_records(Box::new(records), &zone.apex, zone.soa.serial, "AXFR", None)
    }

    /// Any records (an IXFR's), cut into messages the same way.
    pub(super) fn from_records(
        records: Box<dyn Iterator<Item = Record> + Send + 's>,
        zone: &'s DomainName,
        serial: u32,
        style: &'static str,
        from_serial: Option<u32>,
    ) -> Self {
        let summary = TransferSummary {
            zone,
            serial,
            style,
            from_serial,
            records: 0,
        };
        Self { records, summary }
    }

    /// Marks the transfer as an IXFR answered in AXFR form.
    pub(super) fn answering_ixfr_from(mut self, serial: u32) -> Self {
        self.summary.style = "AXFR for IXFR";
        self.summary.from_serial = Some(serial);
        self
    }
}

impl Iterator for ZoneMessages<'_> {
    type Item = Reply;

    fn next(&mut self) -> Option<Reply> {
        let records: Vec<Record> = self.records.by_ref().take(RECORDS_PER_MESSAGE).collect();
        self.summary.records += records.len();
        (!records.is_empty()).then(|| {
            Reply::authoritative(
                Outcome::Transfer,
                ResponseCode::NoError,
                records,
                Vec::new(),
            )
        })
    }
}
