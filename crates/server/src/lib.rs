//! The privatelink-dns server: DNS over UDP and TCP in front of a mapping.
//!
//! ```text
//!  UDP ─▶ udp.rs worker threads ─▶ fast.rs: plain questions for served names,
//!   │        answered from the mapping; memo.rs: forwarded questions answered
//!   │        again from the response the general path last built from the cache
//!   │                                 (anything else)
//!  TCP ─▶ tcp.rs (limits, pipelining) ──┐        │
//!                                       ▼        ▼
//!           dispatch.rs (decode; FORMERR; drop responses)
//!               │
//!               ▼
//!           Handler::handle ── one Snapshot from the MappingStore
//!               │  allow-list ─▶ REFUSED
//!               │  opcode / EDNS version / question count / class checks
//!               ▼
//!           Mapping::lookup(name, type)
//!               ├─ Answer / NoData / NxDomain ─▶ answer.rs (AA, SOA in authority)
//!               └─ NotServed / zone fallback ─▶ Forwarder: cache, or upstreams in health
//!                     order (UDP→TCP), sanitised ─▶ chain.rs completes CNAME chains into
//!                     served zones; on failure: public-twin synthesis, stale, SERVFAIL
//!               ▼
//!           reply::encode (header flags, OPT, TC when too large for UDP) ─▶ memo.rs
//!               keeps a UDP response built from the cache ─▶ sent; querylog.rs counts it
//! ```
//!
//! Zone transfers (AXFR/IXFR from `server.allow_transfer` clients) leave
//! this path before the lookup: `transfer.rs` sends the whole zone in
//! several messages; `notify.rs` tells secondaries when a reload changes a zone.
//!
//! - [`store`]: the swappable snapshot every query reads.
//! - [`handler`]: from a request to a reply.
//! - [`forward`]: upstream exchange and failover.
//! - [`listen`]: the UDP and TCP listeners.
//! - [`reload`]: validate, then swap, or keep the last good mapping.
//! - [`watch`]: file and directory events, debounced, that trigger reloads.
//! - [`metrics`], [`health`], [`http`]: Prometheus metrics, readiness, the HTTP endpoint;
//!   [`querylog`] counts each response and, optionally, logs it.

pub mod access;
mod answer;
mod chain;
mod dispatch;
pub mod edns;
pub mod fast;
pub mod forward;
pub mod handler;
pub mod health;
pub mod http;
pub mod listen;
pub mod memo;
pub mod metrics;
pub mod notify;
pub mod querylog;
pub mod ratelimit;
pub mod reload;
pub mod reply;
pub mod store;
pub mod tcp;
mod transfer;
pub mod udp;
pub mod watch;

pub use access::AllowList;
pub use forward::Forwarder;
pub use handler::Handler;
pub use reply::Outcome;
pub use store::{MappingStore, Snapshot};

