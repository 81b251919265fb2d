//! Decoding a query for the reference path, with the checks hickory's
//! decoder leaves to us: TSIG ([`crate::wire::tsig`]), verified against
//! the `[[tsig_key]]`s.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinDecodable;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use std::sync::Arc;

use tracing::{debug, warn};

use super::Received;
use crate::observe::log_budget::LogBudget;
use crate::reply::{self, Outcome};
use crate::wire::Transport;
use crate::wire::edns::ClientEdns;
use crate::wire::tsig::{self, Tsig};
use crate::wire::tsig_sign::{self, Signer, SigningKey, Verdict};

/// The query decoded, with the signer of its answer when it was signed
/// with one of `keys` (RFC 8945); or, written into `out`, FORMERR, or
/// NOTAUTH for a TSIG that fails ([`tsig`]), logged.
pub(super) fn decode(
    received: &Received<'_>,
    keys: &[Arc<SigningKey>],
    out: &mut Vec<u8>,
) -> Result<(Request, Option<Signer>), (Outcome, ResponseCode)> {
    const FORMERR: (Outcome, ResponseCode) = (Outcome::FormErr, ResponseCode::FormErr);
    const NOTAUTH: (Outcome, ResponseCode) = (Outcome::NotAuth, ResponseCode::NotAuth);
    let protocol = match received.transport {
        Transport::Udp => Protocol::Udp,
        Transport::Tcp => Protocol::Tcp,
    };
    let request = match Request::from_bytes(received.message.to_vec(), received.client, protocol) {
        Ok(request) => request,
        Err(error) => {
            debug!(client = %received.client, %error, "undecodable query; FORMERR");
            reply::formerr(out, received.message);
            return Err(FORMERR);
        }
    };
    // hickory reads a TSIG as an additional record (elsewhere it is a
    // decoding error): only then is the message walked for its place.
    if !request
        .additionals
        .iter()
        .any(|record| record.record_type() == RecordType::TSIG)
    {
        return Ok((request, None));
    }
    let found = tsig::scan(received.message);
    let record = match found {
        Some(Tsig::Last(at)) => tsig::read(received.message, at),
        _ => None,
    };
    let Some(record) = record else {
        debug!(client = %received.client, "a TSIG that is not the last record, or unreadable; FORMERR");
        reply::formerr(out, received.message);
        return Err(FORMERR);
    };
    let now = tsig_sign::now();
    let edns = ClientEdns::negotiate(request.edns.as_ref());
    let (error, signer) = match tsig_sign::verify(received.message, &record, keys, now) {
        Verdict::Signed(signer) => return Ok((request, Some(signer))),
        Verdict::Failed { error, signer } => (error, signer),
    };
    let written = match signer {
        // BADTIME is signed, and tells the client our time (§5.2.3).
        Some(mut signer) => tsig::write_notauth(out, received.message, &edns).map(|()| {
            signer.sign(out, now, error, &tsig::time_bytes(now));
        }),
        None => tsig::write_unsigned_error(out, received.message, &record, &edns, error),
    };
    let (name, reason) = match error {
        tsig::BADKEY => ("BADKEY", "a key this server does not have"),
        tsig::BADSIG => ("BADSIG", "the signature does not match the key"),
        _ => (
            "BADTIME",
            "the client's clock is off by more than the fudge",
        ),
    };
    // A client can send these at will: at most ten lines a minute.
    static FAILURES: LogBudget = LogBudget::new(10, std::time::Duration::from_secs(60));
    if let Some(not_logged_before) = FAILURES.admit(received.at) {
        warn!(
            client = %received.client,
            key = %Name::from_bytes(&record.key).map_or_else(|_| "?".into(), |name| name.to_ascii()),
            error = name,
            reason,
            signed_at = record.time,
            now,
            not_logged_before,
            "TSIG check failed: NOTAUTH"
        );
    }
    if written.is_some() {
        return Err(NOTAUTH);
    }
    reply::formerr(out, received.message);
    Err(FORMERR)
}
