//! The fast path for the queries a privatelink server mostly gets: a plain
//! UDP question for a name in a served zone, answered straight from the
//! mapping and precomputed SOA wire data, without decoding the query into
//! hickory types, allocating or encoding records.
//!
//! [`parse`] reads a plain query: one question, class IN, no compression,
//! at most a plain version-0 OPT, only RD/AD set. [`answer`] then writes a
//! complete response into the caller's buffer, says the name is forwarded
//! (the [response memo](crate::memo) may then have an answer), or declines,
//! and the query takes the general path ([`crate::Handler`]), which gives
//! the same answers. It declines SOA/NS/ANY questions in served zones and
//! answers larger than the client's UDP size.
//!
//! The response is the general path's, byte for byte in every field a
//! client reads: AA and RA set, RD copied, the question echoed with the
//! client's case, TTL 10 answers, the zone SOA with the negative TTL in the
//! authority section for NODATA/NXDOMAIN, and an OPT (payload 1232, DO
//! copied) when the query had one; answer owners point into the question.

use std::net::{Ipv4Addr, Ipv6Addr};

use privatelink_mapping::{DomainName, Lookup, Mapping, QueryType, Soa};

use crate::edns::MAX_UDP_PAYLOAD;

const TYPE_A: u16 = 1;
const TYPE_NS: u16 = 2;
const TYPE_SOA: u16 = 6;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
const HEADER: usize = 12;

/// What a fast answer was, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FastOutcome {
    Mapped,
    NoData,
    NxDomain,
    /// A forwarded answer from the cache, kept by the [memo](crate::memo).
    Cached {
        nxdomain: bool,
    },
    /// The same, its CNAME chain completed from a served zone.
    Chained {
        nxdomain: bool,
    },
}

#[derive(Debug, Clone)]
struct FastZone {
    /// The SOA's RDATA, names uncompressed.
    soa_rdata: Vec<u8>,
    negative_ttl: u32,
    /// Labels of the apex, so that the SOA owner can point into the question.
    apex_labels: usize,
}

/// Per-zone wire data for the fast path, in the order of the mapping's
/// zones; names are looked up in the mapping itself.
#[derive(Debug, Clone, Default)]
pub struct FastTable {
    zones: Vec<FastZone>,
}

/// `name` in DNS wire format: length-prefixed labels and the root.
fn wire(name: &DomainName) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.as_str().len() + 2);
    for label in name.labels() {
        out.push(u8::try_from(label.len()).unwrap_or(63));
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn soa_rdata(soa: &Soa) -> Vec<u8> {
    let mut out = wire(&soa.mname);
    out.extend(wire(&soa.rname));
    for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
        out.extend_from_slice(&value.to_be_bytes());
    }
    out
}

impl FastTable {
    pub fn new(mapping: &Mapping) -> Self {
        Self {
            zones: mapping
                .zones()
                .iter()
                .map(|zone| FastZone {
                    soa_rdata: soa_rdata(&zone.soa),
                    negative_ttl: zone.soa.negative_ttl(),
                    apex_labels: zone.apex.label_count(),
                })
                .collect(),
        }
    }
}

/// A plain query, read by [`parse`]: what the fast path and the
/// [response memo](crate::memo) need.
#[derive(Debug)]
pub struct Question<'k> {
    /// The name as the mapping spells names: lower case, dotted, no trailing dot.
    key: &'k [u8],
    /// End of the question section (offset of the first byte after QCLASS).
    end: usize,
    /// Labels of the question name.
    labels: usize,
    qtype: u16,
    /// `Some(do_bit)` when the query carried an OPT record.
    opt: Option<bool>,
    /// The query had AD set (which makes AD meaningful in the response).
    authentic_data: bool,
    udp_limit: usize,
}

