//! Reloading the mapping file: load and check the whole file, then swap it
//! in, or keep the last good mapping and say why.
//!
//! Both triggers (SIGHUP and the file watcher) end here. Reloads are
//! serialised, run on a blocking thread (a 100,000-name file takes a while
//! to parse), and never touch the request path beyond one pointer swap.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use privatelink_mapping::{DomainName, Loaded, MappingDiff, read_file_text, sha256_hex};
use tracing::{debug, error, info, warn};

use super::history::{ReloadEvent, ReloadHistory};
use super::load::{LoadFailure, load_logged, load_text_logged};
use super::serials;
use crate::store::{MappingStore, Snapshot};

/// What asked for a reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// SIGHUP: always reload, even an unchanged file.
    Signal,
    /// The file (or its directory) changed.
    FileChange,
}

/// One reload to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub trigger: Trigger,
    /// The file's text, when the watcher read it while waiting for it to
    /// settle; read afresh when `None`.
    pub text: Option<String>,
    /// The text stayed unchanged for [`super::settle::LARGE_REMOVAL_SETTLE`]:
    /// a file change that removes many names is applied.
    pub settled_long: bool,
}

impl Request {
    pub(crate) fn new(trigger: Trigger) -> Self {
        Self {
            trigger,
            text: None,
            settled_long: false,
        }
    }
}

/// A file change that removes more than this share of the names in
/// service (and at least [`LARGE_REMOVAL_NAMES`]) is held until the file
/// has stayed unchanged a while: a file written in place in pieces reads
/// as a valid prefix that lacks most names (issue 18: 97, then 199, then
/// 300 names, each served in turn).
const LARGE_REMOVAL_SHARE: f64 = 0.25;
const LARGE_REMOVAL_NAMES: usize = 10;

impl Trigger {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Signal => "signal",
            Self::FileChange => "file-change",
        }
    }
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReloadOutcome {
    /// A new mapping is in service. `serials_changed`: the zones whose SOA
    /// serial grew (transfers enabled), to be NOTIFYed to secondaries.
    Applied {
        generation: u64,
        diff: MappingDiff,
        serials_changed: Vec<DomainName>,
    },
    /// The file has the content already served (or already rejected): nothing to do.
    Unchanged,
    /// The file could not be used; the last good mapping stays.
    Rejected,
    /// A file change removes many names: applied once the text with this
    /// hash has stayed unchanged for a while (a [`Request`] with
    /// `settled_long`).
    Held { sha256: String },
}

/// Why a reload was rejected: the content's hash (none when unreadable)
/// and the first errors, for the history.
#[derive(Debug)]
struct Rejected {
    hash: Option<String>,
    errors: Vec<String>,
}

/// Settings fixed for the life of the process; a reload that changes them
/// reports that a restart is needed and applies the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StartupSettings {
    /// `server.listen` as read at start-up, or `None` when `--listen` overrode it.
    pub listen: Option<Vec<SocketAddr>>,
    /// `server.http` as read at start-up; `None` when unset or when `--http` overrode it.
    pub http: Option<SocketAddr>,
    /// `--http` was given: the file's `server.http` does not matter.
    pub http_overridden: bool,
    pub watch: bool,
    /// The cache is sized and its stale window set when it is created.
    pub cache_mb: u64,
    pub stale_max: Duration,
    pub max_inflight: usize,
    pub tcp_max_connections: usize,
    pub tcp_idle_timeout: Duration,
    pub udp_workers: usize,
}

/// How many reloads ended which way, since start-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReloadCounts {
    pub applied: u64,
    pub rejected: u64,
    pub unchanged: u64,
}

/// Reloads one file into one store.
#[derive(Debug)]
pub(crate) struct Reloader {
    path: PathBuf,
    store: Arc<MappingStore>,
    startup: StartupSettings,
    failures: AtomicU64,
    applied: AtomicU64,
    unchanged: AtomicU64,
    last_failed: AtomicBool,
    /// Serialises reloads; holds the hash of the last rejected content so
    /// that unrelated directory events do not log the same errors again.
    last_rejected: Mutex<Option<String>>,
    history: ReloadHistory,
}

impl Reloader {
    pub(crate) fn new(path: PathBuf, store: Arc<MappingStore>, startup: StartupSettings) -> Self {
        Self {
            path,
            store,
            startup,
            failures: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            unchanged: AtomicU64::new(0),
            last_failed: AtomicBool::new(false),
            last_rejected: Mutex::new(None),
            history: ReloadHistory::default(),
        }
    }

