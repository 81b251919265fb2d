//! The privatelink-dns server: DNS over UDP and TCP in front of a mapping.
//!
//! ```text
//!  UDP/TCP ─▶ hickory-server (decode; FORMERR; drop responses)
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
pub mod edns;
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
pub mod watch;

pub use access::AllowList;
pub use forward::Forwarder;
pub use handler::{Handler, SharedHandler};
pub use reply::Outcome;
pub use store::{MappingStore, Snapshot};
