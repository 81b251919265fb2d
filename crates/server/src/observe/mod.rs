//! What the engine reports: Prometheus metrics and the query log.

pub(crate) mod metrics;
pub(crate) mod querylog;
