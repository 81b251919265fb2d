//! A response in the making, and encoding it: header flags, EDNS, and
//! truncation to the client's UDP size.

use std::net::SocketAddr;
use std::time::Instant;

use hickory_proto::ProtoError;
use hickory_proto::op::{
    EmitAndCount, LowerQuery, Message, MessageType, Metadata, ResponseCode, emit_message_parts,
};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;

use tracing::warn;

use crate::edns::ClientEdns;

/// What kind of answer a query got: the query log's and metrics' vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Authoritative data for a mapped name (or an apex SOA/NS).
    Mapped,
    /// Authoritative NODATA.
    NoData,
    /// Authoritative NXDOMAIN.
    NxDomain,
    /// Relayed from an upstream.
    Forwarded,
    /// Relayed from the cache.
    Cached,
    /// A forwarded answer whose CNAME chain was completed from a served zone.
    Chained,
    /// A public twin answered locally because no upstream could be asked.
    Synthesized,
    /// An expired cached answer, served because every upstream failed (RFC 8767).
    Stale,
    /// Over the rate limit: an empty answer with TC set (a "slip").
    RateLimited,
    /// A zone transfer (AXFR, or IXFR answered in full or with the SOA).
    Transfer,
    Refused,
    /// A transfer asked for a zone this server does not serve.
    NotAuth,
    FormErr,
    NotImp,
    BadVers,
    ServFail,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mapped => "mapped",
            Self::NoData => "nodata",
            Self::NxDomain => "nxdomain",
            Self::Forwarded => "forwarded",
            Self::Cached => "cached",
            Self::Chained => "chained",
            Self::Synthesized => "synthesized",
            Self::Stale => "stale",
            Self::RateLimited => "ratelimited",
            Self::Transfer => "transfer",
            Self::Refused => "refused",
            Self::NotAuth => "notauth",
            Self::FormErr => "formerr",
            Self::NotImp => "notimp",
            Self::BadVers => "badvers",
            Self::ServFail => "servfail",
        }
    }
}

/// The parts of a response that the handler decides; the question, id and
/// EDNS come from the request.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) outcome: Outcome,
    pub(crate) rcode: ResponseCode,
    pub(crate) authoritative: bool,
    pub(crate) recursion_available: bool,
    pub(crate) authentic_data: bool,
    pub(crate) answers: Vec<Record>,
    pub(crate) authorities: Vec<Record>,
    pub(crate) additionals: Vec<Record>,
    /// The upstream that answered, for forwarded answers.
    pub(crate) upstream: Option<SocketAddr>,
    /// Send TC with empty sections whatever the size (rate limiting).
    pub(crate) truncated: bool,
    /// Set when the reply was built from the answer cache alone, so that a
    /// UDP response to it may be sent again (see [`crate::memo`]).
    pub(crate) aging: Option<Aging>,
}

/// Which records of a reply built from the cache age with time: the first
/// `answers` answer records and the first `authorities` authority records,
/// whose TTLs are exact at `since`. The rest (a completed chain's local
/// records) keep their TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Aging {
    pub(crate) answers: usize,
    pub(crate) authorities: usize,
    pub(crate) since: Instant,
}

impl Reply {
    /// An empty response with an error code. RA stays set for allowed
    /// clients; only a refusal of a stranger clears it.
    pub(crate) fn error(outcome: Outcome, rcode: ResponseCode) -> Self {
        Self {
            outcome,
            rcode,
            authoritative: false,
            recursion_available: outcome != Outcome::Refused,
            authentic_data: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            upstream: None,
            truncated: false,
            aging: None,
        }
    }

    /// An empty answer with TC set: "ask again over TCP".
    pub(crate) fn truncated(outcome: Outcome) -> Self {
        Self {
            truncated: true,
            ..Self::error(outcome, ResponseCode::NoError)
        }
    }

    /// An authoritative answer from a served zone.
    pub(crate) fn authoritative(
        outcome: Outcome,
        rcode: ResponseCode,
        answers: Vec<Record>,
        authorities: Vec<Record>,
    ) -> Self {
        Self {
            outcome,
            rcode,
            authoritative: true,
            recursion_available: true,
            authentic_data: false,
            answers,
            authorities,
            additionals: Vec::new(),
            upstream: None,
            truncated: false,
            aging: None,
        }
    }

    /// A recursive answer built here, not relayed (a completed chain, a
    /// synthesised twin): RA, not AA (part of it is public data), no AD (we
    /// changed it).
    pub(crate) fn recursive(
        outcome: Outcome,
        rcode: ResponseCode,
        answers: Vec<Record>,
        authorities: Vec<Record>,
        upstream: Option<SocketAddr>,
    ) -> Self {
        Self {
            outcome,
            rcode,
            authoritative: false,
            recursion_available: true,
            authentic_data: false,
            answers,
            authorities,
            additionals: Vec::new(),
            upstream,
            truncated: false,
            aging: None,
        }
    }

