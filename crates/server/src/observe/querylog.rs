//! The query log: one event per response when `server.query_log` is on.
//!
//! The engine builds each event from what it already knows (no second
//! decode) and hands it to a writer thread over a bounded channel, so the
//! socket threads never wait on the log: when the writer falls behind,
//! events are dropped and counted (`query_log_dropped_total`), never the
//! queries, and the log says so once per episode.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use tracing::{info, warn};

use super::metrics::{Metrics, rcode_label};
use crate::reply::Outcome;
use crate::wire::{Transport, name_text};

/// The query-log target: filter with `RUST_LOG=privatelink_dns::query=info`.
pub const TARGET: &str = "privatelink_dns::query";

/// Events waiting for the writer at most.
const BACKLOG: usize = 16_384;

/// The question name of an event, rendered by the writer.
#[derive(Debug, Clone)]
pub(crate) enum EventName {
    /// Labels in wire format, as the client wrote them (no pointers).
    Wire(Box<[u8]>),
    Decoded(Name),
    /// The query could not be decoded.
    Unknown,
}

/// One response, as the query log writes it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) client: SocketAddr,
    pub(crate) transport: Transport,
    pub(crate) name: EventName,
    pub(crate) qtype: Option<u16>,
    pub(crate) outcome: Outcome,
    pub(crate) rcode: ResponseCode,
    pub(crate) upstream: Option<SocketAddr>,
    pub(crate) latency: Duration,
}

/// The sending side of the query log.
#[derive(Debug)]
pub(crate) struct QueryLog {
    events: SyncSender<Event>,
    metrics: Arc<Metrics>,
    /// Events are being dropped (said once in the log until they pass again).
    dropping: AtomicBool,
}

impl QueryLog {
    /// Starts the writer thread; it ends when the log is dropped.
    pub(crate) fn start(metrics: Arc<Metrics>) -> std::io::Result<Self> {
        let (events, receiver) = mpsc::sync_channel(BACKLOG);
        std::thread::Builder::new()
            .name("query-log".into())
            .spawn(move || write_events(&receiver))?;
        Ok(Self {
            events,
            metrics,
            dropping: AtomicBool::new(false),
        })
    }

    /// Hands `event` to the writer without waiting.
    pub(crate) fn submit(&self, event: Event) {
        match self.events.try_send(event) {
            Ok(()) => {
                if self.dropping.load(Ordering::Relaxed) {
                    self.dropping.store(false, Ordering::Relaxed);
                }
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.metrics.query_log_dropped.inc();
                if !self.dropping.swap(true, Ordering::Relaxed) {
                    warn!(
                        backlog = BACKLOG,
                        "the query log cannot keep up; events are dropped (query_log_dropped_total) until it does"
                    );
                }
            }
        }
    }
}

fn write_events(events: &Receiver<Event>) {
    while let Ok(event) = events.recv() {
        let name = match &event.name {
            EventName::Wire(wire) => name_text(wire),
            EventName::Decoded(name) => name.to_ascii(),
            EventName::Unknown => String::from("-"),
        };
        let qtype = event.qtype.map_or_else(
            || String::from("-"),
            |qtype| RecordType::from(qtype).to_string(),
        );
        let upstream = event.upstream.map(|u| u.to_string());
        info!(
            target: TARGET,
            client = %event.client,
            transport = event.transport.as_str(),
            name = name.as_str(),
            qtype = qtype.as_str(),
            outcome = event.outcome.as_str(),
            rcode = rcode_label(event.rcode),
            upstream = upstream.as_deref().unwrap_or("-"),
            latency_us = u64::try_from(event.latency.as_micros()).unwrap_or(u64::MAX),
            "query"
        );
    }
}
