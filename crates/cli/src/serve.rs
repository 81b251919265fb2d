//! `serve`: load the file, bind the sockets, answer until told to stop;
//! reload on SIGHUP and when the file changes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use privatelink_server::health::Health;
use privatelink_server::http::{self, HttpApp};
use privatelink_server::listen::{self, Bound};
use privatelink_server::metrics::{Metrics, StateCollector};
use privatelink_server::notify::{notify_all, notify_every_zone};
use privatelink_server::reload::{
    LoadFailure, MappingThread, ReloadOutcome, Reloader, StartupSettings, Trigger, first_snapshot,
    load_logged,
};
use privatelink_server::tcp::TcpLimits;
use privatelink_server::watch::FileWatcher;
use privatelink_server::{Forwarder, Handler, MappingStore};
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing::{error, info, warn};

use crate::{EXIT_INVALID, EXIT_IO, EXIT_OK};

/// How long in-flight queries may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

pub(crate) fn run(config: &Path, listen: Vec<SocketAddr>, http: Option<SocketAddr>) -> u8 {
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
    runtime.block_on(serve(config, listen, http))
}

async fn serve(
    config: &Path,
    listen_override: Vec<SocketAddr>,
    http_override: Option<SocketAddr>,
) -> u8 {
    let mapping_thread = match MappingThread::start() {
        Ok(thread) => Arc::new(thread),
        Err(error) => {
            error!(%error, "cannot start the mapping thread");
            return EXIT_IO;
        }
    };
    let path = config.to_path_buf();
    let loaded = match mapping_thread.run(move || load_logged(&path)) {
        Some(Ok(loaded)) => loaded,
        Some(Err(LoadFailure::Invalid { .. })) => return EXIT_INVALID,
        Some(Err(LoadFailure::Unreadable)) | None => return EXIT_IO,
    };
    let server_settings = loaded.settings.server.clone();
    let forward = &loaded.settings.forward;
    let startup = StartupSettings {
        listen: listen_override
            .is_empty()
            .then(|| server_settings.listen.clone()),
        http: server_settings.http,
        http_overridden: http_override.is_some(),
        watch: server_settings.watch,
        cache_mb: forward.cache_mb,
        stale_max: forward.stale_max,
        max_inflight: forward.max_inflight,
        tcp_max_connections: server_settings.tcp_max_connections,
        tcp_idle_timeout: server_settings.tcp_idle_timeout,
        udp_workers: server_settings.udp_workers,
    };
    let metrics = Arc::new(Metrics::new());
    // forward.cache_mb bounds both the answer cache and the ready-to-send
    // copies of UDP responses built from it (a quarter).
    let cache_bytes = forward.cache_mb.saturating_mul(1 << 20);
    let memo_bytes = cache_bytes / 4;
    let forwarder = Arc::new(Forwarder::new(
        cache_bytes - memo_bytes,
        forward.stale_max,
        forward.max_inflight,
        metrics.clone(),
    ));
    let listen = if listen_override.is_empty() {
        server_settings.listen.clone()
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
        sha256 = %loaded.sha256,
        generation = 1,
        "mapping loaded"
    );
    let snapshot = match mapping_thread.run(move || first_snapshot(loaded)) {
        Some(Ok(snapshot)) => snapshot,
        Some(Err(error)) => {
            error!(%error, "cannot prepare the zones");
            return EXIT_INVALID;
        }
        None => return EXIT_IO,
    };
    let store = Arc::new(MappingStore::new(snapshot));
    let reloader = Arc::new(Reloader::new(config.to_path_buf(), store.clone(), startup));

    // One UDP socket and worker thread per core, unless configured.
    let workers = match server_settings.udp_workers {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    };
    let mut sockets: Vec<Bound> = Vec::with_capacity(listen.len());
    for address in listen {
        match listen::bind(address, workers).await {
            Ok(bound) => sockets.push(bound),
            Err(error) => {
                error!(%address, %error, "cannot listen");
                return EXIT_IO;
            }
        }
    }

    let health = Arc::new(Health::new(
        reloader.clone(),
        server_settings.strict_readiness,
    ));
    let http_listener = match http_override.or(server_settings.http) {
        Some(address) => match TcpListener::bind(address).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                error!(%address, %error, "cannot listen for HTTP");
                return EXIT_IO;
            }
        },
        None => None,
    };

    // Signal handlers and the watcher exist before the server says it is
    // ready: a SIGHUP or an edit right after the `listening` line must
    // reload, not kill the process or go unnoticed.
    let Signals {
        mut terminate,
        mut interrupt,
        hangup,
    } = match Signals::install() {
        Ok(signals) => signals,
        Err(error) => {
            error!(%error, "cannot install signal handlers");
            return EXIT_IO;
        }
    };
    let watcher = if server_settings.watch {
        match FileWatcher::start(config) {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                warn!(%error, file = %config.display(), "cannot watch the mapping file; reload with SIGHUP");
                None
            }
        }
    } else {
        info!("file watching is off (server.watch = false); reload with SIGHUP");
        None
    };

    let addresses: Vec<SocketAddr> = sockets.iter().map(|b| b.address).collect();
    let handler = Arc::new(Handler::new(
        store.clone(),
        forwarder.clone(),
        metrics.clone(),
        memo_bytes,
    ));
    let limits = TcpLimits {
        max_connections: server_settings.tcp_max_connections,
        idle_timeout: server_settings.tcp_idle_timeout,
    };
    let mut server = match listen::serve(handler, sockets, limits) {
        Ok(server) => server,
        Err(error) => {
            error!(%error, "cannot start the listeners");
            return EXIT_IO;
        }
    };
    health.set_listening();
    for address in &addresses {
        info!(transport = %"udp", %address, "listening");
        info!(transport = %"tcp", %address, "listening");
    }
    // After a restart the serials are newer than what secondaries hold.
    notify_every_zone(&store.snapshot());
    if let Some(listener) = http_listener {
        let state = StateCollector {
            store,
            forwarder: forwarder.clone(),
            reloader: reloader.clone(),
            health: health.clone(),
        };
        let app = Arc::new(HttpApp {
            registry: metrics.registry(state),
            health,
        });
        if let Ok(address) = listener.local_addr() {
            info!(transport = %"http", %address, "listening");
        }
        tokio::spawn(http::serve(listener, app));
    }

    let stopped_by_itself = tokio::select! {
        _ = terminate.recv() => false,
        _ = interrupt.recv() => false,
        () = reload_on_hangup(mapping_thread.clone(), reloader.clone(), hangup) => false,
        () = reload_on_change(mapping_thread, reloader, watcher) => false,
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
    forwarder.log_statistics();
    match tokio::time::timeout(SHUTDOWN_GRACE, server.shutdown_gracefully()).await {
        Ok(()) => EXIT_OK,
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

/// Runs one reload on the mapping thread: parsing a large file must not
/// hold up a runtime worker that answers queries.
async fn reload(thread: &MappingThread, reloader: &Arc<Reloader>, trigger: Trigger) {
    let running = reloader.clone();
    match thread.run_async(move || running.reload(trigger)).await {
        Some(ReloadOutcome::Applied {
            serials_changed, ..
        }) if !serials_changed.is_empty() => {
            notify_all(
                &serials_changed,
                &reloader.store().snapshot().transfers.notify,
            );
        }
        Some(_) => {}
        None => error!("the mapping thread is gone; the last good mapping stays"),
    }
}

/// Reloads on every SIGHUP; never resolves.
async fn reload_on_hangup(
    thread: Arc<MappingThread>,
    reloader: Arc<Reloader>,
    mut hangups: Signal,
) {
    while hangups.recv().await.is_some() {
        info!(file = %reloader.path().display(), "SIGHUP: reloading");
        reload(&thread, &reloader, Trigger::Signal).await;
    }
    std::future::pending::<()>().await;
}

/// Reloads when the file changes; never resolves.
async fn reload_on_change(
    thread: Arc<MappingThread>,
    reloader: Arc<Reloader>,
    watcher: Option<FileWatcher>,
) {
    if let Some(mut watcher) = watcher {
        while watcher.next_change().await.is_some() {
            reload(&thread, &reloader, Trigger::FileChange).await;
        }
        warn!("the file watcher stopped; reload with SIGHUP");
    }
    std::future::pending::<()>().await;
}
