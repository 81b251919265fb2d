//! The privatelink-dns server: DNS over UDP and TCP in front of a mapping.
//!
//! ```text
//!  UDP ─▶ udp.rs worker threads ─▶ fast.rs: plain questions for served names,
//!   │        answered from precomputed wire data │
//!   │                                 (anything else)
//!  TCP ─▶ tcp.rs (limits, pipelining) ──┐        │
//!                                       ▼        ▼
//!           dispatch.rs (decode; FORMERR; drop responses)
//!               │
//!               ▼
//!           Handler::handle_request ── one Snapshot from the MappingStore
//!               │  allow-list ─▶ REFUSED
//!               │  opcode / EDNS version / question count / class checks
//!               ▼
//!           Mapping::lookup(name, type)
//!               ├─ Answer / NoData / NxDomain ─▶ answer.rs (AA, SOA in authority)
//!               └─ NotServed / zone fallback ─▶ Forwarder: cache, or upstreams in health
//!                     order (UDP→TCP), sanitised ─▶ chain.rs completes CNAME chains into
//!                     served zones; on failure: public-twin synthesis, stale, SERVFAIL
//!               ▼
//!           reply::send (header flags, OPT, TC when too large for UDP)
//! ```
//!
//! - [`store`]: the swappable snapshot every query reads.
//! - [`handler`]: the `RequestHandler`.
//! - [`forward`]: upstream exchange and failover.
//! - [`listen`]: sockets and the hickory-server loops.
//! - [`reload`]: validate, then swap, or keep the last good mapping.
//! - [`watch`]: file and directory events, debounced, that trigger reloads.
//! - [`metrics`], [`health`], [`http`]: Prometheus metrics, readiness, the HTTP endpoint;
//!   `querylog.rs` wraps each response to count it and, optionally, log it.

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
pub mod metrics;
pub mod querylog;
pub mod ratelimit;
pub mod reload;
pub mod reply;
pub mod store;
pub mod tcp;
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
    use hickory_proto::op::{Message, Query};

    use crate::chain::{self, Asked};
    use crate::forward::sanitize;
    use crate::handler::{lookup_key, mapped_type};
    use crate::reply::Outcome;
    use crate::store::Snapshot;

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
        let reply = chain::complete(&asked, answer, snapshot, Outcome::Forwarded, None);
        let _ = lookup_key(question.name());
        reply.answers.len()
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RecordType};

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