    /// An upstream's answer, relayed: its rcode and sections. AA is not
    /// relayed (the data is not ours); AD only when the client asked for
    /// DNSSEC (DO) or set AD itself (RFC 6840 §5.8). The upstream's OPT and
    /// any signature are dropped: hickory keeps them out of the sections.
    pub(crate) fn relayed(
        message: Message,
        client_wants_ad: bool,
        outcome: Outcome,
        upstream: Option<SocketAddr>,
    ) -> Self {
        Self {
            outcome,
            rcode: message.metadata.response_code,
            authoritative: false,
            recursion_available: true,
            authentic_data: client_wants_ad && message.metadata.authentic_data,
            answers: message.answers,
            authorities: message.authorities,
            additionals: message.additionals,
            upstream,
            truncated: false,
            aging: None,
        }
    }
}

/// A response ready to send, and what it says.
pub(crate) struct Encoded {
    pub(crate) wire: Vec<u8>,
    pub(crate) rcode: ResponseCode,
    /// Sent with TC and empty sections because it was too large for UDP.
    pub(crate) truncated: bool,
}

/// Encodes `reply` for `request`. Over UDP, a response larger than the
/// client may receive is replaced by an empty one with TC set, so that the
/// client retries over TCP (RFC 7766 §5) and never sees a partial RRset. A
/// response that cannot be encoded at all (over 64 KiB) becomes SERVFAIL.
pub(crate) fn encode(request: &Request, reply: &Reply, client: &ClientEdns) -> Encoded {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.authoritative = reply.authoritative;
    metadata.recursion_available = reply.recursion_available;
    metadata.authentic_data = reply.authentic_data;
    metadata.response_code = reply.rcode;
    metadata.truncation = reply.truncated;
    let sections = if reply.truncated {
        Sections::EMPTY
    } else {
        Sections::of(reply)
    };
    let emitted = emit(request, &metadata, sections, client);
    match emitted {
        Ok(wire) if request.protocol() != Protocol::Udp || wire.len() <= client.udp_limit => {
            Encoded {
                wire,
                rcode: reply.rcode,
                truncated: reply.truncated,
            }
        }
        Ok(_) => {
            metadata.truncation = true;
            match emit(request, &metadata, Sections::EMPTY, client) {
                Ok(wire) => Encoded {
                    wire,
                    rcode: reply.rcode,
                    truncated: true,
                },
                Err(error) => server_failure(request, &error),
            }
        }
        Err(error) => server_failure(request, &error),
    }
}

/// The answer, authority and additional records to write.
#[derive(Clone, Copy)]
struct Sections<'r> {
    answers: &'r [Record],
    authorities: &'r [Record],
    additionals: &'r [Record],
}

impl<'r> Sections<'r> {
    const EMPTY: Sections<'static> = Sections {
        answers: &[],
        authorities: &[],
        additionals: &[],
    };

    fn of(reply: &'r Reply) -> Self {
        Self {
            answers: &reply.answers,
            authorities: &reply.authorities,
            additionals: &reply.additionals,
        }
    }
}

fn emit(
    request: &Request,
    metadata: &Metadata,
    sections: Sections<'_>,
    client: &ClientEdns,
) -> Result<Vec<u8>, ProtoError> {
    let mut wire = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut wire);
    let mut question = RawQuestion {
        wire: request.queries.as_bytes(),
        queries: request.queries.queries(),
    };
    emit_message_parts(
        metadata,
        &mut question,
        &mut sections.answers.iter(),
        &mut sections.authorities.iter(),
        &mut sections.additionals.iter(),
        client.response_opt.as_ref(),
        None,
        &mut encoder,
    )?;
    Ok(wire)
}

/// A bare SERVFAIL for a response that could not be encoded.
fn server_failure(request: &Request, error: &ProtoError) -> Encoded {
    warn!(%error, client = %request.src(), "a response could not be encoded; sending SERVFAIL");
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.recursion_available = true;
    metadata.response_code = ResponseCode::ServFail;
    let mut message = Message::new(metadata.id, MessageType::Response, metadata.op_code);
    message.metadata = metadata;
    Encoded {
        wire: message.to_vec().unwrap_or_default(),
        rcode: ResponseCode::ServFail,
        truncated: false,
    }
}

/// The question section as the client wrote it, copied. Each suffix of the
/// first question's name is recorded for compression, so that answer owners
/// written in the same case point into the question, as other servers do
/// (hickory-server 0.26.3's own copy records one pointer spanning QTYPE and
/// QCLASS too, which never matches).
///
/// A question whose name uses compression is encoded again instead: its
/// pointers are offsets into the query, and copied into the response they
/// would point at other bytes (hickory's copy has that flaw; the packet
/// fuzzer found it).
struct RawQuestion<'a> {
    wire: &'a [u8],
    queries: &'a [LowerQuery],
}

