//! The answer engine: the one place a query becomes a response, for UDP and
//! TCP alike. It takes the query bytes, the client, the transport and one
//! mapping snapshot, and writes the response bytes.
//!
//! Every query is checked in one order: undeliverable or not a query
//! (dropped), the rate limit (UDP), then either a *prepared answer* — a
//! plain question from an allowed client for a served name
//! ([`prepared`]), or for a forwarded name whose last answer from the cache
//! was kept ([`memo`]) — or the *reference path* ([`crate::resolve`]): the
//! query decoded by hickory and answered with hickory types, for
//! everything else. Both write headers, OPT records and truncation with the
//! same [`crate::wire`] functions, and the oracle tests prove their bytes
//! equal. Only the upstreams and zone transfers need to wait; the engine
//! returns those as [`Step::Pending`] for [`Engine::finish`].
//!
//! Metrics are counted just before a response is sent (a client that holds
//! its answer finds it in `/metrics`); the query-log event is handed off
//! just after ([`Engine::sent`]), without blocking.

pub(crate) mod access;
mod decode;
pub(crate) mod memo;
pub(crate) mod prepared;
pub(crate) mod ratelimit;
mod report;
mod signing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hickory_proto::op::ResponseCode;
use hickory_server::server::Request;
use privatelink_mapping::QueryType;

use crate::observe::metrics::Metrics;
use crate::observe::missing::MissingLog;
use crate::observe::querylog::{Asked, Event, LogFormat, QueryLog};
use crate::reply::{self, Outcome, Reply};
use crate::resolve::forward::Forwarder;
use crate::resolve::transfer::{self, Transfer};
use crate::resolve::{self, Decision};
use crate::store::{MappingStore, Snapshot};
use crate::wire::edns::ClientEdns;
use crate::wire::query;
use crate::wire::tsig_sign::Signer;
use crate::wire::{HEADER, Transport};
use memo::{MemoKey, ResponseMemo};
use prepared::Served;
use ratelimit::{RateLimiter, Verdict};

/// One received message.
#[derive(Debug, Clone, Copy)]
pub struct Received<'q> {
    pub message: &'q [u8],
    pub client: SocketAddr,
    pub transport: Transport,
    /// When it arrived: latency is measured from here, cached TTLs aged to it.
    pub at: Instant,
}

/// What to do with one received message.
#[derive(Debug)]
pub enum Step {
    /// The response is in the output buffer: send it, then hand the note to
    /// [`Engine::sent`].
    Respond(Sent),
    /// Send nothing (not a query, undeliverable, or over the rate limit).
    Drop,
    /// The upstreams must be asked, or a zone sent: [`Engine::finish`].
    Pending(Box<Pending>),
}

/// What is left to do once a response is sent: its query-log event.
#[derive(Debug)]
pub struct Sent {
    /// Boxed: the step is returned for every query, logged or not, and an
    /// event holds a whole name.
    event: Option<Box<Event>>,
    at: Instant,
    prepared: bool,
}

impl Sent {
    /// The response came from the prepared answers or the memo, not the
    /// reference path (what the oracle tests check they compare).
    pub fn prepared(&self) -> bool {
        self.prepared
    }
}

/// A query that waits for the upstreams or is a zone transfer.
#[derive(Debug)]
pub struct Pending {
    request: Request,
    snapshot: Arc<Snapshot>,
    client: ClientEdns,
    transport: Transport,
    at: Instant,
    /// Where a UDP-sized response built from the cache may be kept.
    memo: Option<MemoKey>,
    work: Work,
    /// Signs the answer of a TSIG-signed query.
    signer: Option<Signer>,
}

#[derive(Debug)]
enum Work {
    Forward { key: String, qtype: QueryType },
    Transfer,
}

/// Where [`Engine::finish`] sends: one encoded message at a time.
#[async_trait::async_trait]
pub trait Sink: Send {
    async fn send(&mut self, wire: Vec<u8>);
}

/// The answer engine of one server.
#[derive(Debug)]
pub struct Engine {
    store: Arc<MappingStore>,
    forwarder: Arc<Forwarder>,
    metrics: Arc<Metrics>,
    limiter: RateLimiter,
    memo: ResponseMemo,
    log: QueryLog,
    missing: MissingLog,
    /// Off only in the oracle tests: every query takes the reference path.
    prepared: AtomicBool,
}

impl Engine {
    /// Up to `memo_bytes` of ready-to-send responses are kept for questions
    /// answered from the cache (0: none; see [`memo`]); query-log lines
    /// are written in `log_format`.
    pub fn new(
        store: Arc<MappingStore>,
        forwarder: Arc<Forwarder>,
        metrics: Arc<Metrics>,
        memo_bytes: u64,
        log_format: LogFormat,
    ) -> std::io::Result<Self> {
        Ok(Self {
            log: QueryLog::start(metrics.clone(), log_format)?,
            store,
            forwarder,
            metrics,
            limiter: RateLimiter::new(),
            memo: ResponseMemo::new(memo_bytes),
            missing: MissingLog::new(),
            prepared: AtomicBool::new(true),
        })
    }