/// Entry points for the fuzz targets in `fuzz/`: internal steps exposed so
/// that they can be driven without sockets. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::Duration;

    use hickory_proto::op::{Message, Query};
    use hickory_server::net::xfer::Protocol;

    use crate::chain::{self, Asked};
    use crate::dispatch::{RawSend, dispatch};
    use crate::forward::Forwarder;
    use crate::forward::sanitize;
    use crate::handler::{FastUdp, Handler, lookup_key, mapped_type};
    use crate::metrics::Metrics;
    use crate::reply::Outcome;
    use crate::store::MappingStore;
    use crate::store::Snapshot;

    /// A handler serving `mapping` (a mapping file's text) with a small
    /// cache and no socket: what the packet fuzzer and its regression test
    /// drive. `Err` names the first problem of an invalid mapping.
    pub fn handler(mapping: &str) -> Result<Handler, String> {
        let loaded = privatelink_mapping::load_str("fuzz.toml", mapping)
            .map_err(|error| error.to_string())?;
        let snapshot = Snapshot::new(loaded, 1).map_err(|error| error.to_string())?;
        let metrics = Arc::new(Metrics::new());
        let forwarder = Arc::new(Forwarder::new(
            1 << 20,
            Duration::from_secs(60),
            16,
            metrics.clone(),
        ));
        Ok(Handler::new(
            Arc::new(MappingStore::new(snapshot)),
            forwarder,
            metrics,
            1 << 18,
        ))
    }

    /// Collects what would be sent.
    struct Collect<'a>(&'a mut Vec<Vec<u8>>);

    #[async_trait::async_trait]
    impl RawSend for Collect<'_> {
        async fn send_raw(&mut self, wire: Vec<u8>) {
            self.0.push(wire);
        }
    }

    /// What the server sends back for one datagram (UDP: the fast path,
    /// then the general path) or one TCP message.
    pub async fn respond(
        handler: &Handler,
        message: &[u8],
        peer: SocketAddr,
        udp: bool,
    ) -> Vec<Vec<u8>> {
        let mut sent = Vec::new();
        let (protocol, memo) = if udp {
            let mut out = Vec::new();
            match handler.fast_udp(peer.ip(), message, &mut out) {
                FastUdp::Answered(_) => return vec![out],
                FastUdp::Declined(memo) => (Protocol::Udp, memo),
            }
        } else {
            (Protocol::Tcp, None)
        };
        dispatch(
            message.to_vec(),
            peer,
            protocol,
            handler,
            Collect(&mut sent),
            memo,
        )
        .await;
        sent
    }

    /// What the forward path does with an upstream's answer to `question`:
    /// sanitise, then complete the chain. Returns the number of answer records.
    pub fn process_upstream_answer(
        snapshot: &Snapshot,
        question: &Query,
        mut answer: Message,
    ) -> usize {
        sanitize(question.name(), &mut answer);
        let asked = Asked {
            name: question.name(),
            rtype: question.query_type(),
            mapped: mapped_type(question.query_type()),
            wants_ad: false,
        };
        let reply = chain::complete(&asked, answer, snapshot, Outcome::Forwarded, None, None);
        let _ = lookup_key(question.name());
        reply.answers.len()
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RecordType};

    /// The packet fuzzer's regression inputs through the handler, with the
    /// fuzzer's own oracle: at most one response, and one that decodes.
    #[test]
    fn fuzz_regression_packets_get_decodable_responses() {
        let handler = crate::fuzzing::handler(
            "[server]\nallow_transfer = [\"127.0.0.0/8\"]\n[forward]\nupstreams = []\n[records]\n\"multi.privatelink.blob.core.windows.net\" = [\"10.0.0.1\", \"fd00::1\"]\n",
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let dir = format!(
            "{}/../../tests/data/fuzz/packet",
            env!("CARGO_MANIFEST_DIR")
        );
        let peer = SocketAddr::from(([127, 0, 0, 1], 5353));
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let packet = std::fs::read(&path).unwrap();
            for udp in [true, false] {
                let sent = runtime.block_on(crate::fuzzing::respond(&handler, &packet, peer, udp));
                assert!(sent.len() <= 1, "{}", path.display());
                for wire in sent {
                    assert!(
                        Message::from_vec(&wire).is_ok(),
                        "{}: undecodable response",
                        path.display()
                    );
                }
            }
            replayed += 1;
        }
        assert!(replayed > 0);
    }

    /// The upstream-answer fuzzer's regression inputs, replayed.
    #[test]
    fn fuzz_regression_inputs_for_upstream_answers() {
        let loaded = privatelink_mapping::load_str(
            "t.toml",
            "[records]\n\"acct.privatelink.blob.core.windows.net\" = \"10.0.0.1\"\n",
        )
        .unwrap();
        let snapshot = crate::Snapshot::new(loaded, 1).unwrap();
        let dir = format!(
            "{}/../../tests/data/fuzz/upstream_answer",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            if let Ok(answer) = Message::from_vec(&data) {
                let question = Query::query(
                    Name::from_ascii("acct.blob.core.windows.net.").unwrap(),
                    RecordType::A,
                );
                crate::fuzzing::process_upstream_answer(&snapshot, &question, answer);
                replayed += 1;
            }
        }
        assert!(replayed > 0);
    }
}
