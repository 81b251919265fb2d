//! The request handler: the one place where the DNS protocol meets the
//! mapping. `dispatch.rs` decodes each request (FORMERR for
//! undecodable ones, responses dropped) and hands it here; the UDP workers
//! first try [`Handler::fast_udp`].

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::{OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use privatelink_mapping::{Lookup, QueryType};
use tracing::{debug, warn};

use crate::answer;
use crate::chain::{self, Asked};
use crate::dispatch::RawSend;
use crate::edns::ClientEdns;
use crate::fast::{self, FastOutcome, Served};
use crate::forward::{Answer, ForwardError, ForwardFlags, Forwarder};
use crate::memo::{MemoKey, ResponseMemo};
use crate::metrics::Metrics;
use crate::querylog::Observed;
use crate::ratelimit::{RateLimiter, Verdict};
use crate::reply::{self, Outcome, Reply};
use crate::store::{MappingStore, Snapshot};
use crate::transfer::{self, Transfer};

/// Answers DNS requests from the current mapping snapshot, forwarding the rest.
#[derive(Debug)]
pub struct Handler {
    store: Arc<MappingStore>,
    forwarder: Arc<Forwarder>,
    metrics: Arc<Metrics>,
    limiter: RateLimiter,
    memo: ResponseMemo,
}

/// What the UDP fast path did with a query.
#[derive(Debug)]
pub enum FastUdp {
    /// The response is in the output buffer.
    Answered(FastOutcome),
    /// The general path must answer; with a key when its response may be
    /// kept for the next identical question.
    Declined(Option<MemoKey>),
}

impl Handler {
    /// The forwarder is shared so that its statistics can be read elsewhere.
    /// Up to `memo_bytes` of ready-to-send UDP responses are kept for
    /// questions answered from the cache (0: none; see [`crate::memo`]).
    pub fn new(
        store: Arc<MappingStore>,
        forwarder: Arc<Forwarder>,
        metrics: Arc<Metrics>,
        memo_bytes: u64,
    ) -> Self {
        Self {
            store,
            forwarder,
            metrics,
            limiter: RateLimiter::new(),
            memo: ResponseMemo::new(memo_bytes),
        }
    }

    /// The request-path metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Answers a UDP query from the fast path when it can (see
    /// [`crate::fast`] and [`crate::memo`]), writing the response into
    /// `out`. The fast path stands aside whenever something per query is
    /// asked for (the query log, rate limiting) and for clients outside the
    /// allow-list, whose REFUSED the general path builds.
    pub fn fast_udp(&self, client: IpAddr, query: &[u8], out: &mut Vec<u8>) -> FastUdp {
        let snapshot = self.store.current();
        if snapshot.query_log
            || snapshot.rate_limit.responses_per_second > 0
            || !snapshot.allow.allows(client)
        {
            return FastUdp::Declined(None);
        }
        let mut key = [0u8; 255];
        let Some(question) = fast::parse(query, &mut key) else {
            return FastUdp::Declined(None);
        };
        let outcome = match fast::answer(&snapshot.mapping, &snapshot.fast, &question, query, out) {
            Served::Answered(outcome) => outcome,
            Served::Declined => return FastUdp::Declined(None),
            Served::Forwarded => {
                let now = Instant::now();
                match self
                    .memo
                    .answer(&question, query, snapshot.generation, now, out)
                {
                    Some(outcome) => {
                        self.forwarder.cache().count_hit();
                        outcome
                    }
                    None => return FastUdp::Declined(self.memo.key(&question)),
                }
            }
        };
        self.metrics.fast_udp(outcome);
        FastUdp::Answered(outcome)
    }

    /// Decides the reply to one request, using one snapshot throughout.
    async fn resolve(&self, request: &Request, snapshot: &Snapshot, client: &ClientEdns) -> Reply {
        if !snapshot.allow.allows(request.src().ip()) {
            debug!(client = %request.src(), "refusing a client outside the allow-list");
            return Reply::error(Outcome::Refused, ResponseCode::Refused);
        }
        if request.metadata.op_code != OpCode::Query {
            return Reply::error(Outcome::NotImp, ResponseCode::NotImp);
        }
        if client.bad_version {
            return Reply::error(Outcome::BadVers, ResponseCode::BADVERS);
        }
        let [query] = request.queries.queries() else {
            return Reply::error(Outcome::FormErr, ResponseCode::FormErr);
        };
        if query.query_class() != DNSClass::IN {
            return Reply::error(Outcome::Refused, ResponseCode::Refused);
        }
        let qtype = match query.query_type() {
            // Transfers are answered by `transfer.rs`; one that reaches
            // this point is not allowed: refuse rather than forward.
            RecordType::AXFR | RecordType::IXFR => {
                return Reply::error(Outcome::Refused, ResponseCode::Refused);
            }
            RecordType::OPT => return Reply::error(Outcome::FormErr, ResponseCode::FormErr),
            other => mapped_type(other),
        };

        let key = lookup_key(query.name());
        let lookup = snapshot.mapping.lookup(&key, qtype);
        match lookup {
            Lookup::NotServed | Lookup::Fallback { .. } => {
                self.forward(request, snapshot, client, &key, qtype).await
            }
            Lookup::Answer { zone, .. }
            | Lookup::NoData { zone, .. }
            | Lookup::NxDomain { zone } => match snapshot.zone_records(zone) {
                Some(records) => answer::authoritative(&lookup, query.original().name(), records),
                None => {
                    warn!(zone = %zone.apex, "a served zone has no prepared records");
                    Reply::error(Outcome::ServFail, ResponseCode::ServFail)
                }
            },
        }
    }

    /// Forwards a name no served zone answers for: from the cache or the
    /// upstreams, chain completed; when that fails, the synthesised public
    /// twin, else a stale answer, else SERVFAIL.
    async fn forward(
        &self,
        request: &Request,
        snapshot: &Snapshot,
        client: &ClientEdns,
        key: &str,
        mapped: QueryType,
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
        let route = snapshot.forward.route(key);
        let error = match self
            .forwarder
            .resolve(route.upstreams, question, flags, snapshot.forward.timeout)
            .await
        {
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
            } => chain::complete(&asked, *answer, snapshot, Outcome::Stale, None, None),
            error => {
                debug!(name = key, %error, "forwarding failed");
                Reply::error(Outcome::ServFail, ResponseCode::ServFail)
            }
        }
    }
}