impl Question<'_> {
    pub fn name(&self) -> &[u8] {
        self.key
    }

    pub fn qtype(&self) -> u16 {
        self.qtype
    }

    pub fn end(&self) -> usize {
        self.end
    }

    pub fn udp_limit(&self) -> usize {
        self.udp_limit
    }

    /// The request flags that change a forwarded response: OPT present,
    /// its DO bit, AD.
    pub fn shape(&self) -> u8 {
        let opt = match self.opt {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        opt | if self.authentic_data { 4 } else { 0 }
    }
}

/// Reads a plain query: one question, no compression, optionally one plain
/// version-0 OPT, nothing else. Writes the name into `key` as the mapping
/// spells names: lower case, dotted, no trailing dot. A label with a byte no
/// mapped name can hold is declined (the general path knows what to do).
pub fn parse<'k>(query: &[u8], key: &'k mut [u8; 255]) -> Option<Question<'k>> {
    if query.len() < HEADER {
        return None;
    }
    let flags = u16::from_be_bytes([query[2], query[3]]);
    // A plain query: only RD and AD (which dig sets by default) may be set.
    if flags & !(0x0100 | 0x0020) != 0 {
        return None;
    }
    let count = |at: usize| u16::from_be_bytes([query[at], query[at + 1]]);
    if count(4) != 1 || count(6) != 0 || count(8) != 0 || count(10) > 1 {
        return None;
    }
    let mut at = HEADER;
    // Bytes of the wire name, and of the dotted key written so far.
    let mut name_len = 0;
    let mut key_len = 0;
    let mut labels = 0;
    loop {
        let len = usize::from(*query.get(at)?);
        if len > 63 {
            return None; // compression pointer or invalid label
        }
        if len == 0 {
            // The root label ends the name.
            at += 1;
            break;
        }
        if name_len + len + 1 > 254 {
            return None;
        }
        if labels > 0 {
            key[key_len] = b'.';
            key_len += 1;
        }
        for &byte in query.get(at + 1..at + 1 + len)? {
            let byte = byte.to_ascii_lowercase();
            if !(byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_') {
                return None;
            }
            key[key_len] = byte;
            key_len += 1;
        }
        labels += 1;
        name_len += len + 1;
        at += len + 1;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let qclass = u16::from_be_bytes([*query.get(at + 2)?, *query.get(at + 3)?]);
    if qclass != CLASS_IN {
        return None;
    }
    let end = at + 4;
    let (opt, udp_limit) = if count(10) == 1 {
        // Root owner, TYPE OPT, CLASS = payload, TTL = ext-rcode, version, flags.
        let opt = query.get(end..end + 11)?;
        if opt[0] != 0 || u16::from_be_bytes([opt[1], opt[2]]) != TYPE_OPT || opt[6] != 0 {
            return None;
        }
        let payload = u16::from_be_bytes([opt[3], opt[4]]);
        let dnssec_ok = opt[7] & 0x80 != 0;
        let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
        if end + 11 + rdlen != query.len() {
            return None;
        }
        (
            Some(dnssec_ok),
            usize::from(payload.clamp(512, MAX_UDP_PAYLOAD)),
        )
    } else {
        if end != query.len() {
            return None;
        }
        (None, 512)
    };
    Some(Question {
        key: &key[..key_len],
        end,
        labels,
        qtype,
        opt,
        authentic_data: flags & 0x0020 != 0,
        udp_limit,
    })
}

/// Offset, within the question name at offset 12, of the suffix made of
/// its last `keep` labels.
fn suffix_offset(query: &[u8], labels: usize, keep: usize) -> Option<usize> {
    let mut at = HEADER;
    for _ in 0..labels.checked_sub(keep)? {
        at += usize::from(*query.get(at)?) + 1;
    }
    Some(at)
}

/// What the fast path made of a parsed query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// The response is in the output buffer.
    Answered(FastOutcome),
    /// No served zone answers the name: it is forwarded.
    Forwarded,
    /// The general path must take it.
    Declined,
}

