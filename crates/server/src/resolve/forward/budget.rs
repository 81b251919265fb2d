//! The upstream budget: what one upstream may be sent, and who goes first
//! when that is spent.
//!
//! Azure's resolver drops what a VM sends past 1,000 queries per second or
//! 200 pending, and a drop is a timeout here, a retry, and more load. So
//! every try to an upstream takes a [`Permit`] first: at most
//! `max_pending` are out at once, and at most `max_qps` are sent in any
//! one-second window (a sliding window of send instants, so no burst ever
//! exceeds the limit as the upstream counts it). A token bucket paces the
//! sends as well: without it a budget spent in the first 200 ms of a second
//! would leave the other 800 ms silent, and a query arriving then would
//! wait for the next second. The bucket holds a fiftieth of a second's worth
//! and refills at the limit less that, so that paced sends never fill the
//! window early (2 % of the limit is the price of never going silent).
//!
//! A try that finds the budget spent waits in a bounded queue ordered by
//! [`Priority`], first in first out within one priority: refreshes of
//! names the cache already holds and names clients ask often go before a
//! flood of names nobody asked before. A full queue sheds its lowest entry
//! (or the newcomer, if that is lower), and a try that is still queued at
//! its deadline gives up; both come back as [`Shed`] at once, so the caller
//! can answer stale, synthesised or SERVFAIL promptly.
//!
//! Only the head of the queue sleeps on the rate window; the others wait to
//! be woken, by a permit coming back or by the head taking its own.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use privatelink_mapping::UpstreamLimits;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Queued tries per pending slot: the queue holds `max_pending` times this.
const QUEUE_PER_PENDING: usize = 4;

/// The rate window.
const WINDOW: Duration = Duration::from_secs(1);

/// Who goes first when the budget is spent; higher goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Priority(pub u32);

/// Why a try got no permit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Shed {
    #[error("the upstream's budget is spent and its queue is full of more popular names")]
    QueueFull,
    #[error("the upstream's budget stayed spent until the query's deadline")]
    Deadline,
}

/// The pacing bucket's size for `limits`.
fn burst(limits: UpstreamLimits) -> f64 {
    (f64::from(limits.max_qps) / 50.0).max(1.0)
}

/// A queued try's place: priority first, then arrival.
type Place = (Reverse<Priority>, u64);

#[derive(Debug)]
struct State {
    limits: UpstreamLimits,
    pending: u32,
    /// When each query of the last [`WINDOW`] was sent, oldest first.
    sent: VecDeque<Instant>,
    waiting: BTreeMap<Place, Arc<Notify>>,
    next_arrival: u64,
    /// When shedding was last logged.
    last_warning: Option<Instant>,
    /// The pacing bucket: sends it allows now, refilled at `max_qps`.
    tokens: f64,
    refilled: Instant,
}

impl State {
    /// Brings the window and the bucket to `now`.
    fn advance(&mut self, now: Instant) {
        while self.sent.front().is_some_and(|at| *at + WINDOW <= now) {
            self.sent.pop_front();
        }
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.refill_rate()).min(self.burst());
        self.refilled = now;
    }

    /// A fiftieth of a second's worth of sends, at least one.
    fn burst(&self) -> f64 {
        burst(self.limits)
    }

    /// Tokens per second: the limit less the burst, so that a burst and a
    /// second of paced sends together stay within the window.
    fn refill_rate(&self) -> f64 {
        (f64::from(self.limits.max_qps) - self.burst()).max(0.5)
    }

    fn has_room(&self) -> bool {
        self.pending < self.limits.max_pending
            && self.sent.len() < self.max_qps()
            && self.tokens >= 1.0
    }

    /// When the rate next allows a send (the window and the bucket).
    fn next_send(&self, now: Instant) -> Instant {
        let window = if self.sent.len() < self.max_qps() {
            now
        } else {
            self.sent.front().map_or(now, |oldest| *oldest + WINDOW)
        };
        let bucket = if self.tokens >= 1.0 {
            now
        } else {
            // At least the timer's granularity: a wait rounded down to
            // nothing would spin.
            let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.refill_rate());
            now + wait.max(Duration::from_millis(1))
        };
        window.max(bucket)
    }

    fn max_qps(&self) -> usize {
        usize::try_from(self.limits.max_qps).unwrap_or(usize::MAX)
    }

    fn queue_max(&self) -> usize {
        usize::try_from(self.limits.max_pending)
            .unwrap_or(usize::MAX)
            .saturating_mul(QUEUE_PER_PENDING)
    }

    fn wake_head(&self) {
        if let Some(head) = self.waiting.values().next() {
            head.notify_one();
        }
    }
}

