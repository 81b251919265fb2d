//! The recent reloads, for the status page and `/api/v1/status`: when, what
//! asked, how it ended, what changed (counts and the first names), and for
//! a rejected file its first errors. Bounded to [`HISTORY`] events.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use privatelink_mapping::{DomainName, MappingDiff};
use serde::Serialize;

/// Reloads remembered.
pub(crate) const HISTORY: usize = 20;
/// Names listed per kind of change (the counts are complete).
const NAMES_LISTED: usize = 10;

/// One reload (or the first load), as told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ReloadEvent {
    /// Unix time, seconds.
    pub at: u64,
    /// `start`, `signal` or `file-change`.
    pub trigger: &'static str,
    /// `loaded`, `applied`, `rejected` or `held`.
    pub result: &'static str,
    /// The generation in service afterwards.
    pub generation: u64,
    pub sha256: Option<String>,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub zones_added: usize,
    pub zones_removed: usize,
    /// The first names of each kind of change.
    pub added_names: Vec<String>,
    pub removed_names: Vec<String>,
    pub changed_names: Vec<String>,
    /// For a rejected file: its first errors, as `check` prints them.
    pub errors: Vec<String>,
}

impl ReloadEvent {
    pub(crate) fn new(
        trigger: &'static str,
        result: &'static str,
        generation: u64,
        sha256: Option<String>,
    ) -> Self {
        Self {
            at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            trigger,
            result,
            generation,
            sha256,
            added: 0,
            removed: 0,
            changed: 0,
            zones_added: 0,
            zones_removed: 0,
            added_names: Vec::new(),
            removed_names: Vec::new(),
            changed_names: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// The same event with what `diff` changed.
    pub(crate) fn with_diff(mut self, diff: &MappingDiff) -> Self {
        let first = |names: &[DomainName]| {
            names
                .iter()
                .take(NAMES_LISTED)
                .map(ToString::to_string)
                .collect()
        };
        self.added = diff.added.len();
        self.removed = diff.removed.len();
        self.changed = diff.changed.len();
        self.zones_added = diff.zones_added.len();
        self.zones_removed = diff.zones_removed.len();
        self.added_names = first(&diff.added);
        self.removed_names = first(&diff.removed);
        self.changed_names = first(&diff.changed);
        self
    }
}

/// The last [`HISTORY`] reload events.
#[derive(Debug, Default)]
pub(crate) struct ReloadHistory {
    events: Mutex<VecDeque<ReloadEvent>>,
}

impl ReloadHistory {
    pub(crate) fn push(&self, event: ReloadEvent) {
        let mut events = match self.events.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if events.len() == HISTORY {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// Newest first.
    pub(crate) fn events(&self) -> Vec<ReloadEvent> {
        let events = match self.events.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        events.iter().rev().cloned().collect()
    }
}
