//! TSIG records in queries (RFC 8945), seen before hickory decodes the
//! message: hickory-proto reads TSIG only with its DNSSEC features, and
//! without them a TSIG anywhere in the additional section passes as an
//! unknown record. A query signed with a key this server does not have
//! (`[[tsig_key]]`) is answered as §5.2 says: NOTAUTH with an unsigned
//! TSIG whose error is BADKEY; a bad MAC likewise with BADSIG. A TSIG that
//! is not the last record, or a second one, is FORMERR (§5.2). Knot DNS
//! answers the same. The MACs themselves are `tsig_sign.rs`'s.

use super::{HEADER, skip_name, u16_at};
use crate::wire::edns::ClientEdns;
use crate::wire::{HeaderBits, response_flags};

pub(crate) const TYPE_TSIG: u16 = 250;
pub(crate) const CLASS_ANY: u16 = 255;
/// RCODE NOTAUTH (RFC 8945 §5.2.1 uses it for BADKEY, BADSIG and BADTIME).
pub(crate) const RCODE_NOTAUTH: u16 = 9;

/// TSIG errors (RFC 8945 §3).
pub(crate) const BADSIG: u16 = 16;
pub(crate) const BADKEY: u16 = 17;
pub(crate) const BADTIME: u16 = 18;

/// Where a query's TSIG is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tsig {
    Absent,
    /// Not the last record, or not the only TSIG: FORMERR.
    Misplaced,
    /// The last record of the additional section, starting at this offset.
    Last(usize),
}

/// Finds the TSIG of `query`. `None` when the records cannot be walked:
/// the decoder then says FORMERR.
pub(crate) fn scan(query: &[u8]) -> Option<Tsig> {
    let count = |at: usize| u16_at(query, at).map(usize::from);
    let (questions, answers, authorities, additionals) =
        (count(4)?, count(6)?, count(8)?, count(10)?);
    let mut at = HEADER;
    for _ in 0..questions {
        at = skip_name(query, at)? + 4;
    }
    let records = answers + authorities + additionals;
    let mut found = Tsig::Absent;
    for index in 0..records {
        let start = at;
        at = skip_name(query, at)?;
        let rtype = u16_at(query, at)?;
        at += 10 + usize::from(u16_at(query, at + 8)?);
        if at > query.len() {
            return None;
        }
        if rtype == TYPE_TSIG {
            if found != Tsig::Absent || index + 1 != records {
                return Some(Tsig::Misplaced);
            }
            found = Tsig::Last(start);
        }
    }
    Some(found)
}

/// The name at `at` written out without compression, and the offset past
/// it; at most 255 bytes and 128 pointers.
fn expanded_name(wire: &[u8], mut at: usize) -> Option<(Vec<u8>, usize)> {
    let mut name = Vec::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *wire.get(at)?;
        match len {
            0 => {
                name.push(0);
                return (name.len() <= 255).then(|| (name, end.unwrap_or(at + 1)));
            }
            1..=63 => {
                name.extend_from_slice(wire.get(at..at + 1 + usize::from(len))?);
                if name.len() > 255 {
                    return None;
                }
                at += 1 + usize::from(len);
            }
            0xC0..=0xFF => {
                let target = usize::from(u16_at(wire, at)? & 0x3FFF);
                end.get_or_insert(at + 2);
                at = target;
            }
            _ => return None,
        }
    }
    None
}

/// A query's TSIG record, read.
#[derive(Debug, Clone)]
pub(crate) struct TsigRecord {
    /// Where the record starts: the signed data ends here.
    pub(crate) start: usize,
    /// Key and algorithm names, uncompressed and lower-cased (canonical).
    pub(crate) key: Vec<u8>,
    pub(crate) algorithm: Vec<u8>,
    pub(crate) time: u64,
    pub(crate) fudge: u16,
    pub(crate) mac: Vec<u8>,
    pub(crate) original_id: u16,
    pub(crate) error: u16,
    pub(crate) other: Vec<u8>,
}

