//! The query log: one event per response when `server.query_log` is on.
//!
//! The engine builds each event from what it already knows (no second
//! decode) and hands it to a writer thread over a bounded channel, a UDP
//! receive batch at a time, so the socket threads never wait on the log:
//! when the writer falls behind, events are dropped and counted
//! (`query_log_dropped_total`), never the queries, and the log says so once
//! per episode.
//!
//! The writer formats the lines itself, as `tracing-subscriber` formats
//! any other event of the `privatelink_dns::query` target (JSON or text,
//! after `--log-format`), and writes them to stderr in chunks of whole lines
//! of at most [`PIPE_BUF`] bytes, which a pipe never interleaves with other
//! writers' lines. Measured with `bench/run.sh` (1,000 names, mapped A):
//! through `tracing`'s own formatter and one write per line the query log
//! cost 17 µs of server CPU per query (0.66× Knot DNS); see bench/README.md
//! for what it costs now.

pub(crate) mod format;

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hickory_proto::op::ResponseCode;
use tracing::{Level, warn};

use super::metrics::Metrics;
use crate::reply::Outcome;
use hickory_proto::serialize::binary::BinEncodable;
use hickory_server::server::Request;

use crate::wire::query::Question;
use crate::wire::{HEADER, Transport};

/// The query-log target: filter with `RUST_LOG=privatelink_dns::query=off`.
pub(crate) const TARGET: &str = "privatelink_dns::query";

/// Batches waiting for the writer at most.
const BACKLOG: usize = 1024;
/// The most written at once: POSIX's limit for writes a pipe keeps whole.
const PIPE_BUF: usize = 4096;
/// After writing what was queued, the writer lets events gather this long
/// before it waits again: a sender then finds no waiting writer to wake, and
/// under load the writer wakes once per interval, not once per event.
const SETTLE: Duration = Duration::from_millis(2);
/// The last responses kept for the status page.
pub(crate) const RECENT: usize = 100;

/// The last [`RECENT`] events written, newest last.
type Recent = Arc<Mutex<VecDeque<Event>>>;

/// How query-log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The question name of an event, in wire format as the client wrote it.
#[derive(Clone)]
pub(crate) struct EventName {
    bytes: [u8; 255],
    len: u8,
}

impl EventName {
    /// `wire`: labels up to the root, no pointers (longer input is cut).
    pub(crate) fn new(wire: &[u8]) -> Self {
        let mut bytes = [0u8; 255];
        let len = wire.len().min(255);
        bytes[..len].copy_from_slice(&wire[..len]);
        Self {
            bytes,
            len: u8::try_from(len).unwrap_or(u8::MAX),
        }
    }

    /// For a query that could not be decoded.
    pub(crate) fn unknown() -> Self {
        Self::new(&[])
    }

    fn wire(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The name in presentation form.
    pub(crate) fn text(&self) -> String {
        crate::wire::name_text(self.wire())
    }
}

impl std::fmt::Debug for EventName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::wire::name_text(self.wire()))
    }
}

/// The question name and type of a query, for the log.
pub(crate) struct Asked {
    pub(crate) name: EventName,
    pub(crate) qtype: Option<u16>,
    /// The `[[view]]` that answered; `None` for the top level.
    pub(crate) view: Option<std::sync::Arc<str>>,
}

impl Asked {
    /// A plain query's question: its name as written, from the query bytes.
    pub(crate) fn plain(message: &[u8], question: &Question<'_>) -> Self {
        Self {
            name: EventName::new(message.get(HEADER..question.end() - 4).unwrap_or(&[])),
            qtype: Some(question.qtype()),
            view: None,
        }
    }

    /// A decoded query's first question.
    pub(crate) fn decoded(request: &Request) -> Self {
        match request.queries.queries().first() {
            Some(query) => Self {
                name: EventName::new(&query.original().name().to_bytes().unwrap_or_default()),
                qtype: Some(u16::from(query.query_type())),
                view: None,
            },
            None => Self::unknown(),
        }
    }

    /// A query that could not be decoded.
    pub(crate) fn unknown() -> Self {
        Self {
            name: EventName::unknown(),
            qtype: None,
            view: None,
        }
    }
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
    /// The `[[view]]` that answered; `None` (logged `-`) for the top level.
    pub(crate) view: Option<std::sync::Arc<str>>,
    pub(crate) latency: Duration,
    pub(crate) at: SystemTime,
}

/// The sending side of the query log.
#[derive(Debug)]
pub(crate) struct QueryLog {
    events: SyncSender<Vec<Event>>,
    metrics: Arc<Metrics>,
    /// The `privatelink_dns::query` target is enabled at INFO.
    enabled: bool,
    /// Events are being dropped (said once in the log until they pass again).
    dropping: AtomicBool,
    recent: Recent,
}

