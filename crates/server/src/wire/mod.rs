//! The DNS wire format as the engine reads and writes it without hickory:
//! constants, label walking, the header flag and QTYPE decisions shared by
//! the prepared answers and the reference encoder, and the mapping's key
//! for a name. hickory-proto stays the codec everywhere else.

pub(crate) mod edns;
pub(crate) mod query;
pub(crate) mod tsig;
pub(crate) mod tsig_sign;

use hickory_proto::rr::{Name, RecordType};
use privatelink_mapping::{DomainName, QueryType, Soa};

pub(crate) const HEADER: usize = 12;
pub(crate) const TYPE_A: u16 = 1;
pub(crate) const TYPE_NS: u16 = 2;
pub(crate) const TYPE_SOA: u16 = 6;
pub(crate) const TYPE_AAAA: u16 = 28;
pub(crate) const TYPE_OPT: u16 = 41;
pub(crate) const TYPE_IXFR: u16 = 251;
pub(crate) const TYPE_AXFR: u16 = 252;
pub(crate) const TYPE_ANY: u16 = 255;
pub(crate) const CLASS_IN: u16 = 1;

/// Header flag bits, in the 16-bit word after the id.
pub(crate) mod flag {
    pub(crate) const QR: u16 = 0x8000;
    pub(crate) const AA: u16 = 0x0400;
    pub(crate) const TC: u16 = 0x0200;
    pub(crate) const RD: u16 = 0x0100;
    pub(crate) const RA: u16 = 0x0080;
    pub(crate) const AD: u16 = 0x0020;
    pub(crate) const CD: u16 = 0x0010;
    pub(crate) const OPCODE: u16 = 0x7800;
}

/// How a query arrived; it decides the size a response may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// The metrics and query-log label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        }
    }
}

/// OPCODE QUERY.
pub(crate) const OPCODE_QUERY: u16 = 0;

/// What a response says in its header beyond the id, opcode and rcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct HeaderBits {
    pub(crate) authoritative: bool,
    pub(crate) truncated: bool,
    pub(crate) recursion_available: bool,
    pub(crate) authentic_data: bool,
}

/// The flags word of a response to a query whose flags word was
/// `query_flags`; the one place that decides what is echoed. RD and CD are
/// copied for a QUERY; a response to any other opcode (NOTIMP) echoes
/// neither, as ISC's EDNS compliance checks expect.
pub(crate) fn response_flags(query_flags: u16, bits: HeaderBits, rcode: u16) -> u16 {
    let mut flags = flag::QR | (query_flags & flag::OPCODE) | (rcode & 0x000F);
    if query_flags & flag::OPCODE == OPCODE_QUERY {
        flags |= query_flags & (flag::RD | flag::CD);
    }
    for (set, bit) in [
        (bits.authoritative, flag::AA),
        (bits.truncated, flag::TC),
        (bits.recursion_available, flag::RA),
        (bits.authentic_data, flag::AD),
    ] {
        if set {
            flags |= bit;
        }
    }
    flags
}

/// How a QTYPE is treated before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QtypeClass {
    /// An ordinary data type: looked up, or forwarded.
    Data,
    /// ANY: one RRset in served zones (RFC 8482), forwarded elsewhere.
    Any,
    /// AXFR or IXFR: a zone transfer.
    Transfer,
    /// OPT as a question: FORMERR (it is a pseudo-record, RFC 6891 §6.1.1).
    Opt,
    /// Another meta-type (128–254, RFC 6895 §3.1: TKEY, TSIG, MAILA, …):
    /// REFUSED, never looked up or forwarded.
    Meta,
}

pub(crate) fn qtype_class(qtype: u16) -> QtypeClass {
    match qtype {
        TYPE_OPT => QtypeClass::Opt,
        TYPE_ANY => QtypeClass::Any,
        TYPE_AXFR | TYPE_IXFR => QtypeClass::Transfer,
        128..=254 => QtypeClass::Meta,
        _ => QtypeClass::Data,
    }
}

/// A DNS type in the mapping's terms.
pub(crate) fn mapped_type(qtype: u16) -> QueryType {
    match qtype {
        TYPE_A => QueryType::A,
        TYPE_AAAA => QueryType::Aaaa,
        TYPE_SOA => QueryType::Soa,
        TYPE_NS => QueryType::Ns,
        TYPE_ANY => QueryType::Any,
        _ => QueryType::Other,
    }
}

/// [`mapped_type`] of a hickory record type.
pub(crate) fn mapped_record_type(rtype: RecordType) -> QueryType {
    mapped_type(u16::from(rtype))
}

/// A byte a mapped name may hold: lower-case letters, digits, `-`, `_`.
pub(crate) fn is_key_byte(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-' || byte == b'_'
}

/// The mapping's key for a query name: lower case, dotted, no trailing dot.
/// A byte that no mapped name can contain becomes `?`, so such a name can
/// still fall inside a served zone (NXDOMAIN) but never match a mapped name,
/// and an escaped dot inside a label never splits it.
pub(crate) fn lookup_key(name: &Name) -> String {
    let mut key = String::with_capacity(name.len());
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            key.push('.');
        }
        key.extend(label.iter().map(|&byte| {
            let byte = byte.to_ascii_lowercase();
            if is_key_byte(byte) {
                char::from(byte)
            } else {
                '?'
            }
        }));
    }
    key
}

