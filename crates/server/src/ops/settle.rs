//! Waiting for a mapping file written in place to be complete.
//!
//! Renaming a finished file over the mapping (what `kubectl`, Ansible and
//! most editors do) is atomic: the watcher reloads at once. A file written
//! in place can be read half-written: a writer that pauses between pieces
//! leaves a valid TOML prefix that lacks the later names. After such writes
//! the file is read until two reads a window apart agree on its
//! modification time and content (SHA-256, which covers its size); the window doubles while the writes go
//! on. Reading is on the blocking pool: a file may be 64 MiB.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use privatelink_mapping::{read_file_text, sha256_hex};
use tokio::time::{Instant, sleep};

/// The first wait between two reads of a file written in place: longer
/// than the pauses that got a prefix loaded in issue 18 (200 ms).
pub(crate) const FIRST_WINDOW: Duration = Duration::from_millis(300);
/// The longest wait between two reads.
const MAX_WINDOW: Duration = Duration::from_secs(4);
/// A file still changing after this long is not loaded until it stops.
const GIVE_UP: Duration = Duration::from_secs(30);
/// How long a changed file that removes many names must stay unchanged
/// before it is applied.
pub(crate) const LARGE_REMOVAL_SETTLE: Duration = Duration::from_secs(3);

/// What the file read as (the hash covers the size too).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    sha256: String,
}

/// The outcome of waiting for a file to settle.
#[derive(Debug)]
pub(crate) enum Settled {
    /// Two reads agreed: the text to load.
    Stable(String),
    /// The file could not be read; the reload reports why.
    Unreadable,
    /// Still changing after [`GIVE_UP`].
    KeptChanging,
}

async fn read(path: &Path) -> Option<(String, Fingerprint)> {
    let path: PathBuf = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let text = read_file_text(&path).ok()?;
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        let fingerprint = Fingerprint {
            modified,
            sha256: sha256_hex(text.as_bytes()),
        };
        Some((text, fingerprint))
    })
    .await
    .ok()
    .flatten()
}

/// Reads `path` until two reads `window` apart agree.
pub(crate) async fn settle(path: &Path) -> Settled {
    let started = Instant::now();
    let mut window = FIRST_WINDOW;
    let Some((_, mut seen)) = read(path).await else {
        return Settled::Unreadable;
    };
    loop {
        sleep(window).await;
        let Some((text, now)) = read(path).await else {
            return Settled::Unreadable;
        };
        if now == seen {
            return Settled::Stable(text);
        }
        if started.elapsed() >= GIVE_UP {
            return Settled::KeptChanging;
        }
        seen = now;
        window = (window * 2).min(MAX_WINDOW);
    }
}

/// The text of `path` if, after `wait`, it still has the hash `sha256`.
pub(crate) async fn unchanged_after(path: &Path, sha256: &str, wait: Duration) -> Option<String> {
    sleep(wait).await;
    let (text, now) = read(path).await?;
    (now.sha256 == sha256).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_still_being_written_is_read_again_until_it_stops() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("mapping.toml");
        std::fs::write(&path, "a").expect("write");
        let writer = {
            let path = path.clone();
            tokio::spawn(async move {
                for piece in ["ab", "abc"] {
                    sleep(FIRST_WINDOW / 2).await;
                    std::fs::write(&path, piece).expect("write");
                }
            })
        };
        match settle(&path).await {
            Settled::Stable(text) => assert_eq!(text, "abc"),
            other => panic!("{other:?}"),
        }
        writer.await.expect("writer");
        assert!(
            unchanged_after(&path, &sha256_hex(b"abc"), Duration::ZERO)
                .await
                .is_some()
        );
        assert!(
            unchanged_after(&path, &sha256_hex(b"ab"), Duration::ZERO)
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn a_fifo_is_unreadable_without_blocking() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("mapping.toml");
        let made = std::process::Command::new("mkfifo").arg(&path).status();
        if !made.is_ok_and(|status| status.success()) {
            return;
        }
        assert!(matches!(settle(&path).await, Settled::Unreadable));
    }
}
