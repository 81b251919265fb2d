//! A bound on how often one kind of log line is written, for events a
//! client can cause at will (bad TSIG signatures, refused transfers): the
//! operator hears of them, and a flood cannot fill the disk. Past the
//! budget of a window the lines are counted, and the next line logged says
//! how many were left out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(crate) struct LogBudget {
    per_window: u32,
    window: Duration,
    state: Mutex<Window>,
}

struct Window {
    started: Option<Instant>,
    logged: u32,
    left_out: u64,
}

impl LogBudget {
    pub(crate) const fn new(per_window: u32, window: Duration) -> Self {
        Self {
            per_window,
            window,
            state: Mutex::new(Window {
                started: None,
                logged: 0,
                left_out: 0,
            }),
        }
    }

    /// `Some(n)` when this line may be written, `n` being how many were
    /// left out since the last one written; `None` when over the budget.
    pub(crate) fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let expired = state
            .started
            .is_none_or(|started| now.duration_since(started) >= self.window);
        if expired {
            state.started = Some(now);
            state.logged = 0;
        }
        if state.logged >= self.per_window {
            state.left_out += 1;
            return None;
        }
        state.logged += 1;
        Some(std::mem::take(&mut state.left_out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_budget_lines_are_counted_and_reported_with_the_next() {
        let budget = LogBudget::new(2, Duration::from_secs(60));
        let start = Instant::now();
        assert_eq!(budget.admit(start), Some(0));
        assert_eq!(budget.admit(start), Some(0));
        for _ in 0..5 {
            assert_eq!(budget.admit(start + Duration::from_secs(1)), None);
        }
        assert_eq!(budget.admit(start + Duration::from_secs(61)), Some(5));
        assert_eq!(budget.admit(start + Duration::from_secs(62)), Some(0));
    }
}
