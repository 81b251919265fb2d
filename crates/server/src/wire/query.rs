//! Reading a plain query without hickory: one question, class IN, no
//! compression, at most a plain version-0 OPT, only RD/AD set. Anything
//! else is decoded by hickory on the reference path.

use super::{CLASS_IN, HEADER, TYPE_OPT, flag, is_key_byte};

/// A plain query, read by [`parse`]: what the prepared answers and the
/// [response memo](crate::engine::memo) need.
#[derive(Debug)]
pub(crate) struct Question<'k> {
    /// The name as the mapping spells names: lower case, dotted, no trailing dot.
    key: &'k [u8],
    /// End of the question section (offset of the first byte after QCLASS).
    end: usize,
    /// Labels of the question name.
    labels: usize,
    qtype: u16,
    /// The query's flags word.
    flags: u16,
    /// `Some((payload, do_bit))` when the query carried an OPT record.
    opt: Option<(u16, bool)>,
}

impl Question<'_> {
    pub(crate) fn name(&self) -> &[u8] {
        self.key
    }

    pub(crate) fn qtype(&self) -> u16 {
        self.qtype
    }

    pub(crate) fn end(&self) -> usize {
        self.end
    }

    pub(crate) fn labels(&self) -> usize {
        self.labels
    }

    pub(crate) fn flags(&self) -> u16 {
        self.flags
    }

    /// The client's OPT: its payload size and DO bit.
    pub(crate) fn opt(&self) -> Option<(u16, bool)> {
        self.opt
    }

    /// The request flags that change a forwarded response: OPT present,
    /// its DO bit, AD.
    pub(crate) fn shape(&self) -> u8 {
        let opt = match self.opt {
            None => 0,
            Some((_, false)) => 1,
            Some((_, true)) => 2,
        };
        opt | if self.flags & flag::AD != 0 { 4 } else { 0 }
    }
}

/// Reads a plain query: one question, no compression, optionally one plain
/// version-0 OPT, nothing else. Writes the name into `key` as the mapping
/// spells names: lower case, dotted, no trailing dot. A label with a byte no
/// mapped name can hold is declined (the reference path knows what to do).
pub(crate) fn parse<'k>(query: &[u8], key: &'k mut [u8; 255]) -> Option<Question<'k>> {
    if query.len() < HEADER {
        return None;
    }
    let flags = u16::from_be_bytes([query[2], query[3]]);
    // A plain query: only RD and AD (which dig sets by default) may be set.
    if flags & !(flag::RD | flag::AD) != 0 {
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
            if !is_key_byte(byte) {
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
    let opt = if count(10) == 1 {
        // Root owner, TYPE OPT, CLASS = payload, TTL = ext-rcode, version, flags.
        let opt = query.get(end..end + 11)?;
        if opt[0] != 0 || u16::from_be_bytes([opt[1], opt[2]]) != TYPE_OPT || opt[5] != 0 {
            return None;
        }
        // Version 0 only, and no flag but DO.
        if opt[6] != 0 || opt[7] & 0x7F != 0 || opt[8] != 0 {
            return None;
        }
        let payload = u16::from_be_bytes([opt[3], opt[4]]);
        let dnssec_ok = opt[7] & 0x80 != 0;
        let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
        if end + 11 + rdlen != query.len() || !plain_options(&query[end + 11..]) {
            return None;
        }
        Some((payload, dnssec_ok))
    } else {
        if end != query.len() {
            return None;
        }
        None
    };
    Some(Question {
        key: &key[..key_len],
        end,
        labels,
        qtype,
        flags,
        opt,
    })
}

/// True when `options` is a sequence of whole options (code, length,
/// data) none of which the reference decoder reads into a structure of its
/// own (NSID, client subnet): options are not answered, so the rest (a
/// cookie, padding) change nothing. Anything else is left to the decoder,
/// which says FORMERR where they are malformed.
fn plain_options(options: &[u8]) -> bool {
    const NSID: u16 = 3;
    const CLIENT_SUBNET: u16 = 8;
    let mut at = 0;
    while at < options.len() {
        let Some(header) = options.get(at..at + 4) else {
            return false;
        };
        let code = u16::from_be_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
        if code == NSID || code == CLIENT_SUBNET {
            return false;
        }
        at += 4 + len;
    }
    at == options.len()
}

/// Offset, within the question name at offset 12, of the suffix made of
/// its last `keep` labels.
pub(crate) fn suffix_offset(query: &[u8], labels: usize, keep: usize) -> Option<usize> {
    let mut at = HEADER;
    for _ in 0..labels.checked_sub(keep)? {
        at += usize::from(*query.get(at)?) + 1;
    }
    Some(at)
}
