//! The answer cache for forwarded queries (moka: bounded by memory, with a
//! per-entry lifetime).
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
//! An NXDOMAIN for a name is also kept by name alone, so that every name
//! below it is answered NXDOMAIN from the cache until it expires (RFC 8020:
//! "there is nothing below"). A CNAME chain ending in NXDOMAIN says that of
//! its target, not of the name asked, and is not kept that way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use moka::Expiry;

/// TTL of a stale answer (RFC 8767 §4).
pub(crate) const STALE_TTL: u32 = 30;
/// No answer is cached for longer than a day, whatever its TTL.
pub(crate) const MAX_TTL: u32 = 86_400;

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

/// A cached answer, with how it may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    Fresh,
    /// Past its TTL but within the stale window.
    Stale,
}

struct Lifetime {
    stale_max: Duration,
}

impl<K> Expiry<K, Arc<Entry>> for Lifetime {
    fn expire_after_create(&self, _: &K, entry: &Arc<Entry>, _: Instant) -> Option<Duration> {
        Some(Duration::from_secs(u64::from(entry.ttl)) + self.stale_max)
    }

    fn expire_after_update(
        &self,
        key: &K,
        entry: &Arc<Entry>,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, entry, now)
    }
}

/// Cache counters, for logs and metrics.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub stale_served: AtomicU64,
}

/// What an NXDOMAIN is kept under for the RFC 8020 cut: the name and the
/// flags that shape its proof.
type NxKey = (Box<str>, bool, bool);

/// Bounded cache of upstream answers.
pub struct AnswerCache {
    /// `None` when caching is off (`cache_mb = 0`).
    entries: Option<moka::sync::Cache<CacheKey, Arc<Entry>>>,
    /// NXDOMAIN answers by name, for the RFC 8020 cut.
    nonexistent: Option<moka::sync::Cache<NxKey, Arc<Entry>>>,
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

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache")
            .field(
                "entries",
                &self.entries.as_ref().map(moka::sync::Cache::entry_count),
            )
            .finish()
    }
}

/// Rough memory use of an entry, for the size bound: names, fixed record
/// overhead and typical rdata, plus the entry itself.
fn weight(key: &CacheKey, entry: &Arc<Entry>) -> u32 {
    let records: usize = entry
        .answers
        .iter()
        .chain(&entry.authorities)
        .map(|r| r.name.len() + 96)
        .sum();
    u32::try_from(256 + key.name.len() + records).unwrap_or(u32::MAX)
}

impl AnswerCache {
    /// A cache of at most `max_bytes` (roughly); 0 disables caching.
    pub fn new(max_bytes: u64, stale_max: Duration) -> Self {
        // An eighth of the bytes keeps NXDOMAINs by name; they expire with
        // their TTL (no stale use: the cut is only for fresh denials).
        let cut_bytes = max_bytes / 8;
        let entries = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes - cut_bytes)
                .weigher(weight)
                .expire_after(Lifetime { stale_max })
                .build()
        });
        let nonexistent = (cut_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(cut_bytes)
                .weigher(|key: &NxKey, entry: &Arc<Entry>| {
                    let records: usize = entry.authorities.iter().map(|r| r.name.len() + 96).sum();
                    u32::try_from(256 + key.0.len() + records).unwrap_or(u32::MAX)
                })
                .expire_after(Lifetime {
                    stale_max: Duration::ZERO,
                })
                .build()
        });
        Self {
            entries,
            nonexistent,
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
            let name = (
                key.name.as_str().into(),
                key.dnssec_ok,
                key.checking_disabled,
            );
            nonexistent.insert(name, entry.clone());
        }
        entries.insert(key, entry);
    }

    /// A fresh answer, aged to `now`; counts a hit or a miss.
    pub fn fresh(&self, key: &CacheKey, now: Instant) -> Option<Hit> {
        let hit = self
            .entries
            .as_ref()
            .and_then(|entries| entries.get(key))
            .and_then(|entry| aged(&entry, now, Freshness::Fresh));
        let counter = if hit.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    /// True when an answer to `key`, fresh or stale, is held.
    pub fn holds(&self, key: &CacheKey) -> bool {
        self.entries
            .as_ref()
            .is_some_and(|entries| entries.contains_key(key))
    }

    /// The NXDOMAIN of an ancestor of `key`'s name, fresh (RFC 8020).
    pub fn nonexistent_above(&self, key: &CacheKey, now: Instant) -> Option<Hit> {
        let nonexistent = self.nonexistent.as_ref()?;
        let mut name = key.name.as_str();
        while let Some((_, parent)) = name.split_once('.') {
            name = parent;
            let probe = (name.into(), key.dnssec_ok, key.checking_disabled);
            if let Some(hit) = nonexistent
                .get(&probe)
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
    pub fn stale(&self, key: &CacheKey, now: Instant) -> Option<Message> {
        let entry = self.entries.as_ref()?.get(key)?;
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

    /// Entries currently held.
    pub fn len(&self) -> u64 {
        self.entries.as_ref().map_or(0, |entries| {
            entries.run_pending_tasks();
            entries.entry_count()
        })
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the cache holds, by its own weighing (the bound is
    /// `forward.cache_mb`).
    pub fn weighted_bytes(&self) -> u64 {
        let size = |cache: Option<u64>| cache.unwrap_or(0);
        size(self.entries.as_ref().map(moka::sync::Cache::weighted_size))
            + size(
                self.nonexistent
                    .as_ref()
                    .map(moka::sync::Cache::weighted_size),
            )
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
