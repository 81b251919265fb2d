//! TSIG MACs (RFC 8945 §4.3): checking a signed query, signing responses
//! (one, or each message of a transfer, chained) and our own NOTIFYs.
//!
//! Written here rather than through hickory-proto, whose TSIG support
//! comes with its DNSSEC features and changes how every message decodes;
//! the HMACs are the RustCrypto crates'.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{KeyInit, Mac};
use privatelink_mapping::DomainName;
use privatelink_mapping::tsig::{TsigAlgorithm, TsigKey};

use super::tsig::expanded_name;
use super::u16_at;

const TYPE_TSIG: u16 = 250;
const CLASS_ANY: u16 = 255;
/// Seconds of clock difference allowed, as BIND and Knot default.
pub(crate) const FUDGE: u16 = 300;

/// TSIG errors (RFC 8945 §3).
pub(crate) const BADSIG: u16 = 16;
pub(crate) const BADKEY: u16 = 17;
pub(crate) const BADTIME: u16 = 18;

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

/// Reads the TSIG record at `start` (the last of `query`).
pub(crate) fn read(query: &[u8], start: usize) -> Option<TsigRecord> {
    let (key, owner_end) = expanded_name(query, start)?;
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

/// What checking a signed query found.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Good: sign the answer with this.
    Signed(Signer),
    /// A TSIG error (BADKEY, BADSIG: answered unsigned), or BADTIME, whose
    /// answer is signed with the signer.
    Failed { error: u16, signer: Option<Signer> },
}

/// Checks the TSIG of `query` against `keys` at time `now`.
pub(crate) fn verify(
    query: &[u8],
    record: &TsigRecord,
    keys: &[Arc<TsigKey>],
    now: u64,
) -> Verdict {
    let key = keys.iter().find(|key| name_wire(&key.name) == record.key);
    let Some(key) = key.filter(|key| algorithm_wire(key.algorithm) == record.algorithm) else {
        return Verdict::Failed {
            error: BADKEY,
            signer: None,
        };
    };
    let mut signed = query
        .get(..record.start)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    if signed.len() < 12 {
        return Verdict::Failed {
            error: BADSIG,
            signer: None,
        };
    }
    // The MAC covers the message as it was before the TSIG was added.
    signed[0..2].copy_from_slice(&record.original_id.to_be_bytes());
    let additionals = u16::from_be_bytes([signed[10], signed[11]]).saturating_sub(1);
    signed[10..12].copy_from_slice(&additionals.to_be_bytes());
    let variables = variables(
        &record.key,
        &record.algorithm,
        record.time,
        record.fudge,
        record.error,
        &record.other,
    );
    if !mac_matches(key, &[&signed, &variables], &record.mac) {
        return Verdict::Failed {
            error: BADSIG,
            signer: None,
        };
    }
    let signer = Signer {
        key: Arc::clone(key),
        previous_mac: Some(record.mac.clone()),
        original_id: record.original_id,
        messages: 0,
    };
    if now.abs_diff(record.time) > u64::from(record.fudge) {
        return Verdict::Failed {
            error: BADTIME,
            signer: Some(signer),
        };
    }
    Verdict::Signed(signer)
}

/// Signs the messages of one exchange with one key.
#[derive(Debug)]
pub(crate) struct Signer {
    key: Arc<TsigKey>,
    /// The MAC the next one chains from: the request's, then each message's.
    /// `None` when signing a request of ours (a NOTIFY).
    previous_mac: Option<Vec<u8>>,
    original_id: u16,
    messages: usize,
}

impl Signer {
    /// For a request of ours with id `id`.
    pub(crate) fn request(key: Arc<TsigKey>, id: u16) -> Self {
        Self {
            key,
            previous_mac: None,
            original_id: id,
            messages: 0,
        }
    }

    pub(crate) fn key_name(&self) -> &DomainName {
        &self.key.name
    }

    /// The bytes the TSIG record [`Self::sign`] appends takes (no other data).
    pub(crate) fn record_len(&self) -> usize {
        let mac = match self.key.algorithm {
            TsigAlgorithm::HmacSha1 => 20,
            TsigAlgorithm::HmacSha224 => 28,
            TsigAlgorithm::HmacSha256 => 32,
            TsigAlgorithm::HmacSha384 => 48,
            TsigAlgorithm::HmacSha512 => 64,
        };
        name_wire(&self.key.name).len() + 10 + algorithm_wire(self.key.algorithm).len() + 16 + mac
    }