/// Counters of one upstream's budget, for metrics and the log.
#[derive(Debug, Default)]
pub(crate) struct BudgetStats {
    /// Tries that got no permit (queue full or deadline).
    pub shed: AtomicU64,
    /// Tries that had to wait for a permit.
    pub queued: AtomicU64,
}

/// One upstream's budget.
#[derive(Debug)]
pub(crate) struct Budget {
    state: Mutex<State>,
    pub stats: BudgetStats,
    /// The upstream's metrics label, written when the budget is made
    /// (formatting the address per try showed in the miss path's profile).
    label: Box<str>,
}

/// One try's right to be out; dropping it gives the pending slot back.
#[derive(Debug)]
pub(crate) struct Permit {
    budget: Arc<Budget>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = self.budget.lock();
        state.pending = state.pending.saturating_sub(1);
        state.wake_head();
    }
}

/// What a budget holds now, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub pending: u32,
    pub queued: usize,
    pub sent_last_second: usize,
}

impl Budget {
    /// The upstream's address as the metrics label.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The budget of `upstream`.
    pub(crate) fn for_upstream(upstream: SocketAddr, limits: UpstreamLimits) -> Self {
        Self {
            label: upstream.to_string().into(),
            ..Self::new(limits)
        }
    }

    /// A budget with an empty label (the tests' budgets need no upstream).
    pub(crate) fn new(limits: UpstreamLimits) -> Self {
        let burst = burst(limits);
        Self {
            state: Mutex::new(State {
                tokens: burst,
                refilled: Instant::now(),
                limits,
                pending: 0,
                sent: VecDeque::new(),
                waiting: BTreeMap::new(),
                next_arrival: 0,
                last_warning: None,
            }),
            stats: BudgetStats::default(),
            label: Box::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Applies limits from a reload.
    pub(crate) fn set_limits(&self, limits: UpstreamLimits) {
        let mut state = self.lock();
        if state.limits != limits {
            state.limits = limits;
            state.tokens = state.tokens.min(state.burst());
            state.wake_head();
        }
    }

    pub(crate) fn limits(&self) -> UpstreamLimits {
        self.lock().limits
    }

    /// True, once per `every`, when shedding should be logged.
    pub(crate) fn warn_due(&self, now: Instant, every: Duration) -> bool {
        let mut state = self.lock();
        let due = state
            .last_warning
            .is_none_or(|at| now.saturating_duration_since(at) >= every);
        if due {
            state.last_warning = Some(now);
        }
        due
    }

    pub(crate) fn usage(&self, now: Instant) -> Usage {
        let mut state = self.lock();
        state.advance(now);
        Usage {
            pending: state.pending,
            queued: state.waiting.len(),
            sent_last_second: state.sent.len(),
        }
    }

    /// A permit to send one try, at once when the budget has room and no
    /// one is queued ahead, else after waiting in the queue until `deadline`.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        priority: Priority,
        deadline: Instant,
    ) -> Result<Permit, Shed> {
        let mut place: Option<(Place, Arc<Notify>)> = None;
        loop {
            let now = Instant::now();
            let wake_at = {
                let mut state = self.lock();
                state.advance(now);
                let first = state.waiting.keys().next().copied();
                let at_head = match &place {
                    None => first.is_none_or(|head| head.0.0 < priority),
                    Some((mine, _)) => first == Some(*mine),
                };
                if at_head && state.has_room() {
                    if let Some((mine, _)) = &place {
                        state.waiting.remove(mine);
                    }
                    state.pending += 1;
                    state.sent.push_back(now);
                    state.tokens -= 1.0;
                    // The next in line may have room too.
                    state.wake_head();
                    return Ok(Permit {
                        budget: self.clone(),
                    });
                }
                if place.is_none() {
                    place = Some(self.enqueue(&mut state, priority)?);
                }
                let at_head = place
                    .as_ref()
                    .is_some_and(|(mine, _)| state.waiting.keys().next() == Some(mine));
                // Only the head waits on the clock, and only for the rate.
                let rate_wait = (at_head && state.pending < state.limits.max_pending)
                    .then(|| state.next_send(now));
                rate_wait.map_or(deadline, |at| at.min(deadline))
            };
            let Some((mine, notify)) = &place else {
                return Err(Shed::Deadline);
            };
            tokio::select! {
                () = notify.notified() => {}
                () = tokio::time::sleep_until(wake_at) => {}
            }
            let mut state = self.lock();
            if !state.waiting.contains_key(mine) {
                // Shed to make room; a wake meant for the head may have come here.
                state.wake_head();
                self.stats.shed.fetch_add(1, Ordering::Relaxed);
                return Err(Shed::QueueFull);
            }
            if Instant::now() >= deadline {
                state.waiting.remove(mine);
                state.wake_head();
                self.stats.shed.fetch_add(1, Ordering::Relaxed);
                return Err(Shed::Deadline);
            }
        }
    }

    /// Queues a try, making room by shedding the lowest if the queue is full.
    fn enqueue(&self, state: &mut State, priority: Priority) -> Result<(Place, Arc<Notify>), Shed> {
        if state.waiting.len() >= state.queue_max() {
            match state.waiting.last_key_value() {
                Some((lowest, _)) if lowest.0.0 < priority => {
                    let lowest = *lowest;
                    if let Some(shed) = state.waiting.remove(&lowest) {
                        shed.notify_one();
                    }
                }
                _ => {
                    self.stats.shed.fetch_add(1, Ordering::Relaxed);
                    return Err(Shed::QueueFull);
                }
            }
        }
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        let mine = (Reverse(priority), state.next_arrival);
        state.next_arrival += 1;
        let notify = Arc::new(Notify::new());
        state.waiting.insert(mine, notify.clone());
        Ok((mine, notify))
    }
}

/// The budgets of every upstream asked, by address. An upstream named by
/// several routes gets the strictest of their limits.
#[derive(Debug, Default)]
pub(crate) struct Budgets {
    by_upstream: Mutex<HashMap<SocketAddr, Arc<Budget>>>,
}

impl Budgets {
    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, Arc<Budget>>> {
        self.by_upstream
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The budget of `upstream`.
    pub(crate) fn of(&self, upstream: SocketAddr, limits: UpstreamLimits) -> Arc<Budget> {
        self.lock()
            .entry(upstream)
            .or_insert_with(|| Arc::new(Budget::for_upstream(upstream, limits)))
            .clone()
    }

    /// Sets every upstream's limits from the forwarding settings in service
    /// (at start and after each reload); upstreams no longer named keep
    /// their last limits until they are forgotten with their last permit.
    pub(crate) fn configure(&self, forward: &privatelink_mapping::ForwardSettings) {
        let mut wanted: HashMap<SocketAddr, UpstreamLimits> = HashMap::new();
        let routes = std::iter::once((&forward.upstreams, forward.limits)).chain(
            forward
                .rules
                .iter()
                .map(|rule| (&rule.upstreams, rule.limits)),
        );
        for (upstreams, limits) in routes {
            for upstream in upstreams {
                wanted
                    .entry(*upstream)
                    .and_modify(|held| *held = held.min(limits))
                    .or_insert(limits);
            }
        }
        let mut budgets = self.lock();
        budgets.retain(|upstream, budget| {
            wanted.contains_key(upstream) || Arc::strong_count(budget) > 1
        });
        for (upstream, limits) in wanted {
            budgets
                .entry(upstream)
                .and_modify(|budget| budget.set_limits(limits))
                .or_insert_with(|| Arc::new(Budget::for_upstream(upstream, limits)));
        }
    }

    /// Every budget, for metrics.
    pub(crate) fn all(&self) -> Vec<(SocketAddr, Arc<Budget>)> {
        let mut all: Vec<_> = self
            .lock()
            .iter()
            .map(|(upstream, budget)| (*upstream, budget.clone()))
            .collect();
        all.sort_by_key(|(upstream, _)| *upstream);
        all
    }
}

#[cfg(test)]
#[path = "budget_tests.rs"]
mod tests;
