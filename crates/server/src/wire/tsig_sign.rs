//! TSIG MACs (RFC 8945 §4.3): checking a signed query, signing responses
//! (one, or each message of a transfer, chained) and our own NOTIFYs.
//!
//! Written here rather than through hickory-proto, whose TSIG support
//! comes with its DNSSEC features and changes how every message decodes;
//! the HMACs are the RustCrypto crates'.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use privatelink_mapping::DomainName;
use privatelink_mapping::tsig::{TsigAlgorithm, TsigKey};
use subtle::ConstantTimeEq;

use super::tsig::{BADKEY, BADSIG, BADTIME, CLASS_ANY, TYPE_TSIG, TsigRecord, time_bytes};

/// Seconds of clock difference allowed, as BIND and Knot default.
pub(crate) const FUDGE: u16 = 300;

/// A `[[tsig_key]]` as the wire needs it, prepared once per load: its
/// names in canonical wire form and the length of its MACs.
#[derive(Debug)]
pub(crate) struct SigningKey {
    key: TsigKey,
    name: Vec<u8>,
    algorithm: Vec<u8>,
    mac_len: usize,
}

impl SigningKey {
    pub(crate) fn new(key: TsigKey) -> Self {
        let mac_len = compute(&key, &[]).len();
        Self {
            name: wire_name(key.name.as_str()),
            algorithm: wire_name(key.algorithm.name()),
            mac_len,
            key,
        }
    }

    pub(crate) fn name(&self) -> &DomainName {
        &self.key.name
    }
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
    keys: &[Arc<SigningKey>],
    now: u64,
) -> Verdict {
    let key = keys.iter().find(|key| key.name == record.key);
    let Some(key) = key.filter(|key| key.algorithm == record.algorithm) else {
        return Verdict::Failed {
            error: BADKEY,
            signer: None,
        };
    };
    let (Some(header), Some(body)) = (query.get(..12), query.get(12..record.start)) else {
        return Verdict::Failed {
            error: BADSIG,
            signer: None,
        };
    };
    // The MAC covers the message as it was before the TSIG was added: the
    // original id, one additional record fewer.
    let mut header: [u8; 12] = header.try_into().unwrap_or_default();
    header[0..2].copy_from_slice(&record.original_id.to_be_bytes());
    let additionals = u16::from_be_bytes([header[10], header[11]]).saturating_sub(1);
    header[10..12].copy_from_slice(&additionals.to_be_bytes());
    let variables = variables(
        &record.key,
        &record.algorithm,
        record.time,
        record.fudge,
        record.error,
        &record.other,
    );
    let mac = compute(&key.key, &[&header, body, &variables]);
    // Truncated MACs (§5.2.2.1) are not accepted: the lengths must match.
    if mac.is_empty() || !bool::from(mac.ct_eq(&record.mac)) {
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
    key: Arc<SigningKey>,
    /// The MAC the next one chains from: the request's, then each message's.
    /// `None` when signing a request of ours (a NOTIFY).
    previous_mac: Option<Vec<u8>>,
    original_id: u16,
    messages: usize,
}

impl Signer {
    /// For a request of ours with id `id`.
    pub(crate) fn request(key: Arc<SigningKey>, id: u16) -> Self {
        Self {
            key,
            previous_mac: None,
            original_id: id,
            messages: 0,
        }
    }

    pub(crate) fn key_name(&self) -> &DomainName {
        self.key.name()
    }

    /// The bytes the TSIG record [`Self::sign`] appends takes (no other data).
    pub(crate) fn record_len(&self) -> usize {
        // Owner, TYPE..RDLENGTH, algorithm, time, fudge, MAC size, MAC,
        // original id, error, other length.
        self.key.name.len() + 10 + self.key.algorithm.len() + 6 + 2 + 2 + self.key.mac_len + 6
    }

    /// Appends a TSIG to the complete message in `out` (RFC 8945 §5.3; a
    /// later message of the same TCP response chains from the one before
    /// and covers only the timers, §5.3.1). `error` and `other` are for
    /// BADTIME (§5.2.3).
    pub(crate) fn sign(&mut self, out: &mut Vec<u8>, now: u64, error: u16, other: &[u8]) {
        if out.len() < 12 {
            return;
        }
        let (key, algorithm) = (&self.key.name, &self.key.algorithm);
        let prior = self.previous_mac.as_deref().unwrap_or_default();
        let prior_len = u16::try_from(prior.len()).unwrap_or(0).to_be_bytes();
        // A request of ours covers no prior MAC, not even its length.
        let prior_len: &[u8] = if self.previous_mac.is_some() {
            &prior_len
        } else {
            &[]
        };
        let covered = if self.messages == 0 {
            variables(key, algorithm, now, FUDGE, error, other)
        } else {
            [&time_bytes(now)[..], &FUDGE.to_be_bytes()].concat()
        };
        let mac = compute(&self.key.key, &[prior_len, prior, out, &covered]);
        let rdata_len = algorithm.len() + 6 + 2 + 2 + mac.len() + 2 + 2 + 2 + other.len();
        out.extend_from_slice(key);
        out.extend_from_slice(&TYPE_TSIG.to_be_bytes());
        out.extend_from_slice(&CLASS_ANY.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&u16::try_from(rdata_len).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(algorithm);
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

/// A dotted name in uncompressed, lower-case wire form.
fn wire_name(name: &str) -> Vec<u8> {
    let mut wire = Vec::with_capacity(name.len() + 2);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        wire.push(u8::try_from(label.len()).unwrap_or(63));
        wire.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    wire.push(0);
    wire
}

/// The HMAC of `parts`, concatenated, with `key`; empty when the secret
/// cannot key it (never for the HMACs: any length is accepted).
pub(crate) fn compute(key: &TsigKey, parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let Ok(mut mac) = <M as KeyInit>::new_from_slice(secret) else {
            return Vec::new();
        };
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    let secret = &key.secret;
    match key.algorithm {
        TsigAlgorithm::HmacSha1 => run::<Hmac<sha1::Sha1>>(secret, parts),
        TsigAlgorithm::HmacSha224 => run::<Hmac<sha2::Sha224>>(secret, parts),
        TsigAlgorithm::HmacSha256 => run::<Hmac<sha2::Sha256>>(secret, parts),
        TsigAlgorithm::HmacSha384 => run::<Hmac<sha2::Sha384>>(secret, parts),
        TsigAlgorithm::HmacSha512 => run::<Hmac<sha2::Sha512>>(secret, parts),
    }
}

#[cfg(test)]
#[path = "tsig_sign_tests.rs"]
mod tests;