impl RawQuestion<'_> {
    /// True when the bytes are the questions' names in plain labels, each
    /// followed by QTYPE and QCLASS: safe to copy anywhere.
    fn is_self_contained(&self) -> bool {
        let mut at = 0;
        for _ in self.queries {
            loop {
                match self.wire.get(at) {
                    Some(0) => break,
                    Some(&len) if len <= 63 => at += usize::from(len) + 1,
                    _ => return false,
                }
            }
            at += 1 + 4;
        }
        at == self.wire.len()
    }
}

impl EmitAndCount for RawQuestion<'_> {
    fn emit(&mut self, encoder: &mut BinEncoder<'_>) -> Result<usize, ProtoError> {
        if !self.is_self_contained() {
            for query in self.queries {
                query.original().emit(encoder)?;
            }
            return Ok(self.queries.len());
        }
        let start = encoder.offset();
        encoder.emit_vec(self.wire)?;
        if !self.queries.is_empty() {
            let mut label_starts = Vec::new();
            let mut at = 0;
            while let Some(&len) = self.wire.get(at) {
                if len == 0 || len > 63 {
                    break;
                }
                label_starts.push(start + at);
                at += usize::from(len) + 1;
            }
            // Only a name that ends with the root label within the copy.
            if self.wire.get(at) == Some(&0) {
                let end = start + at;
                for label in label_starts {
                    encoder.store_label_pointer(label, end);
                }
            }
        }
        Ok(self.queries.len())
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::{Edns, OpCode, Query};
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData};

    use super::*;

    fn request(name: &str, protocol: Protocol, edns: bool) -> Request {
        let mut message = Message::new(7, MessageType::Query, OpCode::Query);
        message.add_query(Query::query(
            Name::from_ascii(name).unwrap(),
            hickory_proto::rr::RecordType::A,
        ));
        if edns {
            message.set_edns(large_edns());
        }
        let peer = SocketAddr::from(([127, 0, 0, 1], 5353));
        Request::from_bytes(message.to_vec().unwrap(), peer, protocol).unwrap()
    }

    fn large_edns() -> Edns {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns
    }

    fn addresses(name: &str, count: u8) -> Reply {
        let answers = (1..=count)
            .map(|i| {
                Record::from_rdata(
                    Name::from_ascii(name).unwrap(),
                    10,
                    RData::A(A(Ipv4Addr::new(10, 0, 0, i))),
                )
            })
            .collect();
        Reply::authoritative(Outcome::Mapped, ResponseCode::NoError, answers, Vec::new())
    }

    #[test]
    fn answer_owners_point_into_the_question() {
        let name = "acct.privatelink.blob.core.windows.net.";
        let request = request(name, Protocol::Udp, false);
        let client = ClientEdns::negotiate(None);
        let encoded = encode(&request, &addresses(name, 1), &client);
        // Header, question (40-byte name + type + class), then an answer
        // whose owner is a pointer to offset 12.
        let answer_at = 12 + 40 + 4;
        assert_eq!(&encoded.wire[answer_at..answer_at + 2], &[0xC0, 0x0C]);
        assert_eq!(encoded.wire.len(), answer_at + 2 + 10 + 4);
        let message = Message::from_vec(&encoded.wire).unwrap();
        assert_eq!(message.answers[0].name, Name::from_ascii(name).unwrap());
        // A name below the question's own suffix points into it too.
        let deeper = encode(
            &request,
            &addresses("x.privatelink.blob.core.windows.net.", 1),
            &client,
        );
        assert_eq!(&deeper.wire[answer_at + 2..answer_at + 4], &[0xC0, 12 + 5]);
        assert!(Message::from_vec(&deeper.wire).is_ok());
    }

    #[test]
    fn too_large_for_udp_is_truncated_but_not_over_tcp() {
        let name = "acct.privatelink.blob.core.windows.net.";
        let client = ClientEdns::negotiate(None);
        let big = addresses(name, 60);
        let udp = encode(&request(name, Protocol::Udp, false), &big, &client);
        assert!(udp.truncated);
        let message = Message::from_vec(&udp.wire).unwrap();
        assert!(message.metadata.truncation && message.answers.is_empty());
        let tcp = encode(&request(name, Protocol::Tcp, false), &big, &client);
        assert!(!tcp.truncated);
        assert_eq!(Message::from_vec(&tcp.wire).unwrap().answers.len(), 60);
        // With EDNS the client may receive 1232 bytes: 60 addresses fit.
        let edns = ClientEdns::negotiate(Some(&large_edns()));
        let fits = encode(&request(name, Protocol::Udp, true), &big, &edns);
        assert!(!fits.truncated && fits.wire.len() <= 1232);
    }
}
