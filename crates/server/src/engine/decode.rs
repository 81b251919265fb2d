//! Decoding a query for the reference path, with the checks hickory's
//! decoder leaves to us (TSIG: [`crate::wire::tsig`]).

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use tracing::debug;

use super::Received;
use crate::reply::{self, Outcome};
use crate::wire::Transport;
use crate::wire::edns::ClientEdns;
use crate::wire::tsig::{self, Tsig};

/// The query decoded; or, written into `out`, FORMERR, or NOTAUTH for
/// a query signed with TSIG (this server has no keys: [`tsig`]).
pub(super) fn decode(
    received: &Received<'_>,
    out: &mut Vec<u8>,
) -> Result<Request, (Outcome, ResponseCode)> {
    const FORMERR: (Outcome, ResponseCode) = (Outcome::FormErr, ResponseCode::FormErr);
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
        return Ok(request);
    }
    if let Some(Tsig::Last(at)) = tsig::scan(received.message) {
        let edns = ClientEdns::negotiate(request.edns.as_ref());
        if tsig::write_badkey(out, received.message, at, &edns).is_some() {
            debug!(client = %received.client, "a TSIG-signed query; no key: NOTAUTH/BADKEY");
            return Err((Outcome::NotAuth, ResponseCode::NotAuth));
        }
    }
    debug!(client = %received.client, "a TSIG that is not the last record, or unreadable; FORMERR");
    reply::formerr(out, received.message);
    Err(FORMERR)
}