/// Reads the TSIG record at `start` (the last of `query`, as [`scan`]
/// found it); `None` when it does not hold together.
pub(crate) fn read(query: &[u8], start: usize) -> Option<TsigRecord> {
    let (key, owner_end) = expanded_name(query, start)?;
    // TYPE, CLASS, TTL and RDLENGTH, then the rdata: the algorithm first.
    let (algorithm, at) = expanded_name(query, owner_end + 10)?;
    let time = query
        .get(at..at + 6)?
        .iter()
        .fold(0u64, |t, &b| t << 8 | u64::from(b));
    let fudge = u16_at(query, at + 6)?;
    let mac_len = usize::from(u16_at(query, at + 8)?);
    let mac = query.get(at + 10..at + 10 + mac_len)?.to_vec();
    let at = at + 10 + mac_len;
    let other_len = usize::from(u16_at(query, at + 4)?);
    Some(TsigRecord {
        start,
        key: key.to_ascii_lowercase(),
        algorithm: algorithm.to_ascii_lowercase(),
        time,
        fudge,
        mac,
        original_id: u16_at(query, at)?,
        error: u16_at(query, at + 2)?,
        other: query.get(at + 6..at + 6 + other_len)?.to_vec(),
    })
}

/// The 48-bit time signed.
pub(crate) fn time_bytes(time: u64) -> [u8; 6] {
    let bytes = time.to_be_bytes();
    [bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
}

/// Writes the answer to a query whose TSIG `record` failed with `error`
/// (BADKEY: a key this server does not have; BADSIG): NOTAUTH, the
/// question, the OPT when the client sent one, and an unsigned TSIG with
/// the key and algorithm names, time and fudge of the query's, no MAC, the
/// original id, and the error (RFC 8945 §5.2, §5.3.2). `None` when the
/// query's header cannot be read: the caller says FORMERR.
pub(crate) fn write_unsigned_error(
    out: &mut Vec<u8>,
    query: &[u8],
    record: &TsigRecord,
    edns: &ClientEdns,
    error: u16,
) -> Option<()> {
    write_notauth(out, query, edns)?;
    out.extend_from_slice(&record.key);
    out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    out.extend_from_slice(&CLASS_ANY.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    let length = record.algorithm.len() + 8 + 2 + 2 + 2 + 2;
    out.extend_from_slice(&u16::try_from(length).ok()?.to_be_bytes());
    out.extend_from_slice(&record.algorithm);
    out.extend_from_slice(&time_bytes(record.time));
    out.extend_from_slice(&record.fudge.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&record.original_id.to_be_bytes());
    out.extend_from_slice(&error.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    let additionals = u16_at(out, 10)?.saturating_add(1);
    out[10..12].copy_from_slice(&additionals.to_be_bytes());
    Some(())
}

/// NOTAUTH to `query`: the header, the question (when it can be copied)
/// and the OPT when the client sent one; a TSIG is the caller's.
pub(crate) fn write_notauth(out: &mut Vec<u8>, query: &[u8], edns: &ClientEdns) -> Option<()> {
    let flags = u16_at(query, 2)?;
    let questions = u16_at(query, 4)?;
    let mut question_end = HEADER;
    for _ in 0..questions {
        question_end = skip_name(query, question_end)? + 4;
    }
    let question = query.get(HEADER..question_end)?;
    // A compressed question would point at the query's other bytes: leave it out.
    let copy_question =
        questions == 1 && !question.iter().take(question.len() - 4).any(|&b| b >= 0xC0);

    out.clear();
    out.extend_from_slice(query.get(..2)?);
    let bits = HeaderBits {
        recursion_available: true,
        ..HeaderBits::default()
    };
    out.extend_from_slice(&response_flags(flags, bits, RCODE_NOTAUTH).to_be_bytes());
    out.extend_from_slice(&u16::from(copy_question).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    if copy_question {
        out.extend_from_slice(question);
    }
    let additionals = edns.write_opt(out, RCODE_NOTAUTH);
    out[10..12].copy_from_slice(&additionals.to_be_bytes());
    Some(())
}

#[cfg(test)]
#[path = "tsig_tests.rs"]
mod tests;
