//! The privatelink-dns server: DNS over UDP and TCP in front of a mapping.
//!
//! ```text
//!  listen/udp.rs  (worker threads, recvmmsg/sendmmsg) ─┐
//!  listen/tcp.rs  (limits, pipelining)                 ├─▶ engine::Engine::answer
//!                                                      │     (query bytes, client, transport,
//!                                                      │      one Snapshot from the store)
//!   engine: drop non-queries ─▶ rate limit (UDP, RRL with slip)
//!     ├─ prepared answers (engine/prepared.rs): a plain question from an allowed
//!     │    client for a served name, written from the mapping and per-zone wire data
//!     ├─ the memo (engine/memo.rs): a forwarded question answered again from the
//!     │    response last built from the cache, TTLs aged
//!     └─ the reference path (resolve/): hickory-decoded, decided, encoded by
//!          reply/encode.rs; everything else: refusals, errors, apex SOA/NS, ANY
//!            └─ Pending ─▶ Engine::finish: resolve/forward (cache, upstreams in health
//!                 order, UDP→TCP), resolve/chain (CNAME chains into served zones,
//!                 synthesis), stale, SERVFAIL; or resolve/transfer (AXFR/IXFR)
//!   every response: observe/metrics counted before it is sent; the query-log
//!   event (observe/querylog.rs) handed to its writer thread after
//! ```
//!
//! Both answer paths write the header flags, the OPT record and truncation
//! with the same `wire` functions; the oracle tests (`tests/oracle.rs`
//! and the `oracle` fuzz target) prove their bytes equal.
//!
//! The modules, from the bottom up (all private; what the binary, the tests
//! and the fuzz targets use is re-exported here):
//!
//! - `wire`: DNS wire constants, plain-query parsing, EDNS, header decisions.
//! - `store`: the swappable snapshot every query reads.
//! - `engine`, `resolve`, `reply`: from a query to a response.
//! - `listen`: the UDP and TCP listeners.
//! - `observe`: metrics and the query log.
//! - `ops`: reload, file watching, NOTIFY, HTTP, readiness.
//! - `server`: all of it put together, as `serve` runs it.

mod engine;
mod listen;
mod observe;
mod ops;
mod reply;
mod resolve;
mod server;
mod store;
mod wire;

pub use engine::Engine;
pub use observe::querylog::LogFormat;
pub use reply::Outcome;
pub use resolve::forward::Forwarder;
pub use server::{Options, ServeError, Server};
pub use store::{MappingStore, Snapshot};
pub use wire::Transport;

/// Entry points for the fuzz targets in `fuzz/` and the oracle tests:
/// internal steps exposed so that they can be driven without sockets. Not
/// a stable API.
#[doc(hidden)]
pub mod testing;
