//! The answer cache for forwarded queries (quick_cache: bounded by
//! memory, sharded, S3-FIFO eviction).
//!
//! Positive answers live for the smallest TTL of their answer records,
//! negative ones (NXDOMAIN, NODATA) for min(SOA TTL, SOA minimum) as RFC 2308
//! says; a negative answer without an SOA is not cached. Entries are kept
//! [`ForwardSettings::stale_max`](privatelink_mapping::ForwardSettings) past
//! their expiry so that, when every upstream fails, a stale answer can still
//! be served with TTL [`STALE_TTL`] (RFC 8767). TTLs are decremented by the
//! entry's age on the way out. The cache holds upstream answers, before
//! chain completion, so a mapping reload applies to cached chains at once.
//!
//! An entry past its stale window is not served and is removed when it is
//! next looked up; until then (as in Unbound) it takes room that eviction
//! reclaims first when the size bound is reached, so the bound holds either
//! way. moka, used before, expired entries on a timer but cost 23 % of the
//! miss path's CPU (insert, lookups, housekeeping; perf, `bench/misses.py
//! --profile`); quick_cache has no timer and no background work.
//!
//! An NXDOMAIN for a name is also kept by name alone, so that every name
//! below it is answered NXDOMAIN from the cache until it expires (RFC 8020:
//! "there is nothing below"). A CNAME chain ending in NXDOMAIN says that of
//! its target, not of the name asked, and is not kept that way.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

/// TTL of a stale answer (RFC 8767 §4).
pub(crate) const STALE_TTL: u32 = 30;
/// No answer is cached for longer than a day, whatever its TTL.
pub(crate) const MAX_TTL: u32 = 86_400;
/// The expected weight of an entry, to size the tables up front (a
/// typical A answer weighs about 500).
const TYPICAL_WEIGHT: u64 = 512;

/// What an answer is cached under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// Lower case, without the trailing dot.
    pub name: String,
    pub rtype: RecordType,
    pub class: DNSClass,
    /// Answers asked with DO carry DNSSEC records; without, they do not.
    pub dnssec_ok: bool,
    /// Answers asked with CD may be unvalidated.
    pub checking_disabled: bool,
}

#[derive(Debug)]
struct Entry {
    rcode: ResponseCode,
    authentic_data: bool,
    answers: Vec<Record>,
    authorities: Vec<Record>,
    stored: Instant,
    ttl: u32,
}

impl Entry {
    /// Past its TTL and the stale window after it: never served again.
    fn gone(&self, now: Instant, stale_max: Duration) -> bool {
        now.saturating_duration_since(self.stored)
            >= Duration::from_secs(u64::from(self.ttl)) + stale_max
    }
}

/// A cached answer, with how it may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    Fresh,
    /// Past its TTL but within the stale window.
    Stale,
}

/// Cache counters, for logs and metrics.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub stale_served: AtomicU64,
}

/// The memory an entry holds, for the size bound. hickory's `Record` is
/// 272 bytes with its owner name inline; names longer than the inline
/// part, and rdata such as TXT strings, add heap bytes, estimated from the
/// name's length and [`RDATA_HEAP`]. Besides the records: the `Entry`, the
/// `Arc`'s counts, and the table's slot and index ([`SLOT`]). The weights
/// once counted 96 bytes a record and 256 an entry, and the cache's RSS
/// came to 1.7 times its weighing (`bench/hostile.py cache`, issue 18).
#[derive(Debug, Clone, Copy)]
struct Weight;

const RECORD_BYTES: u64 = std::mem::size_of::<Record>() as u64;
/// Heap bytes of rdata beyond addresses (a target name, TXT strings), a guess.
const RDATA_HEAP: u64 = 48;
const SLOT: u64 = std::mem::size_of::<Entry>() as u64 + 16 + 64;

fn records_weight(records: &[Record]) -> u64 {
    records
        .iter()
        .map(|r| {
            let rdata = match r.data {
                RData::A(_) | RData::AAAA(_) => 0,
                _ => RDATA_HEAP,
            };
            RECORD_BYTES + r.name.len() as u64 + rdata
        })
        .sum()
}

impl quick_cache::Weighter<CacheKey, Arc<Entry>> for Weight {
    fn weight(&self, key: &CacheKey, entry: &Arc<Entry>) -> u64 {
        SLOT + std::mem::size_of::<CacheKey>() as u64
            + key.name.len() as u64
            + records_weight(&entry.answers)
            + records_weight(&entry.authorities)
    }
}

/// The NXDOMAIN cut's key: the name, then `/` and the DO and CD flags
/// (`example.com/01`). The flags last make every ancestor's key a suffix
/// of the key of a name below it, so the walk up allocates nothing.
type DenialKey = Box<str>;

fn denial_key(name: &str, dnssec_ok: bool, checking_disabled: bool) -> String {
    let flag = |on: bool| if on { '1' } else { '0' };
    let mut key = String::with_capacity(name.len() + 3);
    key.push_str(name);
    key.push('/');
    key.push(flag(dnssec_ok));
    key.push(flag(checking_disabled));
    key
}