impl Handler {
    /// Answers one decoded request through `responder`. `memo`: the key
    /// under which a UDP response built from the cache may be kept.
    pub(crate) async fn handle<R: RawSend>(
        &self,
        request: &Request,
        mut responder: R,
        memo: Option<MemoKey>,
    ) {
        let started = Instant::now();
        let snapshot = self.store.snapshot();
        let client = ClientEdns::negotiate(request.edns.as_ref());
        if !client.bad_version
            && let Some(transfer) = transfer::respond(request, &snapshot)
        {
            self.send_transfer(request, &snapshot, &client, transfer, responder, started)
                .await;
            return;
        }
        let reply = if request.protocol() == Protocol::Udp {
            match self
                .limiter
                .check(request.src().ip(), &snapshot.rate_limit, started)
            {
                Verdict::Allow => self.resolve(request, &snapshot, &client).await,
                Verdict::Slip => {
                    self.metrics.rate_limited("slip");
                    Reply::truncated(Outcome::RateLimited)
                }
                Verdict::Drop => {
                    self.metrics.rate_limited("drop");
                    return;
                }
            }
        } else {
            self.resolve(request, &snapshot, &client).await
        };
        let observed = Observed::new(
            request,
            self.metrics.clone(),
            started,
            reply.outcome,
            reply.upstream,
            snapshot.query_log,
        );
        let encoded = reply::encode(request, &reply, &client);
        if let (Some(key), Some(aging), false) = (memo, reply.aging, encoded.truncated) {
            self.memo.insert(
                key,
                &encoded.wire,
                aging,
                reply.outcome,
                encoded.rcode,
                snapshot.generation,
            );
        }
        observed.count(encoded.rcode);
        responder.send_raw(encoded.wire).await;
        observed.log(encoded.rcode);
    }

    /// Sends the messages of a zone transfer, in order, and counts them as
    /// one response.
    async fn send_transfer<R: RawSend>(
        &self,
        request: &Request,
        snapshot: &Snapshot,
        client: &ClientEdns,
        transfer: Transfer<'_>,
        mut responder: R,
        started: Instant,
    ) {
        let (outcome, rcode) = transfer.counted_as();
        let observed = Observed::new(
            request,
            self.metrics.clone(),
            started,
            outcome,
            None,
            snapshot.query_log,
        );
        observed.count(rcode);
        match transfer {
            Transfer::Single(reply) => {
                responder
                    .send_raw(reply::encode(request, &reply, client).wire)
                    .await;
            }
            Transfer::Zone(messages) => {
                let mut sent = 0usize;
                for reply in messages {
                    responder
                        .send_raw(reply::encode(request, &reply, client).wire)
                        .await;
                    sent += 1;
                }
                debug!(client = %request.src(), messages = sent, "zone transferred");
            }
        }
        observed.log(rcode);
    }
}

/// A DNS type in the mapping's terms.
pub(crate) fn mapped_type(rtype: RecordType) -> QueryType {
    match rtype {
        RecordType::A => QueryType::A,
        RecordType::AAAA => QueryType::Aaaa,
        RecordType::SOA => QueryType::Soa,
        RecordType::NS => QueryType::Ns,
        RecordType::ANY => QueryType::Any,
        _ => QueryType::Other,
    }
}

/// The mapping's key for a query name: lower case, dotted, no trailing dot.
/// A byte that no mapped name can contain becomes `?`, so such a name can
/// still fall inside a served zone (NXDOMAIN) but never match a mapped name,
/// and an escaped dot inside a label never splits it.
pub(crate) fn lookup_key(name: &Name) -> String {
    let mut key = String::with_capacity(name.len());
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            key.push('.');
        }
        key.extend(label.iter().map(|&byte| {
            let byte = byte.to_ascii_lowercase();
            if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
                char::from(byte)
            } else {
                '?'
            }
        }));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_keys_are_lower_case_without_the_root() {
        let name = Name::from_ascii("Acct01.PrivateLink.Blob.Core.Windows.Net.").unwrap();
        assert_eq!(
            lookup_key(&name),
            "acct01.privatelink.blob.core.windows.net"
        );
        assert_eq!(lookup_key(&Name::root()), "");
    }

    #[test]
    fn odd_bytes_cannot_forge_a_label_boundary() {
        let name = Name::from_labels(vec![
            &b"acct.privatelink"[..],
            b"blob",
            b"core",
            b"windows",
            b"net",
        ])
        .unwrap();
        assert_eq!(lookup_key(&name), "acct?privatelink.blob.core.windows.net");
    }
}
