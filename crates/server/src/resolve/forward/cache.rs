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

impl Expiry<CacheKey, Arc<Entry>> for Lifetime {
    fn expire_after_create(
        &self,
        _: &CacheKey,
        entry: &Arc<Entry>,
        _: Instant,
    ) -> Option<Duration> {
        Some(Duration::from_secs(u64::from(entry.ttl)) + self.stale_max)
    }

    fn expire_after_update(
        &self,
        key: &CacheKey,
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

/// Bounded cache of upstream answers.
pub struct AnswerCache {
    /// `None` when caching is off (`cache_mb = 0`).
    entries: Option<moka::sync::Cache<CacheKey, Arc<Entry>>>,
    pub stats: CacheStats,
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
        let entries = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(weight)
                .expire_after(Lifetime { stale_max })
                .build()
        });
        Self {
            entries,
            stats: CacheStats::default(),
        }
    }

    /// Stores an upstream answer if it may be cached.
    pub fn insert(&self, key: CacheKey, answer: &Message, now: Instant) {
        let Some(entries) = &self.entries else { return };
        let Some(ttl) = cache_ttl(answer) else { return };
        entries.insert(
            key,
            Arc::new(Entry {
                rcode: answer.metadata.response_code,
                authentic_data: answer.metadata.authentic_data,
                answers: answer.answers.clone(),
                authorities: answer.authorities.clone(),
                stored: now,
                ttl,
            }),
        );
    }

    /// A fresh answer, with TTLs decremented by its age in whole seconds,
    /// and the instant those TTLs are exact at (`now` less the fraction).
    pub fn fresh(&self, key: &CacheKey, now: Instant) -> Option<(Message, Instant)> {
        let answer = self.get(key, now, Freshness::Fresh);
        let counter = if answer.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        answer
    }

    /// An expired answer still within the stale window, with TTL [`STALE_TTL`].
    pub fn stale(&self, key: &CacheKey, now: Instant) -> Option<Message> {
        let (answer, _) = self.get(key, now, Freshness::Stale)?;
        self.stats.stale_served.fetch_add(1, Ordering::Relaxed);
        Some(answer)
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

    fn get(&self, key: &CacheKey, now: Instant, wanted: Freshness) -> Option<(Message, Instant)> {
        let entry = self.entries.as_ref()?.get(key)?;
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
        Some((message, aged_at))
    }
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
mod tests {
    use hickory_proto::rr::Name;
    use hickory_proto::rr::rdata::{A, SOA};

    use super::*;

    fn key(name: &str) -> CacheKey {
        CacheKey {
            name: name.into(),
            rtype: RecordType::A,
            class: DNSClass::IN,
            dnssec_ok: false,
            checking_disabled: false,
        }
    }

    fn a_answer(ttl: u32) -> Message {
        let mut message = Message::new(1, MessageType::Response, OpCode::Query);
        message.add_answer(Record::from_rdata(
            Name::from_ascii("www.example.").unwrap(),
            ttl,
            RData::A(A::new(192, 0, 2, 1)),
        ));
        message
    }

    fn negative(rcode: ResponseCode, soa_ttl: u32, minimum: u32) -> Message {
        let mut message = Message::new(1, MessageType::Response, OpCode::Query);
        message.metadata.response_code = rcode;
        let soa = SOA::new(
            Name::from_ascii("ns.example.").unwrap(),
            Name::from_ascii("h.example.").unwrap(),
            1,
            1,
            1,
            1,
            minimum,
        );
        message.add_authority(Record::from_rdata(
            Name::from_ascii("example.").unwrap(),
            soa_ttl,
            RData::SOA(soa),
        ));
        message
    }

    #[test]
    fn ttls_follow_rfc_2308_and_bad_answers_are_not_cached() {
        assert_eq!(cache_ttl(&a_answer(300)), Some(300));
        assert_eq!(cache_ttl(&a_answer(10 * MAX_TTL)), Some(MAX_TTL));
        assert_eq!(cache_ttl(&a_answer(0)), None);
        assert_eq!(
            cache_ttl(&negative(ResponseCode::NXDomain, 3600, 60)),
            Some(60)
        );
        assert_eq!(
            cache_ttl(&negative(ResponseCode::NoError, 30, 900)),
            Some(30)
        );
        let mut servfail = a_answer(300);
        servfail.metadata.response_code = ResponseCode::ServFail;
        assert_eq!(cache_ttl(&servfail), None);
        let mut nxdomain_without_soa = a_answer(300);
        nxdomain_without_soa.answers.clear();
        nxdomain_without_soa.metadata.response_code = ResponseCode::NXDomain;
        assert_eq!(cache_ttl(&nxdomain_without_soa), None);
        let mut truncated = a_answer(300);
        truncated.metadata.truncation = true;
        assert_eq!(cache_ttl(&truncated), None);
    }

    #[test]
    fn fresh_hits_decrement_ttls_and_expire_into_stale() {
        let cache = AnswerCache::new(1 << 20, Duration::from_secs(3600));
        let t0 = Instant::now();
        cache.insert(key("www.example"), &a_answer(300), t0);
        let hit = cache
            .fresh(&key("www.example"), t0 + Duration::from_secs(100))
            .unwrap()
            .0;
        assert_eq!(hit.answers[0].ttl, 200);
        assert!(
            cache
                .stale(&key("www.example"), t0 + Duration::from_secs(100))
                .is_none()
        );
        // Expired: no longer fresh, but stale with TTL 30.
        let late = t0 + Duration::from_secs(301);
        assert!(cache.fresh(&key("www.example"), late).is_none());
        assert_eq!(
            cache.stale(&key("www.example"), late).unwrap().answers[0].ttl,
            STALE_TTL
        );
        assert_eq!(cache.stats.hits.load(Ordering::Relaxed), 1);
        assert_eq!(cache.stats.misses.load(Ordering::Relaxed), 1);
        assert_eq!(cache.stats.stale_served.load(Ordering::Relaxed), 1);
        assert!(cache.fresh(&key("other.example"), t0).is_none());
    }

    #[test]
    fn negative_answers_keep_their_soa() {
        let cache = AnswerCache::new(1 << 20, Duration::ZERO);
        let t0 = Instant::now();
        cache.insert(
            key("nx.example"),
            &negative(ResponseCode::NXDomain, 3600, 60),
            t0,
        );
        let hit = cache
            .fresh(&key("nx.example"), t0 + Duration::from_secs(20))
            .unwrap()
            .0;
        assert_eq!(hit.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(hit.authorities[0].ttl, 40, "min(3600, 60) - 20");
    }

    #[test]
    fn the_size_bound_evicts() {
        let cache = AnswerCache::new(64 * 1024, Duration::ZERO);
        let t0 = Instant::now();
        for i in 0..2000 {
            cache.insert(key(&format!("n{i}.example")), &a_answer(300), t0);
        }
        let held = cache.len();
        assert!(held > 0 && held < 2000, "{held} entries in 64 KiB");
        let off = AnswerCache::new(0, Duration::ZERO);
        off.insert(key("www.example"), &a_answer(300), t0);
        assert!(off.fresh(&key("www.example"), t0).is_none());
    }
}
