//! Who goes first to a spent upstream budget, and how much of it one
//! suffix may hold.
//!
//! A miss's [`Priority`] orders, highest first: names the cache holds (a
//! stale answer to refresh, a prefetch), then how often clients asked the
//! name lately ([`Popularity`], a count-min sketch as TinyLFU keeps), then
//! how few misses under the same suffixes are out already, upstream or
//! queued for the budget ([`Pressure`]). A random-subdomain flood is made
//! of names nobody asked before under one suffix with hundreds of misses
//! out, so it sorts after everything else and never starves an innocent
//! query.
//!
//! A name presses on its parent (less its first label: the random label
//! of `<random>.flood.example` is the first) fully, and on its grandparent
//! by half (`<r1>.<r2>.flood.example` spreads over parents but not over
//! `flood.example`). Only the parent is capped: it may hold at most half
//! of an upstream's pending budget ([`Pressure::enter`]), past which its
//! misses are shed at once; siblings of a flood under a shared grandparent
//! (`www.example` beside `<random>.flood.example`) only sort later.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use hashbrown::HashMap;

use super::budget::Priority;

/// Rows and width of the popularity sketch (64 KiB). Wide, and aged every
/// `WIDTH` counts, so that a flood of unique names leaves about one count
/// per counter: a name nobody asked before still counts 1 or 2.
const ROWS: usize = 4;
const WIDTH: usize = 16_384;
/// A counter saturates here; priorities only need "asked a few times".
const MAX_COUNT: u8 = 15;
/// After this many counts every counter is halved, so popularity fades.
const AGE_EVERY: u32 = WIDTH as u32;

/// How often names were asked lately, approximately and in bounded memory.
pub(crate) struct Popularity {
    counters: Box<[AtomicU8]>,
    counted: AtomicU32,
    hasher: hashbrown::DefaultHashBuilder,
}

impl std::fmt::Debug for Popularity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Popularity")
    }
}

impl Default for Popularity {
    fn default() -> Self {
        Self {
            counters: (0..ROWS * WIDTH).map(|_| AtomicU8::new(0)).collect(),
            counted: AtomicU32::new(0),
            hasher: hashbrown::DefaultHashBuilder::default(),
        }
    }
}

impl Popularity {
    fn slots(&self, name: &str) -> [usize; ROWS] {
        let hash = self.hasher.hash_one(name);
        let mut slots = [0; ROWS];
        for (row, slot) in slots.iter_mut().enumerate() {
            // Each row takes 16 bits of the hash.
            let bits = usize::try_from((hash >> (16 * row)) & 0xFFFF).unwrap_or(0);
            *slot = row * WIDTH + bits % WIDTH;
        }
        slots
    }

    /// Counts one question for `name` and returns its count so far.
    pub(crate) fn count(&self, name: &str) -> u8 {
        let mut least = MAX_COUNT;
        for slot in self.slots(name) {
            let counter = &self.counters[slot];
            let before = counter
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    Some(n.saturating_add(1).min(MAX_COUNT))
                })
                .unwrap_or(MAX_COUNT);
            least = least.min(before.saturating_add(1).min(MAX_COUNT));
        }
        if self.counted.fetch_add(1, Ordering::Relaxed) + 1 >= AGE_EVERY {
            self.counted.store(0, Ordering::Relaxed);
            for counter in &*self.counters {
                let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n / 2));
            }
        }
        least
    }
}

