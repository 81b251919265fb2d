//! Running beside the request path: reload, file watching, NOTIFY, the HTTP
//! endpoint, readiness, and the metrics read from state at scrape time.

pub(crate) mod api;
pub(crate) mod health;
pub(crate) mod history;
pub(crate) mod http;
pub(crate) mod load;
pub(crate) mod mapping_thread;
pub(crate) mod notify;
pub(crate) mod page;
pub(crate) mod port_holder;
pub(crate) mod process;
pub(crate) mod reload;
pub(crate) mod serials;
pub(crate) mod settle;
pub(crate) mod state;
pub(crate) mod systemd;
pub(crate) mod triggers;
pub(crate) mod watch;
