//! Running beside the request path: reload, file watching, NOTIFY, the HTTP
//! endpoint, readiness, and the metrics read from state at scrape time.

pub(crate) mod health;
pub(crate) mod http;
pub(crate) mod notify;
pub(crate) mod reload;
pub(crate) mod state;
pub(crate) mod watch;
