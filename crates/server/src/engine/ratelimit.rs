//! Response rate limiting for UDP (the idea of BIND's RRL): a token bucket
//! per client prefix. Over the limit, every `slip`-th response is an empty
//! truncated answer, so a real client retries over TCP (which cannot be
//! spoofed), and the others are dropped, so a spoofed flood cannot use the
//! server as an amplifier.

use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hashbrown::{DefaultHashBuilder, HashMap};
use privatelink_mapping::RateLimitSettings;

/// Buckets are spread over this many locks, so that the socket threads
/// seldom wait for each other.
const SHARDS: usize = 16;
/// Prefixes tracked at most per shard; past this, idle buckets are
/// forgotten, and if a flood of fresh prefixes leaves none idle, the shard
/// starts over (a forgotten bucket is full: at worst it allows one burst).
const MAX_PER_SHARD: usize = 100_000 / SHARDS;
/// A bucket unused this long is full again anyway and can be forgotten.
const IDLE: Duration = Duration::from_secs(2);

/// What to do with one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allow,
    /// Send an empty answer with TC set instead.
    Slip,
    Drop,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
    /// Responses refused since the bucket last had tokens, for `slip`.
    limited: u32,
}

/// Buckets per client prefix, in shards. Std mutexes: each is held for a
/// lookup and a few arithmetic operations, never across an await. The
/// table's hasher (foldhash) is seeded per process, so spoofed prefixes
/// cannot be chosen to collide.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    shards: [Mutex<HashMap<IpAddr, Bucket>>; SHARDS],
    hasher: DefaultHashBuilder,
}

/// `client` with the host bits cleared, so that a prefix shares a bucket.
fn prefix_of(client: IpAddr, settings: &RateLimitSettings) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let keep = u32::MAX
                .checked_shl(32 - u32::from(settings.ipv4_prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4((bits & keep).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let keep = u128::MAX
                .checked_shl(128 - u32::from(settings.ipv6_prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((bits & keep).into())
        }
    }
}

impl RateLimiter {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Decides about one response to `client` at `now`.
    pub(crate) fn check(
        &self,
        client: IpAddr,
        settings: &RateLimitSettings,
        now: Instant,
    ) -> Verdict {
        if settings.responses_per_second == 0 {
            return Verdict::Allow;
        }
        let rate = f64::from(settings.responses_per_second);
        let key = prefix_of(client, settings);
        let shard = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        let mut buckets = match self.shards[shard].lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() >= MAX_PER_SHARD && !buckets.contains_key(&key) {
            buckets.retain(|_, bucket| now.saturating_duration_since(bucket.last) < IDLE);
            if buckets.len() >= MAX_PER_SHARD * 3 / 4 {
                buckets.clear();
            }
        }
        // A bucket holds one second's worth of responses.
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: rate,
            last: now,
            limited: 0,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            bucket.limited = 0;
            return Verdict::Allow;
        }
        bucket.limited = bucket.limited.saturating_add(1);
        if settings.slip > 0 && bucket.limited % settings.slip == 0 {
            Verdict::Slip
        } else {
            Verdict::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rate: u32, slip: u32) -> RateLimitSettings {
        RateLimitSettings {
            responses_per_second: rate,
            slip,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
        }
    }

    #[test]
    fn off_means_always_allowed() {
        let limiter = RateLimiter::new();
        let now = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(
                limiter.check("10.0.0.1".parse().unwrap(), &settings(0, 2), now),
                Verdict::Allow
            );
        }
    }

    #[test]
    fn a_burst_is_limited_per_prefix_and_refills_with_time() {
        let limiter = RateLimiter::new();
        let s = settings(10, 2);
        let now = Instant::now();
        let verdicts: Vec<Verdict> = (0..16)
            .map(|_| limiter.check("10.0.0.1".parse().unwrap(), &s, now))
            .collect();
        assert!(verdicts[..10].iter().all(|v| *v == Verdict::Allow));
        assert_eq!(
            &verdicts[10..],
            [
                Verdict::Drop,
                Verdict::Slip,
                Verdict::Drop,
                Verdict::Slip,
                Verdict::Drop,
                Verdict::Slip
            ]
        );
        // The same /24 shares the bucket; another prefix does not.
        assert_ne!(
            limiter.check("10.0.0.200".parse().unwrap(), &s, now),
            Verdict::Allow
        );
        assert_eq!(
            limiter.check("10.0.1.1".parse().unwrap(), &s, now),
            Verdict::Allow
        );
        // IPv4-mapped clients share their IPv4 bucket.
        assert_ne!(
            limiter.check("::ffff:10.0.0.7".parse().unwrap(), &s, now),
            Verdict::Allow
        );
        // A tenth of a second later, one more response is allowed.
        let later = now + Duration::from_millis(100);
        assert_eq!(
            limiter.check("10.0.0.1".parse().unwrap(), &s, later),
            Verdict::Allow
        );
        assert_ne!(
            limiter.check("10.0.0.1".parse().unwrap(), &s, later),
            Verdict::Allow
        );
    }

    #[test]
    fn slip_zero_drops_everything_over_the_limit() {
        let limiter = RateLimiter::new();
        let s = settings(1, 0);
        let now = Instant::now();
        limiter.check("10.0.0.1".parse().unwrap(), &s, now);
        for _ in 0..5 {
            assert_eq!(
                limiter.check("10.0.0.1".parse().unwrap(), &s, now),
                Verdict::Drop
            );
        }
    }

    /// A flood of fresh prefixes (spoofed sources) keeps the table bounded
    /// and each check cheap: no scan of the whole table per query.
    #[test]
    fn a_flood_of_prefixes_stays_bounded() {
        let limiter = RateLimiter::new();
        let s = settings(10, 2);
        let now = Instant::now();
        for i in 0..300_000u32 {
            let client = IpAddr::from(std::net::Ipv4Addr::from(i << 8));
            limiter.check(client, &s, now);
        }
        let tracked: usize = limiter
            .shards
            .iter()
            .map(|shard| shard.lock().unwrap().len())
            .sum();
        assert!(tracked <= 100_000, "{tracked}");
        // A known prefix keeps its bucket.
        let client: IpAddr = "10.9.9.9".parse().unwrap();
        for _ in 0..10 {
            assert_eq!(limiter.check(client, &s, now), Verdict::Allow);
        }
        assert_ne!(limiter.check(client, &s, now), Verdict::Allow);
    }

    #[test]
    fn prefixes_clear_the_host_bits() {
        let s = settings(1, 1);
        assert_eq!(
            prefix_of("192.0.2.77".parse().unwrap(), &s),
            "192.0.2.0".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            prefix_of("2001:db8:1:2:3::9".parse().unwrap(), &s),
            "2001:db8:1::".parse::<IpAddr>().unwrap()
        );
    }
}
