//! Watching the mapping file for changes, with debouncing.
//!
//! The watch is on the file's directory, not the file: editors replace files
//! by renaming a new one over them, and Kubernetes swaps a ConfigMap by
//! renaming the `..data` symlink in the mount directory; a watch on the old
//! inode would miss both. When the path is a symlink into another directory,
//! that directory is watched too, and the link is followed again after each
//! change (a ConfigMap's `..data` points to a new directory each update).
//!
//! Events are coalesced: after the first one, the watcher waits until the
//! directory has been quiet for [`QUIET`] (at most [`MAX_WAIT`]), so a burst
//! of writes becomes one reload. A burst that wrote into the file itself
//! (rather than renaming a finished one over it) is reported as such, and
//! the file is then read until it settles ([`super::settle`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{Event, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, warn};

/// How long the directory must stay quiet before a reload.
pub(crate) const QUIET: Duration = Duration::from_millis(150);
/// The longest a reload waits for writes to settle.
pub(crate) const MAX_WAIT: Duration = Duration::from_secs(1);

/// A running watch on the mapping file.
#[derive(Debug)]
pub(crate) struct FileWatcher {
    watcher: RecommendedWatcher,
    events: mpsc::Receiver<()>,
    /// Set by an event that wrote into the file; taken by `next_change`.
    written_in_place: Arc<AtomicBool>,
    /// The mapping path, absolute, and the directory it is in.
    path: PathBuf,
    directory: PathBuf,
    /// The directory of what the path points to, when that is elsewhere
    /// and watched too.
    target_dir: Option<PathBuf>,
    /// The file names whose events count: the path's and its target's.
    names: Arc<Mutex<Vec<OsString>>>,
}

/// One burst of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Change {
    /// Something wrote into the file in place: it may be half-written.
    pub in_place: bool,
}

impl FileWatcher {
    /// Starts watching `path`'s directory (and its symlink target's).
    pub(crate) fn start(path: &Path) -> notify::Result<Self> {
        let path = std::path::absolute(path)?;
        let directory = path
            .parent()
            .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
        let names = Arc::new(Mutex::new(Vec::new()));
        // Capacity 1: a pending notification already means "reload".
        let (sender, events) = mpsc::channel(1);
        let written_in_place = Arc::new(AtomicBool::new(false));
        let written = written_in_place.clone();
        let relevant_names = names.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<Event>| match event {
                Ok(event) if is_relevant(&event, &lock(&relevant_names)) => {
                    if writes_in_place(&event) {
                        written.store(true, Ordering::Relaxed);
                    }
                    let _ = sender.try_send(());
                }
                Ok(_) => {}
                Err(error) => warn!(%error, "file watcher error"),
            })?;
        watcher.watch(&directory, RecursiveMode::NonRecursive)?;
        debug!(directory = %directory.display(), "watching for mapping changes");
        let mut watch = Self {
            watcher,
            events,
            written_in_place,
            path,
            directory,
            target_dir: None,
            names,
        };
        watch.follow_target();
        Ok(watch)
    }

    /// Watches the directory of what the path points to now. A Kubernetes
    /// ConfigMap's target lives in a `..<timestamp>` directory that the
    /// next update replaces (by renaming `..data`): after each change the
    /// link is followed again, so that edits inside the new directory are
    /// seen too.
    fn follow_target(&mut self) {
        let target = std::fs::canonicalize(&self.path).ok();
        let mut names: Vec<OsString> = self
            .path
            .file_name()
            .map(ToOwned::to_owned)
            .into_iter()
            .collect();
        names.extend(
            target
                .as_deref()
                .and_then(Path::file_name)
                .map(ToOwned::to_owned),
        );
        *lock(&self.names) = names;
        let target_dir = target
            .as_deref()
            .and_then(Path::parent)
            .filter(|dir| *dir != self.directory)
            .map(Path::to_path_buf);
        if target_dir == self.target_dir {
            return;
        }
        if let Some(old) = self.target_dir.take() {
            // Gone already when Kubernetes removed it; nothing to undo then.
            let _ = self.watcher.unwatch(&old);
        }
        if let Some(dir) = target_dir {
            match self.watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    debug!(directory = %dir.display(), "watching the mapping's target directory");
                    self.target_dir = Some(dir);
                }
                Err(error) => {
                    warn!(directory = %dir.display(), %error, "cannot watch the mapping's target directory; a change of the link is still seen");
                }
            }
        }
    }

    /// Waits for the next change, then for writes to settle. `None` when
    /// the watcher has stopped.
    pub(crate) async fn next_change(&mut self) -> Option<Change> {
        self.events.recv().await?;
        let started = Instant::now();
        let give_up = started + MAX_WAIT;
        let mut quiet_until = started + QUIET;
        loop {
            tokio::select! {
                event = self.events.recv() => {
                    event?;
                    quiet_until = (Instant::now() + QUIET).min(give_up);
                }
                () = sleep_until(quiet_until) => {
                    self.follow_target();
                    let in_place = self.written_in_place.swap(false, Ordering::Relaxed);
                    return Some(Change { in_place });
                }
            }
        }
    }
}

/// Events that may change what the file reads as: anything but plain reads,
/// on the file itself, its symlink target, or Kubernetes' `..data` entries.
fn is_relevant(event: &Event, names: &[OsString]) -> bool {
    if let EventKind::Access(kind) = event.kind
        && kind != AccessKind::Close(AccessMode::Write)
    {
        return false;
    }
    event.paths.iter().any(|path| {
        path.file_name().is_some_and(|name| {
            names.iter().any(|n| n == name) || name.to_string_lossy().starts_with("..")
        })
    })
}

/// Data written into an open file (rather than a rename, a removal or a
/// change of metadata).
fn writes_in_place(event: &Event) -> bool {
    matches!(
        event.kind,
        EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any | ModifyKind::Other)
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    )
}

/// The names, also after a panic elsewhere while they were held.
fn lock(names: &Mutex<Vec<OsString>>) -> std::sync::MutexGuard<'_, Vec<OsString>> {
    names
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