impl quick_cache::Weighter<DenialKey, Arc<Entry>> for Weight {
    fn weight(&self, key: &DenialKey, entry: &Arc<Entry>) -> u64 {
        SLOT + std::mem::size_of::<DenialKey>() as u64
            + key.len() as u64
            + records_weight(&entry.authorities)
    }
}

type Entries = quick_cache::sync::Cache<CacheKey, Arc<Entry>, Weight>;
type Denials = quick_cache::sync::Cache<DenialKey, Arc<Entry>, Weight>;

/// Bounded cache of upstream answers.
pub struct AnswerCache {
    /// `None` when caching is off (`cache_mb = 0`).
    entries: Option<Entries>,
    /// NXDOMAIN answers by name, for the RFC 8020 cut.
    nonexistent: Option<Denials>,
    /// A denial was ever stored: until then the cut is not looked for.
    denied_any: AtomicBool,
    stale_max: Duration,
    pub stats: CacheStats,
}

/// A fresh cached answer.
#[derive(Debug)]
pub struct Hit {
    /// TTLs decremented by the entry's age in whole seconds.
    pub message: Message,
    /// The instant those TTLs are exact at.
    pub aged_at: Instant,
    /// In the last tenth of its TTL: refresh it now (prefetch), so that
    /// clients asking steadily never wait for the upstream.
    pub refresh_due: bool,
}

/// What the cache holds for a key.
#[derive(Debug)]
pub enum Lookup {
    Fresh(Hit),
    /// Expired, within the stale window: the message has TTL [`STALE_TTL`].
    Stale(Message),
    Absent,
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache")
            .field("entries", &self.entries.as_ref().map(Entries::len))
            .finish()
    }
}

impl AnswerCache {
    /// A cache of at most `max_bytes` (roughly); 0 disables caching.
    pub fn new(max_bytes: u64, stale_max: Duration) -> Self {
        // An eighth of the bytes keeps NXDOMAINs by name; they expire with
        // their TTL (no stale use: the cut is only for fresh denials).
        let cut_bytes = max_bytes / 8;
        let items = |bytes: u64| {
            usize::try_from(bytes / TYPICAL_WEIGHT)
                .unwrap_or(usize::MAX)
                .max(16)
        };
        let entries = (max_bytes > 0).then(|| {
            let bytes = max_bytes - cut_bytes;
            Entries::with_weighter(items(bytes), bytes, Weight)
        });
        let nonexistent =
            (cut_bytes > 0).then(|| Denials::with_weighter(items(cut_bytes), cut_bytes, Weight));
        Self {
            entries,
            nonexistent,
            denied_any: AtomicBool::new(false),
            stale_max,
            stats: CacheStats::default(),
        }
    }

    /// Stores an upstream answer if it may be cached.
    pub fn insert(&self, key: CacheKey, answer: &Message, now: Instant) {
        let Some(entries) = &self.entries else { return };
        let Some(ttl) = cache_ttl(answer) else { return };
        let entry = Arc::new(Entry {
            rcode: answer.metadata.response_code,
            authentic_data: answer.metadata.authentic_data,
            answers: answer.answers.clone(),
            authorities: answer.authorities.clone(),
            stored: now,
            ttl,
        });
        if let Some(nonexistent) = &self.nonexistent
            && entry.rcode == ResponseCode::NXDomain
            && entry.answers.is_empty()
        {
            let name = denial_key(&key.name, key.dnssec_ok, key.checking_disabled);
            nonexistent.insert(name.into_boxed_str(), entry.clone());
            self.denied_any.store(true, Ordering::Relaxed);
        }
        entries.insert(key, entry);
    }

    /// The entry under `key` that may still be served; one past its stale
    /// window is removed.
    fn entry(&self, key: &CacheKey, now: Instant) -> Option<Arc<Entry>> {
        let entries = self.entries.as_ref()?;
        let entry = entries.get(key)?;
        if entry.gone(now, self.stale_max) {
            entries.remove_if(key, |held| Arc::ptr_eq(held, &entry));
            return None;
        }
        Some(entry)
    }