/// Writes the response to `query` (read into `question`) into `out` when a
/// served zone answers it.
pub fn answer(
    mapping: &Mapping,
    table: &FastTable,
    question: &Question<'_>,
    query: &[u8],
    out: &mut Vec<u8>,
) -> Served {
    match answer_served(mapping, table, question, query, out) {
        Ok(outcome) => Served::Answered(outcome),
        Err(Forwarded(true)) => Served::Forwarded,
        Err(Forwarded(false)) => Served::Declined,
    }
}

/// Why a query was not answered: `Forwarded(true)` when its name is
/// forwarded, `Forwarded(false)` for anything else.
struct Forwarded(bool);

fn answer_served(
    mapping: &Mapping,
    table: &FastTable,
    question: &Question<'_>,
    query: &[u8],
    out: &mut Vec<u8>,
) -> Result<FastOutcome, Forwarded> {
    let declined = Forwarded(false);
    // Meta-types (AXFR, IXFR, MAILB, …: 128 and up, RFC 6895 §3.1) are
    // transfers or refusals, decided by the general path.
    if question.qtype >= 128 && question.qtype != TYPE_ANY {
        return Err(declined);
    }
    let name = std::str::from_utf8(question.key).map_err(|_| Forwarded(false))?;
    let qtype = match question.qtype {
        TYPE_A => QueryType::A,
        TYPE_AAAA => QueryType::Aaaa,
        _ => QueryType::Other,
    };
    // SOA, NS and ANY have apex and RFC 8482 rules in served zones: the general path.
    let apex_rules = matches!(question.qtype, TYPE_NS | TYPE_SOA | TYPE_ANY);
    let (outcome, zone, records) = match mapping.lookup(name, qtype) {
        Lookup::Fallback { .. } | Lookup::NotServed => return Err(Forwarded(true)),
        _ if apex_rules => return Err(declined),
        Lookup::Answer { zone, records } => {
            let records = if !records.v4.is_empty() {
                Records::V4(records.v4, zone.ttl)
            } else {
                Records::V6(records.v6, zone.ttl)
            };
            (FastOutcome::Mapped, zone, records)
        }
        Lookup::NoData { zone, .. } => (FastOutcome::NoData, zone, Records::None),
        Lookup::NxDomain { zone } => (FastOutcome::NxDomain, zone, Records::None),
    };
    write(table, question, query, out, outcome, zone.index, records).ok_or(declined)
}

fn write(
    table: &FastTable,
    question: &Question<'_>,
    query: &[u8],
    out: &mut Vec<u8>,
    outcome: FastOutcome,
    zone_index: usize,
    records: Records<'_>,
) -> Option<FastOutcome> {
    let fast_zone = table.zones.get(zone_index)?;

    out.clear();
    // Header: id, QR AA (RD copied) | RA rcode, counts.
    out.extend_from_slice(&query[..2]);
    out.push(0x84 | (query[2] & 0x01));
    out.push(
        0x80 | if outcome == FastOutcome::NxDomain {
            3
        } else {
            0
        },
    );
    let answers = records.len();
    let authorities = u16::from(answers == 0);
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&u16::try_from(answers).ok()?.to_be_bytes());
    out.extend_from_slice(&authorities.to_be_bytes());
    out.extend_from_slice(&u16::from(question.opt.is_some()).to_be_bytes());
    // The question as the client wrote it.
    out.extend_from_slice(&query[HEADER..question.end]);
    // Answers, their owner a pointer to the question name.
    match records {
        Records::V4(addrs, ttl) => {
            for addr in addrs {
                record(out, 0xC00C, TYPE_A, ttl, &addr.octets());
            }
        }
        Records::V6(addrs, ttl) => {
            for addr in addrs {
                record(out, 0xC00C, TYPE_AAAA, ttl, &addr.octets());
            }
        }
        Records::None => {
            // The SOA, its owner a pointer to the apex inside the question name.
            let apex_offset = suffix_offset(query, question.labels, fast_zone.apex_labels)?;
            let pointer = 0xC000 | u16::try_from(apex_offset).ok()?;
            record(
                out,
                pointer,
                TYPE_SOA,
                fast_zone.negative_ttl,
                &fast_zone.soa_rdata,
            );
        }
    }
    if let Some(dnssec_ok) = question.opt {
        out.push(0);
        out.extend_from_slice(&TYPE_OPT.to_be_bytes());
        out.extend_from_slice(&MAX_UDP_PAYLOAD.to_be_bytes());
        out.extend_from_slice(&[0, 0, if dnssec_ok { 0x80 } else { 0 }, 0, 0, 0]);
    }
    (out.len() <= question.udp_limit).then_some(outcome)
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

