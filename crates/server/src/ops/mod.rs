//! Running beside the request path: reload, file watching, NOTIFY, the HTTP
//! endpoint, readiness, and the metrics read from state at scrape time.

pub mod health;
pub mod http;
pub mod notify;
pub mod reload;
pub mod state;
pub mod watch;