    /// A fresh answer, else a stale one, aged to `now`; counts a hit or a
    /// miss (a stale answer is a miss: it is only served when the upstream
    /// fails or is slow, and counted then by [`Self::count_stale`]).
    pub fn lookup(&self, key: &CacheKey, now: Instant) -> Lookup {
        let found = self
            .entry(key, now)
            .map(|entry| match aged(&entry, now, Freshness::Fresh) {
                Some(hit) => Lookup::Fresh(hit),
                None => aged(&entry, now, Freshness::Stale)
                    .map_or(Lookup::Absent, |hit| Lookup::Stale(hit.message)),
            });
        let found = found.unwrap_or(Lookup::Absent);
        let counter = if matches!(found, Lookup::Fresh(_)) {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// A fresh answer, aged to `now`; counts a hit or a miss.
    #[cfg(test)]
    pub fn fresh(&self, key: &CacheKey, now: Instant) -> Option<Hit> {
        match self.lookup(key, now) {
            Lookup::Fresh(hit) => Some(hit),
            Lookup::Stale(_) | Lookup::Absent => None,
        }
    }

    /// The NXDOMAIN of an ancestor of `key`'s name, fresh (RFC 8020).
    pub fn nonexistent_above(&self, key: &CacheKey, now: Instant) -> Option<Hit> {
        let nonexistent = self.nonexistent.as_ref()?;
        if !self.denied_any.load(Ordering::Relaxed) {
            return None;
        }
        let probe = denial_key(&key.name, key.dnssec_ok, key.checking_disabled);
        let mut rest = probe.as_str();
        // Each ancestor's key is the part after a dot; the last part is the
        // flags alone (the root), which is never a cut.
        while let Some((_, parent)) = rest.split_once('.') {
            rest = parent;
            if let Some(hit) = nonexistent
                .get(rest)
                .and_then(|entry| aged(&entry, now, Freshness::Fresh))
            {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                return Some(hit);
            }
        }
        None
    }

    /// An expired answer still within the stale window, with TTL
    /// [`STALE_TTL`]; counted when served ([`Self::count_stale`]).
    #[cfg(test)]
    pub fn stale(&self, key: &CacheKey, now: Instant) -> Option<Message> {
        let entry = self.entry(key, now)?;
        aged(&entry, now, Freshness::Stale).map(|hit| hit.message)
    }

    /// Counts a stale answer served.
    pub fn count_stale(&self) {
        self.stats.stale_served.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a hit answered elsewhere from what this cache gave (the
    /// [response memo](crate::engine::memo)).
    pub fn count_hit(&self) {
        self.stats.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// Entries held now, expired ones included until they are looked up or
    /// evicted.
    pub fn len(&self) -> u64 {
        self.entries
            .as_ref()
            .map_or(0, |entries| entries.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the cache holds, by its own weighing (the bound is
    /// `forward.cache_mb`).
    pub fn weighted_bytes(&self) -> u64 {
        self.entries.as_ref().map_or(0, Entries::weight)
            + self.nonexistent.as_ref().map_or(0, Denials::weight)
    }
}

/// `entry` as a message aged to `now`, if it is as fresh as `wanted`.
fn aged(entry: &Entry, now: Instant, wanted: Freshness) -> Option<Hit> {
    let age_seconds = now.saturating_duration_since(entry.stored).as_secs();
    let aged_at = entry.stored + Duration::from_secs(age_seconds);
    let age = u32::try_from(age_seconds).unwrap_or(u32::MAX);
    let freshness = if age < entry.ttl {
        Freshness::Fresh
    } else {
        Freshness::Stale
    };
    if freshness != wanted {
        return None;
    }
    let adjust = |record: &Record| {
        let mut record = record.clone();
        record.ttl = match freshness {
            Freshness::Fresh => record.ttl.min(entry.ttl).saturating_sub(age),
            Freshness::Stale => STALE_TTL,
        };
        record
    };
    let mut message = Message::new(0, MessageType::Response, OpCode::Query);
    message.metadata.response_code = entry.rcode;
    message.metadata.authentic_data = entry.authentic_data && freshness == Freshness::Fresh;
    message.answers = entry.answers.iter().map(adjust).collect();
    message.authorities = entry.authorities.iter().map(adjust).collect();
    Some(Hit {
        message,
        aged_at,
        refresh_due: refresh_due(entry.ttl.saturating_sub(age), entry.ttl),
    })
}

/// Whether an answer cached for `ttl` seconds, `remaining` of them left,
/// should be refreshed now: in the last tenth of its TTL (Unbound's
/// prefetch point), or in its last second when a tenth is less than that.
pub(crate) fn refresh_due(remaining: u32, ttl: u32) -> bool {
    u64::from(remaining) * 10 <= u64::from(ttl) || (remaining <= 1 && ttl >= 2)
}

/// How long `answer` may be cached, or `None` when it may not.
pub(crate) fn cache_ttl(answer: &Message) -> Option<u32> {
    let ttl = match answer.metadata.response_code {
        ResponseCode::NoError if !answer.answers.is_empty() => {
            answer.answers.iter().map(|r| r.ttl).min()
        }
        ResponseCode::NoError | ResponseCode::NXDomain => negative_ttl(answer),
        _ => None,
    }?;
    (ttl > 0 && !answer.metadata.truncation).then_some(ttl.min(MAX_TTL))
}

/// RFC 2308 §5: the negative TTL is the SOA's own TTL capped by its minimum.
fn negative_ttl(answer: &Message) -> Option<u32> {
    answer
        .authorities
        .iter()
        .find_map(|record| match &record.data {
            RData::SOA(soa) => Some(record.ttl.min(soa.minimum)),
            _ => None,
        })
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