    /// Tells the history of the first load.
    pub(crate) fn loaded_at_start(&self, snapshot: &Snapshot) {
        let mut event = ReloadEvent::new(
            "start",
            "loaded",
            snapshot.generation,
            Some(snapshot.sha256.clone()),
        );
        event.added = snapshot.mapping.name_count();
        self.history.push(event);
    }

    /// The recent reloads, newest first.
    pub(crate) fn history(&self) -> &ReloadHistory {
        &self.history
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The store this reloader swaps mappings into.
    pub(crate) fn store(&self) -> &MappingStore {
        &self.store
    }

    /// How many reloads were applied, rejected, or found nothing new.
    pub(crate) fn counts(&self) -> ReloadCounts {
        ReloadCounts {
            applied: self.applied.load(Ordering::Relaxed),
            rejected: self.failures.load(Ordering::Relaxed),
            unchanged: self.unchanged.load(Ordering::Relaxed),
        }
    }

    /// True while the most recent reload attempt was rejected.
    pub(crate) fn last_failed(&self) -> bool {
        self.last_failed.load(Ordering::Relaxed)
    }

    /// Loads the file and swaps it in if it is valid.
    pub(crate) fn reload(&self, request: Request) -> ReloadOutcome {
        let Request {
            trigger,
            text,
            settled_long,
        } = request;
        let started = Instant::now();
        let mut last_rejected = match self.last_rejected.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let current = self.store.snapshot();
        let text = match (trigger, text) {
            (_, Some(text)) => Some(text),
            // The same bounded read as a load: a FIFO or a device at the
            // path must not block or flood this check either.
            (Trigger::FileChange, None) => read_file_text(&self.path).ok(),
            (Trigger::Signal, None) => None,
        };

        if trigger == Trigger::FileChange
            && let Some(text) = &text
        {
            // Skip events that did not change the content (our own reads,
            // unrelated files in the directory, identical rewrites).
            let hash = sha256_hex(text.as_bytes());
            if hash == current.sha256 || last_rejected.as_deref() == Some(hash.as_str()) {
                debug!(file = %self.path.display(), "file event without new content");
                self.unchanged.fetch_add(1, Ordering::Relaxed);
                if hash == current.sha256 && self.last_failed.swap(false, Ordering::Relaxed) {
                    // Reverted to the content in service: nothing to load, and
                    // nothing wrong any more.
                    *last_rejected = None;
                    info!(
                        file = %self.path.display(),
                        generation = current.generation,
                        "the file is back to the mapping in service"
                    );
                }
                return ReloadOutcome::Unchanged;
            }
        }

        let loaded = match &text {
            Some(text) => load_text_logged(&self.path, text),
            None => load_logged(&self.path),
        };
        let mut loaded = match loaded {
            Ok(loaded) => loaded,
            Err(failure) => {
                let (hash, errors) = match failure {
                    LoadFailure::Unreadable { reason } => (None, vec![reason]),
                    LoadFailure::Invalid { sha256, errors } => (Some(sha256), errors),
                };
                let rejected = Rejected { hash, errors };
                return self.reject(&mut last_rejected, rejected, current.generation, trigger);
            }
        };
        if loaded.mapping.is_empty() && !current.mapping.is_empty() {
            warn!(
                file = %self.path.display(),
                served_names = current.mapping.name_count(),
                "the new file maps no names (a truncated write?)"
            );
            let rejected = Rejected {
                hash: Some(loaded.sha256),
                errors: vec!["the new file maps no names (a truncated write?)".into()],
            };
            return self.reject(&mut last_rejected, rejected, current.generation, trigger);
        }
        let diff = current.mapping.diff(&loaded.mapping);
        let served = current.mapping.name_count();
        if trigger == Trigger::FileChange
            && diff.removed.len() >= LARGE_REMOVAL_NAMES
            && diff.removed.len() as f64 > served as f64 * LARGE_REMOVAL_SHARE
        {
            if !settled_long {
                info!(
                    file = %self.path.display(),
                    removed = diff.removed.len(),
                    served,
                    wait_s = super::settle::LARGE_REMOVAL_SETTLE.as_secs(),
                    "the changed file removes many names; applying it once it has stayed unchanged"
                );
                self.history.push(
                    ReloadEvent::new(
                        trigger.as_str(),
                        "held",
                        current.generation,
                        Some(loaded.sha256.clone()),
                    )
                    .with_diff(&diff),
                );
                return ReloadOutcome::Held {
                    sha256: loaded.sha256,
                };
            }
            warn!(
                file = %self.path.display(),
                removed = diff.removed.len(),
                served,
                "applying a file that removes many names: it stayed unchanged"
            );
        }
        self.report_restart_settings(&loaded);

        let serials_changed = match serials::carry(&mut loaded, &current, &diff, &self.path) {
            Ok(changed) => changed,
            Err(error) => {
                error!(%error, "reload refused");
                let rejected = Rejected {
                    hash: Some(loaded.sha256),
                    errors: vec![error],
                };
                return self.reject(&mut last_rejected, rejected, current.generation, trigger);
            }
        };
        let generation = current.generation + 1;
        let sha256 = loaded.sha256.clone();
        let snapshot = match Snapshot::new(loaded, generation) {
            Ok(mut snapshot) => {
                snapshot.record_history(&current, &diff);
                snapshot
            }
            Err(error) => {
                error!(%error, "cannot prepare the zones");
                let rejected = Rejected {
                    hash: Some(sha256),
                    errors: vec![format!("cannot prepare the zones: {error}")],
                };
                return self.reject(&mut last_rejected, rejected, current.generation, trigger);
            }
        };
        let (names, zones) = (
            snapshot.mapping.name_count(),
            snapshot.mapping.zones().len(),
        );
        self.store.replace(snapshot);
        *last_rejected = None;
        self.applied.fetch_add(1, Ordering::Relaxed);
        self.last_failed.store(false, Ordering::Relaxed);
        info!(
            generation,
            trigger = %trigger.as_str(),
            added = diff.added.len(),
            removed = diff.removed.len(),
            changed = diff.changed.len(),
            names,
            zones,
            sha256 = %sha256,
            serials_changed = serials_changed.len(),
            elapsed_ms = started.elapsed().as_millis(),
            "mapping reloaded"
        );
        self.history.push(
            ReloadEvent::new(trigger.as_str(), "applied", generation, Some(sha256))
                .with_diff(&diff),
        );
        if !diff.added.is_empty() {
            debug!(names = ?diff.added, "names added");
        }
        if !diff.removed.is_empty() {
            debug!(names = ?diff.removed, "names removed");
        }
        if !diff.changed.is_empty() {
            debug!(names = ?diff.changed, "names changed");
        }
        ReloadOutcome::Applied {
            generation,
            diff,
            serials_changed,
        }
    }

    /// Keeps the mapping in service; says so in the log and the history.
    fn reject(
        &self,
        last_rejected: &mut Option<String>,
        rejected: Rejected,
        kept: u64,
        trigger: Trigger,
    ) -> ReloadOutcome {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        self.last_failed.store(true, Ordering::Relaxed);
        let mut event = ReloadEvent::new(trigger.as_str(), "rejected", kept, rejected.hash.clone());
        event.errors = rejected.errors;
        self.history.push(event);
        *last_rejected = rejected.hash;
        warn!(
            file = %self.path.display(),
            trigger = %trigger.as_str(),
            generation = kept,
            failures,
            "reload failed; keeping the last good mapping"
        );
        ReloadOutcome::Rejected
    }

    /// Warns about settings that only take effect at start-up.
    fn report_restart_settings(&self, loaded: &Loaded) {
        let server = &loaded.settings.server;
        let mut changed = Vec::new();
        if self
            .startup
            .listen
            .as_ref()
            .is_some_and(|listen| *listen != server.listen)
        {
            changed.push("server.listen");
        }
        if !self.startup.http_overridden && self.startup.http != server.http {
            changed.push("server.http");
        }
        if self.startup.watch != server.watch {
            changed.push("server.watch");
        }
        let forward = &loaded.settings.forward;
        if self.startup.cache_mb != forward.cache_mb {
            changed.push("forward.cache_mb");
        }
        if self.startup.stale_max != forward.stale_max {
            changed.push("forward.stale_max_s");
        }
        if self.startup.max_inflight != forward.max_inflight {
            changed.push("forward.max_inflight");
        }
        if self.startup.tcp_max_connections != server.tcp_max_connections {
            changed.push("server.tcp_max_connections");
        }
        if self.startup.tcp_idle_timeout != server.tcp_idle_timeout {
            changed.push("server.tcp_idle_timeout_s");
        }
        if self.startup.udp_workers != server.udp_workers {
            changed.push("server.udp_workers");
        }
        for setting in changed {
            warn!(
                setting,
                "this setting changed in the file and takes effect only after a restart; the rest of the reload applies"
            );
        }
    }
}

/// Prepares the first mapping a server serves (generation 1), with its
/// serials.
pub(crate) fn first_snapshot(mut loaded: Loaded) -> Result<Snapshot, hickory_proto::ProtoError> {
    serials::stamp_first(&mut loaded);
    Snapshot::new(loaded, 1)
}