/// The priority of a miss.
///
/// Coarse levels first, so that the sketch's noise (a count or two) never
/// outranks a real difference: known or not; how calm the name's suffixes
/// are (a flood presses on one with dozens of misses out); how popular the
/// name is; then the exact pressure.
pub(crate) fn priority(known: bool, asked: u8, pressure: u32) -> Priority {
    let band: u32 = if known { 2 } else { 1 };
    let calm: u32 = match pressure {
        0..=3 => 3,
        4..=15 => 2,
        16..=63 => 1,
        _ => 0,
    };
    let popular: u32 = match asked {
        0..=2 => 0,
        3..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    let relief = 0xFFFF - pressure.min(0xFFFF);
    Priority(band << 24 | calm << 20 | popular << 16 | relief)
}

/// Misses upstream per suffix.
#[derive(Debug, Default)]
pub(crate) struct Pressure {
    by_suffix: Arc<Mutex<HashMap<Suffix, u32>>>,
    /// When shedding was last logged.
    last_warning: Mutex<Option<std::time::Instant>>,
}

/// Suffix shedding is logged at most this often.
const WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// A miss counted against its suffixes until dropped.
#[derive(Debug)]
pub(crate) struct Held {
    suffixes: Vec<Suffix>,
    by_suffix: Arc<Mutex<HashMap<Suffix, u32>>>,
}

/// A suffix and how it is pressed on: as a parent (`true`) or as a
/// grandparent; the two counts are apart, so that a flood's grandparent
/// is not capped as if it were a parent.
type Suffix = (bool, Box<str>);

/// The parent and grandparent of a name (a name of one label is its own
/// parent and has no grandparent).
fn suffixes(name: &str) -> (&str, Option<&str>) {
    let parent = name.split_once('.').map_or(name, |(_, rest)| rest);
    let grandparent = parent.split_once('.').map(|(_, rest)| rest);
    (parent, grandparent)
}

fn lock(map: &Mutex<HashMap<Suffix, u32>>) -> MutexGuard<'_, HashMap<Suffix, u32>> {
    map.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Pressure {
    /// How hard the misses out press on `name`: its parent's count and
    /// half its grandparent's.
    pub(crate) fn of(&self, name: &str) -> u32 {
        let (parent, grandparent) = suffixes(name);
        let map = lock(&self.by_suffix);
        let count = |as_parent: bool, suffix: &str| {
            map.get(&(as_parent, Box::from(suffix)))
                .copied()
                .unwrap_or(0)
        };
        count(true, parent).saturating_add(grandparent.map_or(0, |g| count(false, g) / 2))
    }

    /// Counts a miss of `name` as out, unless its parent holds `cap`
    /// already.
    pub(crate) fn enter(&self, name: &str, cap: u32) -> Option<Held> {
        let (parent, grandparent) = suffixes(name);
        let mut map = lock(&self.by_suffix);
        if map
            .get(&(true, Box::from(parent)))
            .is_some_and(|n| *n >= cap)
        {
            return None;
        }
        let suffixes: Vec<Suffix> = std::iter::once((true, parent))
            .chain(grandparent.map(|g| (false, g)))
            .map(|(as_parent, suffix)| (as_parent, Box::from(suffix)))
            .collect();
        for suffix in &suffixes {
            *map.entry(suffix.clone()).or_default() += 1;
        }
        Some(Held {
            suffixes,
            by_suffix: self.by_suffix.clone(),
        })
    }

    /// True, once a minute, when shedding should be logged.
    pub(crate) fn warn_due(&self) -> bool {
        let mut last = self
            .last_warning
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        let due = last.is_none_or(|at| now.duration_since(at) >= WARN_EVERY);
        if due {
            *last = Some(now);
        }
        due
    }

    /// Suffixes with misses upstream (the map's size; it is bounded by
    /// the misses upstream).
    pub(crate) fn len(&self) -> usize {
        lock(&self.by_suffix).len()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut map = lock(&self.by_suffix);
        for suffix in &self.suffixes {
            if let Some(n) = map.get_mut(suffix) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(suffix);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_grandparents() {
        assert_eq!(
            suffixes("x1.flood.example"),
            ("flood.example", Some("example"))
        );
        assert_eq!(
            suffixes("x1.x2.flood.example"),
            ("x2.flood.example", Some("flood.example"))
        );
        assert_eq!(suffixes("a.example"), ("example", None));
        assert_eq!(suffixes("example"), ("example", None));
    }

    #[test]
    fn only_the_parent_is_capped_and_its_share_comes_back() {
        let pressure = Pressure::default();
        let held: Vec<Held> = (0..3)
            .map(|i| pressure.enter(&format!("r{i}.flood.example"), 3).unwrap())
            .collect();
        assert_eq!(pressure.of("new.flood.example"), 4, "3 + 3/2");
        // `example` is their grandparent, not a parent: not capped.
        assert!(pressure.enter("www.example", 3).is_some());
        assert!(pressure.enter("r9.flood.example", 3).is_none());
        // A sibling under the shared grandparent sorts later but is not shed.
        assert_eq!(pressure.of("x.other.example"), 1, "0 + 3/2");
        assert!(pressure.enter("x.other.example", 3).is_some());
        // A flood spread over parents still presses on its grandparent.
        let deep: Vec<Held> = (0..4)
            .map(|i| {
                pressure
                    .enter(&format!("a{i}.b{i}.deep.example"), 3)
                    .unwrap()
            })
            .collect();
        assert_eq!(pressure.of("a9.b9.deep.example"), 2, "0 + 4/2");
        assert_eq!(pressure.of("www.unrelated.test"), 0);
        assert!(pressure.of("a9.b9.deep.example") > pressure.of("www.unrelated.test"));
        drop(held);
        drop(deep);
        assert_eq!(pressure.of("new.flood.example"), 0);
        assert_eq!(pressure.len(), 0, "emptied suffixes are forgotten");
    }

    #[test]
    fn popular_names_count_up_and_a_flood_of_unique_ones_stays_at_one_or_two() {
        let popularity = Popularity::default();
        assert_eq!(popularity.count("www.example"), 1);
        let mut flood_counts = Vec::new();
        for i in 0..50_000 {
            let count = popularity.count(&format!("n{i}.flood.example"));
            if i % 1000 == 0 {
                popularity.count("www.example");
            }
            flood_counts.push(count);
        }
        let noisy = flood_counts.iter().filter(|c| **c > 2).count();
        assert!(noisy < 500, "{noisy} of 50,000 unique names counted over 2");
        for _ in 0..20 {
            popularity.count("www.example");
        }
        assert_eq!(popularity.count("www.example"), MAX_COUNT);
        // Popularity fades.
        for i in 0..4 * AGE_EVERY {
            popularity.count(&format!("m{i}.flood.example"));
        }
        assert!(popularity.count("www.example") < 5);
    }

    #[test]
    fn priorities_order_known_then_calm_then_popular() {
        let flood = priority(false, 1, 500);
        let popular_in_flood = priority(false, 9, 500);
        let innocent = priority(false, 1, 0);
        let noisy_innocent = priority(false, 2, 1);
        let popular = priority(false, 8, 0);
        let cached = priority(true, 1, 500);
        assert!(cached > popular && popular > innocent && innocent > flood);
        assert!(innocent > popular_in_flood && popular_in_flood > flood);
        assert!(
            noisy_innocent > popular_in_flood,
            "sketch noise is no popularity"
        );
    }
}