/// `name` in DNS wire format: length-prefixed labels and the root.
pub(crate) fn name_wire(name: &DomainName) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.as_str().len() + 2);
    for label in name.labels() {
        out.push(u8::try_from(label.len()).unwrap_or(63));
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// An SOA's RDATA as this server writes it in negative answers, by both
/// answer paths: names uncompressed (compressing them against the question
/// would make the bytes depend on the question's case).
pub(crate) fn soa_rdata(soa: &Soa) -> Vec<u8> {
    let mut out = name_wire(&soa.mname);
    out.extend(name_wire(&soa.rname));
    for value in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] {
        out.extend_from_slice(&value.to_be_bytes());
    }
    out
}

/// The offset just past the name at `at`: labels, then the root or a pointer.
pub(crate) fn skip_name(wire: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *wire.get(at)?;
        match len {
            0 => return Some(at + 1),
            1..=63 => at += usize::from(len) + 1,
            0xC0..=0xFF => {
                wire.get(at + 1)?;
                return Some(at + 2);
            }
            _ => return None,
        }
    }
}

/// A big-endian u16 at `at`.
pub(crate) fn u16_at(wire: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*wire.get(at)?, *wire.get(at + 1)?]))
}

/// Appends one resource record whose owner is a compression pointer.
pub(crate) fn push_record(out: &mut Vec<u8>, owner: u16, rtype: u16, ttl: u32, rdata: &[u8]) {
    out.extend_from_slice(&owner.to_be_bytes());
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&u16::try_from(rdata.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(rdata);
}

/// A name in wire format (labels up to the root, no pointers) as text with
/// the trailing dot, bytes outside printable ASCII escaped as `\DDD` and
/// dots and backslashes inside labels as `\.` and `\\` (RFC 1035 §5.1).
pub(crate) fn name_text(wire: &[u8]) -> String {
    let mut text = String::with_capacity(wire.len() + 1);
    let mut at = 0;
    while let Some(&len) = wire.get(at) {
        if len == 0 || len > 63 {
            break;
        }
        let label = wire.get(at + 1..at + 1 + usize::from(len)).unwrap_or(&[]);
        // The query log writes a name per query: plain labels in one copy.
        if label
            .iter()
            .all(|&b| (0x21..=0x7E).contains(&b) && b != b'.' && b != b'\\')
            && let Ok(plain) = std::str::from_utf8(label)
        {
            text.push_str(plain);
            text.push('.');
            at += usize::from(len) + 1;
            continue;
        }
        for &byte in label {
            match byte {
                b'.' | b'\\' => {
                    text.push('\\');
                    text.push(char::from(byte));
                }
                0x21..=0x7E => text.push(char::from(byte)),
                _ => text.push_str(&format!("\\{byte:03}")),
            }
        }
        text.push('.');
        at += usize::from(len) + 1;
    }
    if text.is_empty() {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_keys_are_lower_case_without_the_root() {
        let name = Name::from_ascii("Acct01.PrivateLink.Blob.Core.Windows.Net.").unwrap();
        assert_eq!(
            lookup_key(&name),
            "acct01.privatelink.blob.core.windows.net"
        );
        assert_eq!(lookup_key(&Name::root()), "");
    }

    #[test]
    fn odd_bytes_cannot_forge_a_label_boundary() {
        let name = Name::from_labels(vec![
            &b"acct.privatelink"[..],
            b"blob",
            b"core",
            b"windows",
            b"net",
        ])
        .unwrap();
        assert_eq!(lookup_key(&name), "acct?privatelink.blob.core.windows.net");
    }

    #[test]
    fn only_a_query_echoes_rd_and_cd() {
        let bits = HeaderBits {
            recursion_available: true,
            ..HeaderBits::default()
        };
        let query = flag::RD | flag::CD | flag::AD;
        assert_eq!(
            response_flags(query, bits, 3),
            flag::QR | flag::RD | flag::CD | flag::RA | 3
        );
        let notify = (4 << 11) | flag::RD | flag::CD;
        assert_eq!(
            response_flags(notify, HeaderBits::default(), 4),
            flag::QR | (4 << 11) | 4
        );
    }

    #[test]
    fn qtypes_are_classified_once() {
        assert_eq!(qtype_class(1), QtypeClass::Data);
        assert_eq!(qtype_class(0), QtypeClass::Data);
        assert_eq!(qtype_class(99), QtypeClass::Data);
        assert_eq!(qtype_class(41), QtypeClass::Opt);
        assert_eq!(qtype_class(128), QtypeClass::Meta);
        assert_eq!(qtype_class(250), QtypeClass::Meta);
        assert_eq!(qtype_class(251), QtypeClass::Transfer);
        assert_eq!(qtype_class(252), QtypeClass::Transfer);
        assert_eq!(qtype_class(255), QtypeClass::Any);
        assert_eq!(qtype_class(256), QtypeClass::Data);
    }

    #[test]
    fn names_render_with_escapes() {
        assert_eq!(name_text(b"\x03Www\x07example\x00"), "Www.example.");
        assert_eq!(name_text(b"\x03a.b\x01\x07\x00"), "a\\.b.\\007.");
        assert_eq!(name_text(b"\x00"), ".");
    }
}