fn record(out: &mut Vec<u8>, owner: u16, rtype: u16, ttl: u32, rdata: &[u8]) {
    out.extend_from_slice(&owner.to_be_bytes());
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&u16::try_from(rdata.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(rdata);
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
    use privatelink_mapping::load_str;

    use super::*;

    /// The fast path's answer, or `None` when it leaves the query.
    fn fast(
        mapping: &Mapping,
        table: &FastTable,
        query: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<FastOutcome> {
        let mut key = [0u8; 255];
        let question = parse(query, &mut key)?;
        match answer(mapping, table, &question, query, out) {
            Served::Answered(outcome) => Some(outcome),
            Served::Forwarded | Served::Declined => None,
        }
    }

    fn table() -> (Mapping, FastTable) {
        let loaded = load_str(
            "t.toml",
            r#"
[[zone]]
name = "privatelink.vaultcore.azure.net"
fallback = "forward"
[records]
"Acct.privatelink.blob.core.windows.net" = ["10.0.0.1", "10.0.0.2"]
"v6.privatelink.blob.core.windows.net" = "fd00::1"
"app.deep.privatelink.blob.core.windows.net" = "10.0.0.3"
"kv.privatelink.vaultcore.azure.net" = "10.0.0.4"
"#,
        )
        .unwrap();
        let table = FastTable::new(&loaded.mapping);
        (loaded.mapping, table)
    }

    fn query(name: &str, rtype: RecordType, edns: Option<(u16, bool)>) -> Vec<u8> {
        let mut message = Message::new(0xBEEF, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        if let Some((payload, dnssec_ok)) = edns {
            let mut opt = Edns::new();
            opt.set_max_payload(payload);
            opt.set_dnssec_ok(dnssec_ok);
            message.set_edns(opt);
        }
        message.to_vec().unwrap()
    }

    fn ask(
        name: &str,
        rtype: RecordType,
        edns: Option<(u16, bool)>,
    ) -> Option<(FastOutcome, Message)> {
        let mut out = Vec::new();
        let (mapping, table) = table();
        let outcome = fast(&mapping, &table, &query(name, rtype, edns), &mut out)?;
        Some((
            outcome,
            Message::from_vec(&out).expect("the fast path must write valid DNS"),
        ))
    }

    #[test]
    fn mapped_names_get_their_addresses_with_the_question_echoed() {
        let (outcome, m) = ask(
            "ACCT.PrivateLink.blob.core.windows.net.",
            RecordType::A,
            Some((4096, true)),
        )
        .unwrap();
        assert_eq!(outcome, FastOutcome::Mapped);
        assert_eq!(m.metadata.id, 0xBEEF);
        assert_eq!(m.metadata.message_type, MessageType::Response);
        assert!(
            m.metadata.authoritative
                && m.metadata.recursion_available
                && m.metadata.recursion_desired
        );
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(
            m.queries[0]
                .name()
                .eq_case(&Name::from_ascii("ACCT.PrivateLink.blob.core.windows.net.").unwrap())
        );
        assert_eq!(m.answers.len(), 2);
        assert!(
            m.answers
                .iter()
                .all(|r| r.ttl == 10 && r.dns_class == DNSClass::IN)
        );
        assert_eq!(
            m.answers[0].name,
            Name::from_ascii("acct.privatelink.blob.core.windows.net.").unwrap()
        );
        assert!(matches!(m.answers[1].data, RData::A(a) if a.0 == Ipv4Addr::new(10, 0, 0, 2)));
        let edns = m.edns.unwrap();
        assert_eq!(edns.max_payload(), 1232);
        assert!(edns.flags().dnssec_ok);
        let (_, v6) = ask(
            "v6.privatelink.blob.core.windows.net.",
            RecordType::AAAA,
            None,
        )
        .unwrap();
        assert!(matches!(v6.answers[0].data, RData::AAAA(_)));
        assert!(v6.edns.is_none());
    }

    #[test]
    fn nodata_and_nxdomain_carry_the_zone_soa_with_the_negative_ttl() {
        for (name, rtype, outcome, rcode) in [
            // The apex exists without addresses.
            (
                "privatelink.blob.core.windows.net.",
                RecordType::A,
                FastOutcome::NoData,
                ResponseCode::NoError,
            ),
            (
                "acct.privatelink.blob.core.windows.net.",
                RecordType::AAAA,
                FastOutcome::NoData,
                ResponseCode::NoError,
            ),
            (
                "acct.privatelink.blob.core.windows.net.",
                RecordType::TXT,
                FastOutcome::NoData,
                ResponseCode::NoError,
            ),
            (
                "deep.privatelink.blob.core.windows.net.",
                RecordType::A,
                FastOutcome::NoData,
                ResponseCode::NoError,
            ),
            (
                "nosuch.privatelink.blob.core.windows.net.",
                RecordType::A,
                FastOutcome::NxDomain,
                ResponseCode::NXDomain,
            ),
            (
                "x.acct.privatelink.blob.core.windows.net.",
                RecordType::A,
                FastOutcome::NxDomain,
                ResponseCode::NXDomain,
            ),
        ] {
            let (got, m) = ask(name, rtype, Some((1232, false))).unwrap();
            assert_eq!(got, outcome, "{name}");
            assert_eq!(m.metadata.response_code, rcode, "{name}");
            assert!(m.answers.is_empty());
            assert_eq!(m.authorities.len(), 1);
            let soa = &m.authorities[0];
            assert_eq!(
                soa.name,
                Name::from_ascii("privatelink.blob.core.windows.net.").unwrap()
            );
            assert_eq!(soa.ttl, 10);
            let RData::SOA(data) = &soa.data else {
                panic!("not an SOA")
            };
            assert_eq!(data.mname.to_ascii(), "azureprivatedns.net.");
            assert_eq!(
                (
                    data.serial,
                    data.refresh,
                    data.retry,
                    data.expire,
                    data.minimum
                ),
                (1, 3600, 300, 2_419_200, 10)
            );
        }
    }

    #[test]
    fn anything_unusual_is_left_to_the_general_path() {
        let (mapping, t) = table();
        let mut out = Vec::new();
        let mut declined = |bytes: Vec<u8>| fast(&mapping, &t, &bytes, &mut out).is_none();
        // SOA/NS/ANY, forwarded and fallback names, odd bytes in a label.
        assert!(declined(query(
            "privatelink.blob.core.windows.net.",
            RecordType::SOA,
            None
        )));
        assert!(declined(query(
            "privatelink.blob.core.windows.net.",
            RecordType::NS,
            None
        )));
        let mut odd = query(
            "acct.privatelink.blob.core.windows.net.",
            RecordType::A,
            None,
        );
        odd[13] = b'*';
        assert!(declined(odd));
        assert!(declined(query(
            "acct.privatelink.blob.core.windows.net.",
            RecordType::SOA,
            None
        )));
        assert!(declined(query(
            "acct.privatelink.blob.core.windows.net.",
            RecordType::ANY,
            None
        )));
        for transfer in [RecordType::AXFR, RecordType::IXFR] {
            for name in [
                "privatelink.blob.core.windows.net.",
                "acct.privatelink.blob.core.windows.net.",
            ] {
                assert!(declined(query(name, transfer, None)), "{name} {transfer}");
            }
        }
        assert!(declined(query("www.example.com.", RecordType::A, None)));
        assert!(declined(query(
            "nosuch.privatelink.vaultcore.azure.net.",
            RecordType::A,
            None
        )));
        // EDNS version 1, a response, another opcode, another class, trailing bytes, truncated input.
        let mut v1 = query(
            "acct.privatelink.blob.core.windows.net.",
            RecordType::A,
            Some((1232, false)),
        );
        let version_at = v1.len() - 5;
        v1[version_at] = 1;
        assert!(declined(v1));
        let mut response = query(
            "acct.privatelink.blob.core.windows.net.",
            RecordType::A,
            None,
        );
        response[2] |= 0x80;
        assert!(declined(response));
        let mut notify = query(
            "acct.privatelink.blob.core.windows.net.",
            RecordType::A,
            None,
        );
        notify[2] |= 4 << 3;
        assert!(declined(notify));
        let mut chaos = query(
            "acct.privatelink.blob.core.windows.net.",
            RecordType::A,
            None,
        );
        let class_at = chaos.len() - 1;
        chaos[class_at] = 3;
        assert!(declined(chaos));
        let mut trailing = query(
            "acct.privatelink.blob.core.windows.net.",
            RecordType::A,
            None,
        );
        trailing.push(0);
        assert!(declined(trailing));
        let full = query(
            "acct.privatelink.blob.core.windows.net.",
            RecordType::A,
            None,
        );
        for cut in 0..full.len() {
            assert!(declined(full[..cut].to_vec()), "cut at {cut}");
        }
        // A compression pointer in the question.
        let mut pointer = full.clone();
        pointer[12] = 0xC0;
        assert!(declined(pointer));
    }

    #[test]
    fn responses_that_would_not_fit_are_declined() {
        let records: String = (1..=40).map(|i| format!("\"10.0.1.{i}\",")).collect();
        let loaded = load_str(
            "t.toml",
            &format!("[records]\n\"big.privatelink.blob.core.windows.net\" = [{records}]\n"),
        )
        .unwrap();
        let t = FastTable::new(&loaded.mapping);
        let m = &loaded.mapping;
        let big = |edns| {
            query(
                "big.privatelink.blob.core.windows.net.",
                RecordType::A,
                edns,
            )
        };
        let mut out = Vec::new();
        assert!(fast(m, &t, &big(None), &mut out).is_none());
        assert!(fast(m, &t, &big(Some((1232, false))), &mut out).is_some());
    }

    #[test]
    fn forwarded_names_are_told_apart_from_declined_queries() {
        let (mapping, t) = table();
        let served = |name: &str, rtype| {
            let bytes = query(name, rtype, None);
            let mut key = [0u8; 255];
            let question = parse(&bytes, &mut key).unwrap();
            answer(&mapping, &t, &question, &bytes, &mut Vec::new())
        };
        assert_eq!(served("www.example.com.", RecordType::A), Served::Forwarded);
        assert_eq!(
            served("www.example.com.", RecordType::SOA),
            Served::Forwarded
        );
        assert_eq!(
            served("nosuch.privatelink.vaultcore.azure.net.", RecordType::A),
            Served::Forwarded,
            "a zone that falls back"
        );
        assert_eq!(
            served("privatelink.blob.core.windows.net.", RecordType::SOA),
            Served::Declined
        );
        assert!(matches!(
            served("acct.privatelink.blob.core.windows.net.", RecordType::A),
            Served::Answered(FastOutcome::Mapped)
        ));
    }
}