    /// Appends a TSIG to the complete message in `out` (RFC 8945 §5.3; a
    /// later message of the same TCP response chains from the one before
    /// and covers only the timers, §5.3.1). `error` and `other` are for
    /// BADTIME (§5.2.3).
    pub(crate) fn sign(&mut self, out: &mut Vec<u8>, now: u64, error: u16, other: &[u8]) {
        if out.len() < 12 {
            return;
        }
        let key = name_wire(&self.key.name);
        let algorithm = algorithm_wire(self.key.algorithm);
        let prior = self.previous_mac.as_ref().map(|mac| {
            let mut prefixed = u16::try_from(mac.len()).unwrap_or(0).to_be_bytes().to_vec();
            prefixed.extend_from_slice(mac);
            prefixed
        });
        let covered = if self.messages == 0 {
            variables(&key, &algorithm, now, FUDGE, error, other)
        } else {
            let mut timers = time_bytes(now).to_vec();
            timers.extend_from_slice(&FUDGE.to_be_bytes());
            timers
        };
        let prior = prior.unwrap_or_default();
        let mac = compute(&self.key, &[&prior, out, &covered]);
        let rdata_len = algorithm.len() + 6 + 2 + 2 + mac.len() + 2 + 2 + 2 + other.len();
        out.extend_from_slice(&key);
        out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
        out.extend_from_slice(&CLASS_ANY.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&u16::try_from(rdata_len).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&algorithm);
        out.extend_from_slice(&time_bytes(now));
        out.extend_from_slice(&FUDGE.to_be_bytes());
        out.extend_from_slice(&u16::try_from(mac.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&mac);
        out.extend_from_slice(&self.original_id.to_be_bytes());
        out.extend_from_slice(&error.to_be_bytes());
        out.extend_from_slice(&u16::try_from(other.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(other);
        let additionals = u16::from_be_bytes([out[10], out[11]]).saturating_add(1);
        out[10..12].copy_from_slice(&additionals.to_be_bytes());
        self.previous_mac = Some(mac);
        self.messages += 1;
    }
}

/// Seconds since the epoch, for TSIG's time signed.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The 48-bit time signed.
pub(crate) fn time_bytes(time: u64) -> [u8; 6] {
    let bytes = time.to_be_bytes();
    [bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
}

/// The TSIG variables of §4.3.3, in order.
fn variables(
    key: &[u8],
    algorithm: &[u8],
    time: u64,
    fudge: u16,
    error: u16,
    other: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(key.len() + algorithm.len() + 24 + other.len());
    v.extend_from_slice(key);
    v.extend_from_slice(&CLASS_ANY.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    v.extend_from_slice(algorithm);
    v.extend_from_slice(&time_bytes(time));
    v.extend_from_slice(&fudge.to_be_bytes());
    v.extend_from_slice(&error.to_be_bytes());
    v.extend_from_slice(&u16::try_from(other.len()).unwrap_or(0).to_be_bytes());
    v.extend_from_slice(other);
    v
}

/// A name in uncompressed, lower-case wire form.
pub(crate) fn name_wire(name: &DomainName) -> Vec<u8> {
    let mut wire = Vec::with_capacity(name.as_str().len() + 2);
    for label in name.as_str().split('.').filter(|l| !l.is_empty()) {
        wire.push(u8::try_from(label.len()).unwrap_or(63));
        wire.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    wire.push(0);
    wire
}

fn algorithm_wire(algorithm: TsigAlgorithm) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in algorithm.name().split('.') {
        wire.push(u8::try_from(label.len()).unwrap_or(63));
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    wire
}

macro_rules! with_hmac {
    ($algorithm:expr, $secret:expr, |$mac:ident| $body:expr) => {
        match $algorithm {
            TsigAlgorithm::HmacSha1 => {
                let mut $mac = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice($secret).ok()?;
                $body
            }
            TsigAlgorithm::HmacSha224 => {
                let mut $mac =
                    <hmac::Hmac<sha2::Sha224> as KeyInit>::new_from_slice($secret).ok()?;
                $body
            }
            TsigAlgorithm::HmacSha256 => {
                let mut $mac =
                    <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice($secret).ok()?;
                $body
            }
            TsigAlgorithm::HmacSha384 => {
                let mut $mac =
                    <hmac::Hmac<sha2::Sha384> as KeyInit>::new_from_slice($secret).ok()?;
                $body
            }
            TsigAlgorithm::HmacSha512 => {
                let mut $mac =
                    <hmac::Hmac<sha2::Sha512> as KeyInit>::new_from_slice($secret).ok()?;
                $body
            }
        }
    };
}

/// The HMAC of `parts`, concatenated, with `key`.
pub(crate) fn compute(key: &TsigKey, parts: &[&[u8]]) -> Vec<u8> {
    let mac = || -> Option<Vec<u8>> {
        with_hmac!(key.algorithm, &key.secret, |mac| {
            for part in parts {
                mac.update(part);
            }
            Some(mac.finalize().into_bytes().to_vec())
        })
    };
    mac().unwrap_or_default()
}

/// True when `expected` is the full HMAC of `parts` (compared in constant
/// time). Truncated MACs (§5.2.2.1) are not accepted.
fn mac_matches(key: &TsigKey, parts: &[&[u8]], expected: &[u8]) -> bool {
    let check = || -> Option<bool> {
        with_hmac!(key.algorithm, &key.secret, |mac| {
            for part in parts {
                mac.update(part);
            }
            Some(mac.verify_slice(expected).is_ok())
        })
    };
    check().unwrap_or(false)
}

#[cfg(test)]
#[path = "tsig_sign_tests.rs"]
mod tests;
