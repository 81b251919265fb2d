//! A response in the making, as the reference path builds it with hickory
//! types; [`encode`] writes it (header flags, EDNS, truncation).

mod encode;

use std::net::SocketAddr;
use std::time::Instant;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::Record;

pub(crate) use encode::{encode, formerr};

use crate::wire::HeaderBits;

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
    /// A transfer asked for a zone this server does not serve, or a query
    /// signed with a TSIG key this server does not have.
    NotAuth,
    FormErr,
    NotImp,
    BadVers,
    ServFail,
}

impl Outcome {
    /// How many outcomes there are.
    pub const COUNT: usize = 16;

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
    /// The name in a served zone that the mapping lacks (NXDOMAIN), asked
    /// directly or reached through a forwarded chain: a missing record to
    /// tell the operator of.
    pub(crate) missing: Option<Box<str>>,
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
    /// An empty response with an error code. RA stays set but for a
    /// refusal and NOTIMP (an opcode we do not serve says nothing about
    /// recursion; ISC's compliance checks expect RA clear).
    pub(crate) fn error(outcome: Outcome, rcode: ResponseCode) -> Self {
        Self {
            outcome,
            rcode,
            authoritative: false,
            recursion_available: !matches!(outcome, Outcome::Refused | Outcome::NotImp),
            authentic_data: false,
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            upstream: None,
            truncated: false,
            aging: None,
            missing: None,
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
            missing: None,
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
            missing: None,
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
            missing: None,
        }
    }
}

impl Reply {
    /// The header bits this reply sets.
    pub(crate) fn header_bits(&self) -> HeaderBits {
        HeaderBits {
            authoritative: self.authoritative,
            truncated: self.truncated,
            recursion_available: self.recursion_available,
            authentic_data: self.authentic_data,
        }
    }
}
