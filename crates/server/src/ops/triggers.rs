//! What starts a reload: SIGHUP, or a change the watcher saw. Each reload
//! runs on the mapping thread: parsing a large file must not hold up a
//! runtime worker that answers queries.

use std::sync::Arc;

use tokio::signal::unix::Signal;
use tracing::{error, info, warn};

use super::mapping_thread::MappingThread;
use super::notify::notify_all;
use super::reload::{ReloadOutcome, Reloader, Request, Trigger};
use super::settle::{LARGE_REMOVAL_SETTLE, Settled, settle, unchanged_after};
use super::watch::FileWatcher;

/// Runs one reload and sends the NOTIFYs it calls for.
async fn reload(
    thread: &MappingThread,
    reloader: &Arc<Reloader>,
    request: Request,
) -> Option<ReloadOutcome> {
    let running = reloader.clone();
    let outcome = thread.run_async(move || running.reload(request)).await;
    match &outcome {
        Some(ReloadOutcome::Applied {
            serials_changed, ..
        }) if !serials_changed.is_empty() => {
            notify_all(serials_changed, &reloader.store().snapshot().transfers);
        }
        Some(_) => {}
        None => error!("the mapping thread is gone; the last good mapping stays"),
    }
    outcome
}

/// Reloads on every SIGHUP; never resolves. The operator says the file is
/// complete: it is loaded at once.
pub(crate) async fn reload_on_hangup(
    thread: Arc<MappingThread>,
    reloader: Arc<Reloader>,
    mut hangups: Signal,
) {
    while hangups.recv().await.is_some() {
        info!(file = %reloader.path().display(), "SIGHUP: reloading");
        reload(&thread, &reloader, Request::new(Trigger::Signal)).await;
    }
    std::future::pending::<()>().await;
}

/// Reloads when the file changes; never resolves. A file written in place
/// is loaded once it has settled, and a change that removes many names
/// once it has stayed unchanged for [`LARGE_REMOVAL_SETTLE`].
pub(crate) async fn reload_on_change(
    thread: Arc<MappingThread>,
    reloader: Arc<Reloader>,
    watcher: Option<FileWatcher>,
) {
    let Some(mut watcher) = watcher else {
        return std::future::pending::<()>().await;
    };
    let path = reloader.path().to_path_buf();
    // One warning per episode of a file that does not stop changing.
    let mut warned_unsettled = false;
    while let Some(change) = watcher.next_change().await {
        let mut request = Request::new(Trigger::FileChange);
        if change.in_place {
            match settle(&path).await {
                Settled::Stable(text) => request.text = Some(text),
                Settled::Unreadable => {}
                Settled::KeptChanging => {
                    if !std::mem::replace(&mut warned_unsettled, true) {
                        warn!(
                            file = %path.display(),
                            "the mapping file keeps changing; it is loaded once the writes stop (write a new file and rename it over the old one)"
                        );
                    }
                    continue;
                }
            }
        }
        warned_unsettled = false;
        if let Some(ReloadOutcome::Held { sha256 }) = reload(&thread, &reloader, request).await {
            match unchanged_after(&path, &sha256, LARGE_REMOVAL_SETTLE).await {
                Some(text) => {
                    let request = Request {
                        trigger: Trigger::FileChange,
                        text: Some(text),
                        settled_long: true,
                    };
                    reload(&thread, &reloader, request).await;
                }
                // Changed again: the watcher has seen it, and the next round loads it.
                None => {
                    info!(file = %path.display(), "the file changed again before it was applied");
                }
            }
        }
    }
    warn!("the file watcher stopped; reload with SIGHUP");
    std::future::pending::<()>().await;
}
