//! What the engine reports of each response: the metrics, counted just
//! before it is sent, and the query-log event, handed off just after.

use std::net::SocketAddr;

use hickory_proto::op::ResponseCode;

use super::{Engine, Received, Sent};
use crate::observe::querylog::{Asked, Event};
use crate::reply::Outcome;
use crate::store::Snapshot;

impl Engine {
    /// Counts a response about to be sent and notes its query-log event.
    pub(super) fn count(
        &self,
        received: &Received<'_>,
        asked: Option<Asked>,
        outcome: Outcome,
        rcode: ResponseCode,
        upstream: Option<SocketAddr>,
    ) -> Sent {
        self.metrics.query(received.transport, outcome, rcode);
        Sent {
            event: asked.map(|asked| {
                Box::new(Event {
                    client: received.client,
                    transport: received.transport,
                    name: asked.name,
                    qtype: asked.qtype,
                    view: asked.view,
                    outcome,
                    rcode,
                    upstream,
                    latency: std::time::Duration::ZERO,
                    at: std::time::SystemTime::now(),
                })
            }),
            at: received.at,
            prepared: false,
        }
    }

    /// Whether responses from `snapshot` are logged.
    pub(super) fn logs(&self, snapshot: &Snapshot) -> bool {
        snapshot.query_log && self.log.enabled()
    }

    /// The question for the query log, with the view that answers it, when
    /// responses from `snapshot` are logged.
    pub(super) fn asked(
        &self,
        snapshot: &Snapshot,
        asked: impl FnOnce() -> Asked,
    ) -> Option<Asked> {
        self.logs(snapshot).then(|| Asked {
            view: snapshot.view.clone(),
            ..asked()
        })
    }

    /// A response was sent: its query-log event goes to the writer.
    pub fn sent(&self, sent: Sent) {
        if let Some(mut event) = sent.event {
            event.latency = sent.at.elapsed();
            self.log.submit(vec![*event]);
        }
    }

    /// A batch of responses was sent: their events go to the writer at once.
    pub fn sent_all(&self, sent: &mut Vec<Sent>) {
        let mut events = Vec::new();
        for sent in sent.drain(..) {
            if let Some(mut event) = sent.event {
                event.latency = sent.at.elapsed();
                events.push(*event);
            }
        }
        self.log.submit(events);
    }
}
