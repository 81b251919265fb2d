//! `serve`: load the file, bind the sockets, answer until told to stop.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use privatelink_mapping::{Diagnostic, LoadError, Loaded, load_file};
use privatelink_server::listen::{self, Bound};
use privatelink_server::{Forwarder, Handler, MappingStore, Snapshot};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing::{error, info, warn};

use crate::{EXIT_INVALID, EXIT_IO, EXIT_OK};

/// How long in-flight queries may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub(crate) fn run(config: &Path, listen: Vec<SocketAddr>) -> u8 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("privatelink-dns: cannot start the runtime: {error}");
            return EXIT_IO;
        }
    };
    runtime.block_on(serve(config, listen))
}

/// Loads the file, logging every diagnostic; `Err` holds the exit code.
fn load(config: &Path) -> Result<Loaded, u8> {
    match load_file(config) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                log_diagnostic(warning);
            }
            Ok(loaded)
        }
        Err(error @ LoadError::Read { .. }) => {
            error!(%error, "cannot read the mapping file");
            Err(EXIT_IO)
        }
        Err(LoadError::Invalid { diagnostics, .. }) => {
            for diagnostic in &diagnostics {
                log_diagnostic(diagnostic);
            }
            Err(EXIT_INVALID)
        }
    }
}

/// One log event per problem: the rendered `FILE:LINE: field: message (hint)`
/// for people, and file, line and field as fields for log pipelines.
fn log_diagnostic(diagnostic: &Diagnostic) {
    let (file, line, field) = (
        &*diagnostic.file,
        diagnostic.line,
        diagnostic.field.as_str(),
    );
    if diagnostic.is_error() {
        error!(file, line, field, "{diagnostic}");
    } else {
        warn!(file, line, field, "{diagnostic}");
    }
}

async fn serve(config: &Path, listen_override: Vec<SocketAddr>) -> u8 {
    let loaded = match load(config) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let listen = if listen_override.is_empty() {
        loaded.settings.server.listen.clone()
    } else {
        listen_override
    };
    if loaded.mapping.is_empty() {
        warn!(file = %config.display(), "the mapping maps no names; only declared zones are served");
    }
    if loaded.settings.forward.upstreams.is_empty() {
        info!(
            "offline mode: no default upstream; names outside served zones and forward rules get SERVFAIL"
        );
    }
    info!(
        file = %config.display(),
        names = loaded.mapping.name_count(),
        zones = loaded.mapping.zones().len(),
        upstreams = ?loaded.settings.forward.upstreams,
        "mapping loaded"
    );
    let snapshot = match Snapshot::new(loaded, 1) {
        Ok(snapshot) => snapshot,
        Err(error) => {
            error!(%error, "cannot prepare the zones");
            return EXIT_INVALID;
        }
    };
    let store = Arc::new(MappingStore::new(snapshot));

    let mut sockets: Vec<Bound> = Vec::with_capacity(listen.len());
    for address in listen {
        match listen::bind(address).await {
            Ok(bound) => sockets.push(bound),
            Err(error) => {
                error!(%address, %error, "cannot listen");
                return EXIT_IO;
            }
        }
    }
    // Signal handlers exist before the server says it is ready: a SIGHUP
    // that arrives right after the `listening` line must reload, not kill.
    let signals = match Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            error!(%error, "cannot install signal handlers");
            return EXIT_IO;
        }
    };
    let Signals {
        mut terminate,
        mut interrupt,
        hangup,
    } = signals;

    let addresses: Vec<SocketAddr> = sockets.iter().map(|b| b.address).collect();
    let mut server = listen::serve(Handler::new(store.clone(), Forwarder::new()), sockets);
    for address in &addresses {
        info!(transport = %"udp", %address, "listening");
        info!(transport = %"tcp", %address, "listening");
    }

    let stopped_by_itself = tokio::select! {
        _ = terminate.recv() => false,
        _ = interrupt.recv() => false,
        () = reload_on_hangup(config, &store, hangup) => false,
        result = server.block_until_done() => {
            if let Err(error) = &result {
                error!(%error, "the server stopped unexpectedly");
            }
            true
        }
    };
    if stopped_by_itself {
        return EXIT_IO;
    }
    info!("shutting down");
    match tokio::time::timeout(SHUTDOWN_GRACE, server.shutdown_gracefully()).await {
        Ok(Ok(())) => EXIT_OK,
        Ok(Err(error)) => {
            warn!(%error, "error while shutting down");
            EXIT_OK
        }
        Err(_) => {
            warn!(grace = ?SHUTDOWN_GRACE, "queries still in flight at shutdown were dropped");
            EXIT_OK
        }
    }
}

/// The signals the server reacts to: SIGTERM and SIGINT stop, SIGHUP reloads.
struct Signals {
    terminate: Signal,
    interrupt: Signal,
    hangup: Signal,
}

impl Signals {
    fn install() -> std::io::Result<Self> {
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }
}

/// Reloads the file on every SIGHUP; never resolves.
///
/// A file that does not load, or that maps no name while the served mapping
/// has names (a truncated write), is not applied: the last good mapping stays.
async fn reload_on_hangup(config: &Path, store: &MappingStore, mut hangups: Signal) {
    while hangups.recv().await.is_some() {
        let current = store.snapshot();
        let Ok(loaded) = load(config) else {
            warn!(
                generation = current.generation,
                "reload failed; keeping the last good mapping"
            );
            continue;
        };
        if loaded.mapping.is_empty() && !current.mapping.is_empty() {
            warn!(
                generation = current.generation,
                "the new file maps no names (a truncated write?); keeping the last good mapping"
            );
            continue;
        }
        let names = loaded.mapping.name_count();
        match Snapshot::new(loaded, current.generation + 1) {
            Ok(snapshot) => {
                store.replace(snapshot);
                info!(
                    generation = current.generation + 1,
                    names, "mapping reloaded"
                );
            }
            Err(error) => warn!(%error, "reload failed; keeping the last good mapping"),
        }
    }
    // The signal stream never ends while the runtime runs.
    std::future::pending::<()>().await;
}