impl QueryLog {
    /// Starts the writer thread; it ends when the log is dropped.
    pub(crate) fn start(metrics: Arc<Metrics>, format: LogFormat) -> std::io::Result<Self> {
        let (events, receiver) = mpsc::sync_channel(BACKLOG);
        let recent = Recent::default();
        let kept = recent.clone();
        std::thread::Builder::new()
            .name("query-log".into())
            .spawn(move || write_events(&receiver, format, &kept))?;
        Ok(Self {
            events,
            metrics,
            enabled: tracing::enabled!(target: TARGET, Level::INFO),
            dropping: AtomicBool::new(false),
            recent,
        })
    }

    /// A log whose writer never runs, so that its queue fills (tests).
    #[cfg(test)]
    fn detached(metrics: Arc<Metrics>) -> (Self, Receiver<Vec<Event>>) {
        let (events, receiver) = mpsc::sync_channel(BACKLOG);
        let log = Self {
            events,
            metrics,
            enabled: true,
            dropping: AtomicBool::new(false),
            recent: Recent::default(),
        };
        (log, receiver)
    }

    /// The last responses written, newest first.
    pub(crate) fn recent(&self) -> Vec<Event> {
        let recent = match self.recent.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        recent.iter().rev().cloned().collect()
    }

    /// Whether events are written at all (the log filter may silence them).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Hands `events` to the writer without waiting.
    pub(crate) fn submit(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let count = events.len();
        match self.events.try_send(events) {
            Ok(()) => {
                if self.dropping.load(Ordering::Relaxed) {
                    self.dropping.store(false, Ordering::Relaxed);
                }
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.metrics
                    .query_log_dropped
                    .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
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

/// Formats events into whole lines and writes them in chunks of at most
/// [`PIPE_BUF`] bytes, waiting only when nothing is queued.
fn write_events(events: &Receiver<Vec<Event>>, format: LogFormat, recent: &Recent) {
    let mut chunk = Vec::with_capacity(PIPE_BUF);
    let mut line = Vec::with_capacity(512);
    let mut clock = format::Clock::default();
    let stderr = std::io::stderr();
    while let Ok(batch) = events.recv() {
        let mut next = Some(batch);
        while let Some(batch) = next {
            for event in &batch {
                line.clear();
                format::line(&mut line, event, format, &mut clock);
                if chunk.len() + line.len() > PIPE_BUF && !chunk.is_empty() {
                    let _ = stderr.lock().write_all(&chunk);
                    chunk.clear();
                }
                chunk.extend_from_slice(&line);
            }
            keep_recent(recent, batch);
            next = events.try_recv().ok();
        }
        if !chunk.is_empty() {
            let _ = stderr.lock().write_all(&chunk);
            chunk.clear();
        }
        std::thread::sleep(SETTLE);
    }
}

/// Adds a written batch to the last [`RECENT`] events.
fn keep_recent(recent: &Recent, batch: Vec<Event>) {
    let mut recent = match recent.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    let skip = batch.len().saturating_sub(RECENT);
    recent.extend(batch.into_iter().skip(skip));
    let over = recent.len().saturating_sub(RECENT);
    recent.drain(..over);
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn event() -> Event {
        Event {
            client: "127.0.0.1:5353".parse().unwrap(),
            transport: Transport::Udp,
            name: EventName::new(b"\x01a\x00"),
            qtype: Some(1),
            outcome: Outcome::Mapped,
            rcode: ResponseCode::NoError,
            upstream: None,
            view: None,
            latency: Duration::ZERO,
            at: UNIX_EPOCH,
        }
    }

    /// A writer that cannot keep up costs events, counted, and never blocks
    /// the sender; once the queue drains, events pass again.
    #[test]
    fn a_full_queue_drops_and_counts_events_without_waiting() {
        let metrics = Arc::new(Metrics::new());
        let (log, queue) = QueryLog::detached(metrics.clone());
        for _ in 0..BACKLOG {
            log.submit(vec![event(), event()]);
        }
        assert_eq!(metrics.query_log_dropped.get(), 0);
        log.submit(vec![event(), event(), event()]);
        assert_eq!(metrics.query_log_dropped.get(), 3);
        assert!(log.dropping.load(Ordering::Relaxed));
        let _ = queue.recv().unwrap();
        log.submit(vec![event()]);
        assert_eq!(metrics.query_log_dropped.get(), 3);
        assert!(!log.dropping.load(Ordering::Relaxed));
    }
}
