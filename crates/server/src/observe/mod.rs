//! What the engine reports: Prometheus metrics and the query log.

pub mod metrics;
pub mod querylog;
