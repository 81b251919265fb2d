//! One server, put together: load the file, bind the sockets, answer until
//! told to stop; reload on SIGHUP and when the file changes. The binary
//! parses its arguments, sets up logging and calls [`Server::bind`] and
//! [`Server::run`]; tests can do the same in process.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::engine::Engine;
use crate::listen::tcp::TcpLimits;
use crate::listen::{self, Bound, Running};
use crate::observe::metrics::Metrics;
use crate::observe::querylog::LogFormat;
use crate::ops::api::Observed;
use crate::ops::health::Health;
use crate::ops::http::{self, HttpApp};
use crate::ops::load::{LoadFailure, load_logged};
use crate::ops::mapping_thread::MappingThread;
use crate::ops::notify::notify_every_zone;
use crate::ops::port_holder;
use crate::ops::reload::{Reloader, StartupSettings, first_snapshot};
use crate::ops::state::StateCollector;
use crate::ops::systemd;
use crate::ops::triggers::{reload_on_change, reload_on_hangup};
use crate::ops::watch::FileWatcher;
use crate::resolve::forward::Forwarder;
use crate::store::MappingStore;

/// How long in-flight queries may take to finish after the shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What `serve` was asked on the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: PathBuf,
    /// Replaces `server.listen` when not empty.
    pub listen: Vec<SocketAddr>,
    /// Replaces `server.http`.
    pub http: Option<SocketAddr>,
    /// How query-log lines are written (the `--log-format` of every log line).
    pub log_format: LogFormat,
}

/// Why the server could not start or stopped by itself.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The file is invalid (its diagnostics are logged).
    #[error("the mapping file is invalid")]
    Invalid,
    #[error("{0}")]
    Io(String),
}

/// A server whose sockets are bound, ready to [`run`](Self::run).
#[derive(Debug)]
pub struct Server {
    config: PathBuf,
    mapping_thread: Arc<MappingThread>,
    store: Arc<MappingStore>,
    reloader: Arc<Reloader>,
    forwarder: Arc<Forwarder>,
    metrics: Arc<Metrics>,
    engine: Arc<Engine>,
    sockets: Vec<Bound>,
    limits: TcpLimits,
    http: Option<TcpListener>,
    health: Arc<Health>,
    watch: bool,
    started: std::time::SystemTime,
}

