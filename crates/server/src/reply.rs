//! A response in the making, and sending it: header flags, EDNS, and
//! truncation to the client's UDP size.

use std::iter;
use std::net::SocketAddr;

use hickory_proto::ProtoError;
use hickory_proto::op::{EmitAndCount, Message, Metadata, ResponseCode, emit_message_parts};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, HeaderCounts, MessageType};
use hickory_server::server::{Request, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
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
    Refused,
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
            Self::Refused => "refused",
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
        }
    }

    fn is_empty(&self) -> bool {
        self.answers.is_empty() && self.authorities.is_empty() && self.additionals.is_empty()
    }
}

/// Sends `reply` for `request`. Over UDP, a response larger than the client
/// may receive is replaced by an empty one with TC set, so that the client
/// retries over TCP (RFC 7766 §5) and never sees a partial RRset.
pub(crate) async fn send<R: ResponseHandler>(
    request: &Request,
    mut reply: Reply,
    client: &ClientEdns,
    mut handle: R,
) -> ResponseInfo {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.authoritative = reply.authoritative;
    metadata.recursion_available = reply.recursion_available;
    metadata.authentic_data = reply.authentic_data;
    metadata.response_code = reply.rcode;
    metadata.truncation = reply.truncated;

    if request.protocol() == Protocol::Udp && !reply.is_empty() {
        let question = RawQuestion {
            wire: request.queries.as_bytes(),
            count: request.queries.len(),
        };
        if encoded_len(&metadata, question, &reply, client) > client.udp_limit {
            metadata.truncation = true;
            reply.answers.clear();
            reply.authorities.clear();
            reply.additionals.clear();
        }
    }

    let builder = MessageResponseBuilder::new(&request.queries, client.response_opt.as_ref());
    let response = builder.build(
        metadata,
        reply.answers.iter(),
        reply.authorities.iter(),
        iter::empty(),
        reply.additionals.iter(),
    );
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(error) => {
            warn!(%error, client = %request.src(), "failed to send a response");
            let mut metadata = Metadata::new(
                request.metadata.id,
                MessageType::Response,
                request.metadata.op_code,
            );
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        }
    }
}

/// The question section exactly as hickory-server 0.26.3 writes it: the
/// client's bytes, copied. (hickory then records a compression pointer that
/// spans QTYPE and QCLASS too, so no answer name ever compresses against the
/// question; measuring any other way would under-count.)
struct RawQuestion<'a> {
    wire: &'a [u8],
    count: usize,
}

impl EmitAndCount for RawQuestion<'_> {
    fn emit(&mut self, encoder: &mut BinEncoder<'_>) -> Result<usize, ProtoError> {
        encoder.emit_vec(self.wire)?;
        Ok(self.count)
    }
}

/// The size of the response on the wire, as hickory will encode it.
fn encoded_len(
    metadata: &Metadata,
    mut question: RawQuestion<'_>,
    reply: &Reply,
    client: &ClientEdns,
) -> usize {
    let mut buffer = Vec::with_capacity(1024);
    let mut encoder = BinEncoder::new(&mut buffer);
    let emitted = emit_message_parts(
        metadata,
        &mut question,
        &mut reply.answers.iter(),
        &mut reply.authorities.iter(),
        &mut reply.additionals.iter(),
        client.response_opt.as_ref(),
        None,
        &mut encoder,
    );
    match emitted {
        Ok(_) => buffer.len(),
        Err(_) => usize::MAX,
    }
}
