//! What the engine reports: Prometheus metrics and the query log.

pub(crate) mod log_budget;
pub(crate) mod metrics;
pub(crate) mod missing;
pub(crate) mod querylog;