impl Server {
    /// Loads the mapping and binds every socket (DNS and HTTP).
    pub async fn bind(options: Options) -> Result<Self, ServeError> {
        let config = options.config;
        let mapping_thread = Arc::new(
            MappingThread::start()
                .map_err(|error| io_error("cannot start the mapping thread", &error))?,
        );
        let path = config.clone();
        let loaded = match mapping_thread.run(move || load_logged(&path)) {
            Some(Ok(loaded)) => loaded,
            Some(Err(LoadFailure::Invalid { .. })) => return Err(ServeError::Invalid),
            Some(Err(LoadFailure::Unreadable { .. })) | None => {
                return Err(ServeError::Io(format!("cannot read {}", config.display())));
            }
        };
        let settings = loaded.settings.server.clone();
        let forward = loaded.settings.forward.clone();
        let startup = StartupSettings {
            listen: options.listen.is_empty().then(|| settings.listen.clone()),
            http: settings.http,
            http_overridden: options.http.is_some(),
            watch: settings.watch,
            cache_mb: forward.cache_mb,
            stale_max: forward.stale_max,
            max_inflight: forward.max_inflight,
            tcp_max_connections: settings.tcp_max_connections,
            tcp_idle_timeout: settings.tcp_idle_timeout,
            udp_workers: settings.udp_workers,
        };
        log_loaded(&config, &loaded);
        let snapshot = match mapping_thread.run(move || first_snapshot(loaded)) {
            Some(Ok(snapshot)) => snapshot,
            Some(Err(error)) => {
                error!(%error, "cannot prepare the zones");
                return Err(ServeError::Invalid);
            }
            None => return Err(ServeError::Io("the mapping thread is gone".into())),
        };
        let metrics = Arc::new(Metrics::new());
        // forward.cache_mb bounds both the answer cache and the
        // ready-to-send responses built from it (a quarter).
        let cache_bytes = forward.cache_mb.saturating_mul(1 << 20);
        let memo_bytes = cache_bytes / 4;
        let forwarder = Arc::new(Forwarder::new(
            cache_bytes - memo_bytes,
            forward.stale_max,
            forward.max_inflight,
            metrics.clone(),
        ));
        let store = Arc::new(MappingStore::new(snapshot));
        let reloader = Arc::new(Reloader::new(config.clone(), store.clone(), startup));
        reloader.loaded_at_start(&store.snapshot());
        let engine = Arc::new(
            Engine::new(
                store.clone(),
                forwarder.clone(),
                metrics.clone(),
                memo_bytes,
                options.log_format,
            )
            .map_err(|error| io_error("cannot start the query log", &error))?,
        );

        // One UDP socket and worker thread per core, unless configured.
        let workers = match settings.udp_workers {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            n => n,
        };
        let listen = if options.listen.is_empty() {
            settings.listen.clone()
        } else {
            options.listen
        };
        let inherited = listen::activation::inherited(workers).map_err(|error| {
            error!(%error, "cannot use the sockets systemd passed");
            ServeError::Io(format!("socket activation: {error}"))
        })?;
        if let Some(sockets) = &inherited {
            let addresses: Vec<String> = sockets.iter().map(|s| s.address.to_string()).collect();
            info!(addresses = ?addresses, "socket activation: serving the sockets systemd passed; server.listen and --listen are not used");
        }
        let listen = if inherited.is_some() {
            Vec::new()
        } else {
            listen
        };
        let mut sockets = inherited.unwrap_or_default();
        for address in listen {
            match listen::bind(address, workers).await {
                Ok(bound) => sockets.push(bound),
                Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
                    let hint = port_holder::hint(address);
                    error!(%address, %error, %hint, "cannot listen");
                    return Err(ServeError::Io(format!(
                        "cannot listen on {address}: {error} ({hint})"
                    )));
                }
                Err(error) => {
                    error!(%address, %error, "cannot listen");
                    return Err(ServeError::Io(format!(
                        "cannot listen on {address}: {error}"
                    )));
                }
            }
        }
        let http = match options.http.or(settings.http) {
            Some(address) => match TcpListener::bind(address).await {
                Ok(listener) => Some(listener),
                Err(error) => {
                    error!(%address, %error, "cannot listen for HTTP");
                    return Err(ServeError::Io(format!(
                        "cannot listen for HTTP on {address}: {error}"
                    )));
                }
            },
            None => None,
        };
        let health = Arc::new(Health::new(reloader.clone(), settings.strict_readiness));
        Ok(Self {
            config,
            mapping_thread,
            store,
            reloader,
            forwarder,
            metrics,
            engine,
            sockets,
            limits: TcpLimits {
                max_connections: settings.tcp_max_connections,
                idle_timeout: settings.tcp_idle_timeout,
            },
            http,
            health,
            watch: settings.watch,
            started: std::time::SystemTime::now(),
        })
    }

    /// The DNS addresses bound (UDP and TCP on each).
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(|bound| bound.address).collect()
    }

    /// The HTTP address bound, if any.
    pub fn http_address(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves (or a listener fails), then lets
    /// queries in flight finish for a few seconds.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        // Signal handlers and the watcher exist before the server says it
        // is ready: a SIGHUP or an edit right after the `listening` line
        // must reload, not kill the process or go unnoticed.
        let hangups = signal(SignalKind::hangup())
            .map_err(|error| io_error("cannot install signal handlers", &error))?;
        let watcher = self.start_watcher();
        let addresses = self.addresses();
        let mut running = listen::serve(self.engine.clone(), self.sockets, self.limits)
            .map_err(|error| io_error("cannot start the listeners", &error))?;
        self.health.set_listening();
        for address in &addresses {
            info!(transport = %"udp", %address, "listening");
            info!(transport = %"tcp", %address, "listening");
        }
        // After a restart the serials are newer than what secondaries hold.
        notify_every_zone(&self.store.snapshot());
        if let Some(listener) = self.http {
            let state = StateCollector {
                store: self.store.clone(),
                forwarder: self.forwarder.clone(),
                reloader: self.reloader.clone(),
                health: self.health.clone(),
                engine: self.engine.clone(),
            };
            let app = Arc::new(HttpApp {
                registry: self.metrics.registry(Box::new(state)),
                observed: Observed {
                    store: self.store.clone(),
                    forwarder: self.forwarder.clone(),
                    reloader: self.reloader.clone(),
                    engine: self.engine.clone(),
                    health: self.health.clone(),
                    started: self.started,
                },
            });
            if let Ok(address) = listener.local_addr() {
                info!(transport = %"http", %address, "listening");
            }
            tokio::spawn(http::serve(listener, app));
        }
        // Every socket is served: systemd may start what depends on DNS.
        systemd::ready(&format!(
            "serving {} name(s) on {}",
            self.store.snapshot().mapping.name_count(),
            addresses
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        systemd::start_watchdog();
        let thread = self.mapping_thread;
        let stopped_by_itself = tokio::select! {
            () = shutdown => None,
            () = reload_on_hangup(thread.clone(), self.reloader.clone(), hangups) => None,
            () = reload_on_change(thread, self.reloader.clone(), watcher) => None,
            result = running.block_until_done() => Some(result),
        };
        if let Some(result) = stopped_by_itself {
            let reason = result.err().unwrap_or_default();
            error!(error = %reason, "the server stopped unexpectedly");
            return Err(ServeError::Io(reason));
        }
        info!("shutting down");
        systemd::stopping();
        self.forwarder.log_statistics();
        shut_down(running).await;
        Ok(())
    }

    fn start_watcher(&self) -> Option<FileWatcher> {
        if !self.watch {
            info!("file watching is off (server.watch = false); reload with SIGHUP");
            return None;
        }
        match FileWatcher::start(&self.config) {
            Ok(watcher) => Some(watcher),
            Err(error) => {
                warn!(%error, file = %self.config.display(), "cannot watch the mapping file; reload with SIGHUP");
                None
            }
        }
    }
}

async fn shut_down(running: Running) {
    if tokio::time::timeout(SHUTDOWN_GRACE, running.shutdown_gracefully())
        .await
        .is_err()
    {
        warn!(grace = ?SHUTDOWN_GRACE, "queries still in flight at shutdown were dropped");
    }
}

fn io_error(what: &str, error: &std::io::Error) -> ServeError {
    error!(%error, "{what}");
    ServeError::Io(format!("{what}: {error}"))
}

fn log_loaded(config: &Path, loaded: &privatelink_mapping::Loaded) {
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
}