    /// The same engine answering every query on the reference path: what
    /// the oracle tests compare the prepared answers with.
    #[doc(hidden)]
    pub fn set_prepared(&self, prepared: bool) {
        self.prepared.store(prepared, Ordering::Relaxed);
    }

    /// The memory the kept UDP responses hold, by their weighing.
    pub fn memo_bytes(&self) -> u64 {
        self.memo.weighted_bytes()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The names asked for in served zones that the mapping lacks.
    pub(crate) fn missing(&self) -> &MissingLog {
        &self.missing
    }

    /// The last responses logged (the query log on).
    pub(crate) fn log(&self) -> &QueryLog {
        &self.log
    }

    /// Answers `received` into `out` when no upstream is needed.
    pub fn answer(&self, received: &Received<'_>, out: &mut Vec<u8>) -> Step {
        let message = received.message;
        let client = received.client;
        // A reply to port 0 or to an unspecified address cannot be
        // delivered; a response (QR) or a fragment of a header is not a query.
        if message.len() < HEADER
            || message[2] & 0x80 != 0
            || client.port() == 0
            || client.ip().is_unspecified()
        {
            return Step::Drop;
        }
        let snapshot = self.store.current();
        if received.transport == Transport::Udp {
            match self
                .limiter
                .check(client.ip(), &snapshot.rate_limit, received.at)
            {
                Verdict::Allow => {}
                Verdict::Slip => {
                    self.metrics.rate_limited("slip");
                    return self.slip(received, &snapshot, out);
                }
                Verdict::Drop => {
                    self.metrics.rate_limited("drop");
                    return Step::Drop;
                }
            }
        }
        // The allow-list, decided once for both paths.
        let allowed = snapshot.allow.allows(client.ip());
        // A client in a view's networks is answered from the view's
        // snapshot, on every path.
        let view = snapshot.view_for(client.ip());
        if let Some(view) = view {
            view.count_view_query(&self.metrics);
        }
        let serving: &Snapshot = view.map_or(&snapshot, |view| view);
        let mut memo = None;
        if self.prepared.load(Ordering::Relaxed) && allowed {
            match self.prepared_answer(received, serving, out) {
                Ok(sent) => return Step::Respond(sent),
                Err(key) => memo = key,
            }
        }
        let serving = match view {
            Some(view) => view.clone(),
            None => arc_swap::Guard::into_inner(snapshot),
        };
        self.reference(received, serving, allowed, memo, out)
    }

    /// A prepared answer, or the memo's for a forwarded name. `Err` when
    /// neither answers, with the key under which the reference path's
    /// response may be kept in the memo.
    fn prepared_answer(
        &self,
        received: &Received<'_>,
        snapshot: &Snapshot,
        out: &mut Vec<u8>,
    ) -> Result<Sent, Option<MemoKey>> {
        let message = received.message;
        let mut key = [0u8; 255];
        let question = query::parse(message, &mut key).ok_or(None)?;
        let edns = ClientEdns::plain(question.opt());
        let limit = edns.limit(received.transport);
        let zones = &snapshot.prepared;
        let (outcome, rcode) = match prepared::answer(
            &snapshot.mapping,
            zones,
            &question,
            message,
            &edns,
            limit,
            out,
        ) {
            Served::Answered(outcome, rcode) => {
                if outcome == Outcome::NxDomain
                    && let Ok(name) = std::str::from_utf8(question.name())
                {
                    self.missing
                        .nxdomain(snapshot, name, None, received.client.ip());
                }
                (outcome, rcode)
            }
            Served::Declined => return Err(None),
            Served::Forwarded => {
                let epoch = snapshot.memo_epoch();
                let kept = self
                    .memo
                    .answer(&question, message, epoch, received.at, limit, out);
                let Some(kept) = kept else {
                    return Err(self.memo.key(&question, epoch));
                };
                self.forwarder.cache().count_hit();
                kept
            }
        };
        let asked = self.asked(snapshot, || Asked::plain(message, &question));
        let mut sent = self.count(received, asked, outcome, rcode, None);
        sent.prepared = true;
        Ok(sent)
    }

    /// The reference path: decode with hickory, decide, encode.
    fn reference(
        &self,
        received: &Received<'_>,
        snapshot: Arc<Snapshot>,
        allowed: bool,
        memo: Option<MemoKey>,
        out: &mut Vec<u8>,
    ) -> Step {
        let (request, mut signer) = match decode::decode(received, &snapshot.transfers.keys, out) {
            Ok(decoded) => decoded,
            Err((outcome, rcode)) => {
                return Step::Respond(self.count(
                    received,
                    self.asked(&snapshot, Asked::unknown),
                    outcome,
                    rcode,
                    None,
                ));
            }
        };
        let client = ClientEdns::negotiate(request.edns.as_ref());
        let signed = signer.as_ref().map(Signer::key_name);
        let work = match resolve::decide(&request, &snapshot, &client, allowed, signed) {
            Decision::Reply(reply) => {
                let sent = (&request, &reply, &client);
                return self.encode(received, &snapshot, sent, &mut signer, out);
            }
            Decision::Forward { key, qtype } => Work::Forward { key, qtype },
            Decision::Transfer => match transfer::respond(&request, &snapshot, signed) {
                Some(Transfer::Single(reply)) => {
                    let sent = (&request, &reply, &client);
                    return self.encode(received, &snapshot, sent, &mut signer, out);
                }
                Some(Transfer::Zone(_)) | None => Work::Transfer,
            },
        };
        Step::Pending(Box::new(Pending {
            request,
            snapshot,
            client,
            transport: received.transport,
            at: received.at,
            memo,
            work,
            signer,
        }))
    }

    /// An empty answer with TC set, for a client over the rate limit.
    fn slip(&self, received: &Received<'_>, snapshot: &Snapshot, out: &mut Vec<u8>) -> Step {
        let request = match decode::decode(received, &snapshot.transfers.keys, out) {
            Ok((request, _)) => request,
            Err((outcome, rcode)) => {
                return Step::Respond(self.count(received, None, outcome, rcode, None));
            }
        };
        let client = ClientEdns::negotiate(request.edns.as_ref());
        let reply = Reply::truncated(Outcome::RateLimited);
        self.encode(
            received,
            snapshot,
            (&request, &reply, &client),
            &mut None,
            out,
        )
    }

    fn encode(
        &self,
        received: &Received<'_>,
        snapshot: &Snapshot,
        (request, reply, client): (&Request, &Reply, &ClientEdns),
        signer: &mut Option<Signer>,
        out: &mut Vec<u8>,
    ) -> Step {
        let encoded = reply::encode(out, request, reply, client, received.transport);
        signing::sign(signer, out, request, client, received.transport, reply);
        if let Some(name) = &reply.missing {
            self.missing
                .nxdomain(snapshot, name, None, received.client.ip());
        }
        let asked = self.asked(snapshot, || Asked::decoded(request));
        Step::Respond(self.count(
            received,
            asked,
            reply.outcome,
            encoded.rcode,
            reply.upstream,
        ))
    }

    /// Answers a query that needed the upstreams, or sends a zone.
    pub async fn finish<S: Sink>(&self, pending: Pending, sink: &mut S) {
        let Pending {
            request,
            snapshot,
            client,
            transport,
            at,
            memo,
            work,
            mut signer,
        } = pending;
        let received = Received {
            message: &[],
            client: request.src(),
            transport,
            at,
        };
        match work {
            Work::Forward { key, qtype } => {
                let reply = resolve::forward(
                    &self.forwarder,
                    &request,
                    &snapshot,
                    &client,
                    &key,
                    qtype,
                    at,
                )
                .await;
                let mut out = Vec::with_capacity(512);
                let encoded = reply::encode(&mut out, &request, &reply, &client, transport);
                signing::sign(&mut signer, &mut out, &request, &client, transport, &reply);
                if let Some(private) = &reply.missing {
                    self.missing
                        .nxdomain(&snapshot, private, Some(&key), received.client.ip());
                }
                // A chain into a missing name is not kept: each ask is counted.
                // Nor is a signed answer: it is this client's alone.
                let keep = !encoded.truncated && reply.missing.is_none() && signer.is_none();
                if let (Some(key), Some(aging), true) = (memo, reply.aging, keep) {
                    self.memo.insert(
                        key,
                        &out,
                        aging,
                        reply.outcome,
                        encoded.rcode,
                        snapshot.memo_epoch(),
                    );
                }
                let asked = self.asked(&snapshot, || Asked::decoded(&request));
                let sent = self.count(
                    &received,
                    asked,
                    reply.outcome,
                    encoded.rcode,
                    reply.upstream,
                );
                sink.send(out).await;
                self.sent(sent);
            }
            Work::Transfer => {
                // Asked again rather than carried: its messages borrow the
                // snapshot, which this pending query owns.
                let signed = signer.as_ref().map(Signer::key_name).cloned();
                let transfer = transfer::respond(&request, &snapshot, signed.as_ref());
                let Some(Transfer::Zone(mut messages)) = transfer else {
                    return;
                };
                let asked = self.asked(&snapshot, || Asked::decoded(&request));
                let sent = self.count(
                    &received,
                    asked,
                    Outcome::Transfer,
                    ResponseCode::NoError,
                    None,
                );
                let mut count = 0usize;
                for reply in messages.by_ref() {
                    let mut out = Vec::with_capacity(4096);
                    reply::encode(&mut out, &request, &reply, &client, transport);
                    signing::sign(&mut signer, &mut out, &request, &client, transport, &reply);
                    sink.send(out).await;
                    count += 1;
                }
                messages.summary.log(request.src(), count);
                self.sent(sent);
            }
        }
    }
}
