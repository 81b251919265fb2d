//! Signing the response to a TSIG-signed query (RFC 8945 §5.3), after it is
//! encoded: the TSIG goes last. Over UDP, a response that would no longer
//! fit the client's limit with its TSIG becomes the empty truncated one,
//! signed, so the client retries over TCP as for any answer too large.

use hickory_server::server::Request;

use crate::reply::{self, Reply};
use crate::wire::Transport;
use crate::wire::edns::ClientEdns;
use crate::wire::tsig_sign::{self, Signer};

/// Signs the response in `out` when the query was signed.
pub(super) fn sign(
    signer: &mut Option<Signer>,
    out: &mut Vec<u8>,
    request: &Request,
    client: &ClientEdns,
    transport: Transport,
    reply: &Reply,
) {
    let Some(signer) = signer else {
        return;
    };
    if out.len() + signer.record_len() > client.limit(transport) {
        // Still the answer it stands for: same outcome, same AA.
        let mut truncated = Reply::truncated(reply.outcome);
        truncated.authoritative = reply.authoritative;
        reply::encode(out, request, &truncated, client, transport);
    }
    signer.sign(out, tsig_sign::now(), 0, &[]);
}
