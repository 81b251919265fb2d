//! The reference path: a hickory-decoded request, answered with hickory
//! types. It decides every case the prepared answers leave (apex SOA/NS,
//! ANY, refusals, errors, odd EDNS, anything not plain) and is the oracle
//! the prepared answers are tested against; it also holds what only it can
//! do: forwarding, CNAME chain completion, public-twin synthesis and zone
//! transfers.
//!
//! - [`authoritative`]: a mapping lookup as DNS records.
//! - [`forward`]: the upstream pool, the answer cache, failover.
//! - [`chain`]: CNAME chains into served zones; offline synthesis.
//! - [`transfer`]: AXFR/IXFR out; `ixfr.rs` the incremental answers,
//!   `catalog.rs` the catalog zone (RFC 9432).

pub(crate) mod authoritative;
mod catalog;
pub(crate) mod chain;
pub(crate) mod forward;
mod ixfr;
mod messages;
pub(crate) mod transfer;

use std::time::Instant;

use hickory_proto::op::{OpCode, ResponseCode};
use hickory_proto::rr::DNSClass;
use hickory_server::server::Request;
use privatelink_mapping::{DomainName, Lookup, QueryType};
use tracing::{debug, warn};

use crate::reply::{Outcome, Reply};
use crate::store::Snapshot;
use crate::wire::edns::ClientEdns;
use crate::wire::{QtypeClass, lookup_key, mapped_type, qtype_class};
use chain::Asked;
use forward::{Answer, ForwardError, ForwardFlags, Forwarder, Resolve};

/// What the reference path makes of a request before any upstream is asked.
#[derive(Debug)]
pub(crate) enum Decision {
    /// The reply, decided from the snapshot alone.
    Reply(Reply),
    /// A name no served zone answers: ask the upstreams ([`forward`]).
    Forward { key: String, qtype: QueryType },
    /// A zone transfer: [`transfer::respond`] gives its messages.
    Transfer,
}

/// Decides the reply to one request from `snapshot`, in the order every
/// query is checked: transfers (their own ACL), the allow-list (`allowed`,
/// decided once by the engine for both paths; `signed`, the TSIG key the
/// query was verified with), opcode, EDNS version,
/// question count, class, QTYPE, then the mapping.
pub(crate) fn decide(
    request: &Request,
    snapshot: &Snapshot,
    client: &ClientEdns,
    allowed: bool,
    signed: Option<&DomainName>,
) -> Decision {
    if !client.bad_version && transfer::is_transfer(request) {
        return Decision::Transfer;
    }
    if !allowed {
        debug!(client = %request.src(), "refusing a client outside the allow-list");
        return Decision::Reply(Reply::error(Outcome::Refused, ResponseCode::Refused));
    }
    if request.metadata.op_code != OpCode::Query {
        return Decision::Reply(Reply::error(Outcome::NotImp, ResponseCode::NotImp));
    }
    if client.bad_version {
        return Decision::Reply(Reply::error(Outcome::BadVers, ResponseCode::BADVERS));
    }
    let [query] = request.queries.queries() else {
        return Decision::Reply(Reply::error(Outcome::FormErr, ResponseCode::FormErr));
    };
    if query.query_class() != DNSClass::IN {
        return Decision::Reply(Reply::error(Outcome::Refused, ResponseCode::Refused));
    }
    let qtype = u16::from(query.query_type());
    match qtype_class(qtype) {
        QtypeClass::Opt => {
            return Decision::Reply(Reply::error(Outcome::FormErr, ResponseCode::FormErr));
        }
        // A transfer that reaches this point is not allowed (or malformed):
        // refuse rather than forward, as for the other meta-types.
        QtypeClass::Meta | QtypeClass::Transfer => {
            return Decision::Reply(Reply::error(Outcome::Refused, ResponseCode::Refused));
        }
        QtypeClass::Data | QtypeClass::Any => {}
    }
    let key = lookup_key(query.name());
    if let Some(reply) = catalog::answer(request, snapshot, &key, query.query_type(), signed) {
        return Decision::Reply(reply);
    }
    let qtype = mapped_type(qtype);
    let lookup = snapshot.mapping.lookup(&key, qtype);
    match lookup {
        Lookup::NotServed | Lookup::Fallback { .. } => Decision::Forward { key, qtype },
        Lookup::Answer { zone, .. } | Lookup::NoData { zone, .. } | Lookup::NxDomain { zone } => {
            Decision::Reply(match snapshot.zone_records(zone) {
                Some(records) => {
                    authoritative::authoritative(&lookup, query.original().name(), records)
                }
                None => {
                    warn!(zone = %zone.apex, "a served zone has no prepared records");
                    Reply::error(Outcome::ServFail, ResponseCode::ServFail)
                }
            })
        }
    }
}

/// Forwards a name no served zone answers for: from the cache or the
/// upstreams, chain completed; when that fails, the synthesised public
/// twin, else a stale answer, else SERVFAIL. `now` is the instant cached
/// TTLs are aged to.
pub(crate) async fn forward(
    forwarder: &std::sync::Arc<Forwarder>,
    request: &Request,
    snapshot: &Snapshot,
    client: &ClientEdns,
    key: &str,
    mapped: QueryType,
    now: Instant,
) -> Reply {
    let Some(query) = request.queries.queries().first() else {
        return Reply::error(Outcome::FormErr, ResponseCode::FormErr);
    };
    let question = query.original();
    let asked = Asked {
        name: question.name(),
        rtype: question.query_type(),
        mapped,
        wants_ad: client.dnssec_ok || request.metadata.authentic_data,
    };
    let flags = ForwardFlags {
        dnssec_ok: client.dnssec_ok,
        checking_disabled: request.metadata.checking_disabled,
    };
    forwarder.configure(snapshot.generation, &snapshot.forward);
    let route = snapshot.forward.route(key);
    let ask = Resolve {
        route,
        question,
        flags,
        timeout: snapshot.forward.timeout,
        prefetch: snapshot.forward.prefetch,
        now,
    };
    let error = match forwarder.resolve(ask).await {
        Ok(Answer::Upstream(answer, upstream)) => {
            return chain::complete(
                &asked,
                answer,
                snapshot,
                Outcome::Forwarded,
                Some(upstream),
                None,
            );
        }
        Ok(Answer::Denied(answer)) => {
            return chain::complete(&asked, answer, snapshot, Outcome::Cached, None, None);
        }
        Ok(Answer::Cached(answer, aged_at)) => {
            return chain::complete(
                &asked,
                answer,
                snapshot,
                Outcome::Cached,
                None,
                Some(aged_at),
            );
        }
        Err(error) => error,
    };
    if let Some(reply) = chain::synthesize(&asked, key, snapshot) {
        return reply;
    }
    match error {
        ForwardError::Exhausted {
            stale: Some(answer),
            ..
        }
        | ForwardError::Overloaded {
            stale: Some(answer),
        } => {
            forwarder.cache().count_stale();
            chain::complete(&asked, *answer, snapshot, Outcome::Stale, None, None)
        }
        error => {
            debug!(name = key, %error, "forwarding failed");
            Reply::error(Outcome::ServFail, ResponseCode::ServFail)
        }
    }
}
