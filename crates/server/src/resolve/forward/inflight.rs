//! Coalescing identical questions that are upstream at the same time: the
//! first becomes the leader and asks; the others wait for its outcome.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hashbrown::HashMap;
use hickory_proto::op::Message;
use tokio::sync::watch;

use super::cache::CacheKey;

/// The outcome a leader shares: the sanitised answer and the upstream that
/// gave it, or why there is none.
pub(crate) type Outcome = Result<(Message, SocketAddr), String>;

type Slot = watch::Receiver<Option<Arc<Outcome>>>;

/// Questions currently upstream. A std mutex: held only to look up or
/// change the map, never across an await.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    pending: Arc<Mutex<HashMap<CacheKey, Slot>>>,
}

/// What a query does about an identical question already upstream.
pub(crate) enum Flight {
    Leader(Leader),
    Follower(Follower),
}

/// The query that asks; it must [`Leader::finish`]. If it is dropped
/// instead (cancelled), its followers stop waiting and fail over.
#[derive(Debug)]
pub(crate) struct Leader {
    key: CacheKey,
    sender: watch::Sender<Option<Arc<Outcome>>>,
    pending: Arc<Mutex<HashMap<CacheKey, Slot>>>,
}

/// A query waiting for its leader.
pub(crate) struct Follower {
    receiver: Slot,
}

fn locked<T>(
    pending: &Mutex<HashMap<CacheKey, Slot>>,
    f: impl FnOnce(&mut HashMap<CacheKey, Slot>) -> T,
) -> T {
    match pending.lock() {
        Ok(mut guard) => f(&mut guard),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

impl InFlight {
    /// Leads the question `key`, or follows the query already leading it.
    pub(crate) fn join(&self, key: &CacheKey) -> Flight {
        locked(&self.pending, |pending| {
            if let Some(receiver) = pending.get(key) {
                return Flight::Follower(Follower {
                    receiver: receiver.clone(),
                });
            }
            let (sender, receiver) = watch::channel(None);
            pending.insert(key.clone(), receiver);
            Flight::Leader(Leader {
                key: key.clone(),
                sender,
                pending: self.pending.clone(),
            })
        })
    }
}

impl Leader {
    /// A follower of this leader (the query that made it, which waits too).
    pub(crate) fn follower(&self) -> Follower {
        Follower {
            receiver: self.sender.subscribe(),
        }
    }

    /// Shares the outcome with every follower.
    pub(crate) fn finish(self, outcome: Outcome) {
        // Later queries go to the cache (or ask again) from here on.
        locked(&self.pending, |pending| pending.remove(&self.key));
        let _ = self.sender.send(Some(Arc::new(outcome)));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        locked(&self.pending, |pending| {
            // Only remove our own slot: `finish` already did, or we were cancelled.
            if pending
                .get(&self.key)
                .is_some_and(|slot| slot.same_channel(&self.sender.subscribe()))
            {
                pending.remove(&self.key);
            }
        });
    }
}

impl Follower {
    /// The leader's outcome; `None` when the leader went away without one.
    pub(crate) async fn wait(mut self) -> Option<Outcome> {
        let outcome = self.receiver.wait_for(Option::is_some).await.ok()?;
        outcome.as_ref().map(|shared| shared.as_ref().clone())
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::{DNSClass, RecordType};

    use super::*;

    fn key() -> CacheKey {
        CacheKey {
            name: "www.example".into(),
            rtype: RecordType::A,
            class: DNSClass::IN,
            dnssec_ok: false,
            checking_disabled: false,
        }
    }

    #[tokio::test]
    async fn followers_get_the_leaders_outcome_and_the_slot_is_freed() {
        let inflight = InFlight::default();
        let Flight::Leader(leader) = inflight.join(&key()) else {
            panic!("first must lead")
        };
        let Flight::Follower(follower) = inflight.join(&key()) else {
            panic!("second must follow")
        };
        let waiting = tokio::spawn(follower.wait());
        leader.finish(Err("nope".into()));
        assert_eq!(waiting.await.unwrap(), Some(Err("nope".into())));
        assert!(
            matches!(inflight.join(&key()), Flight::Leader(_)),
            "a new question leads again"
        );
    }

    #[tokio::test]
    async fn a_dropped_leader_releases_its_followers() {
        let inflight = InFlight::default();
        let Flight::Leader(leader) = inflight.join(&key()) else {
            panic!("first must lead")
        };
        let Flight::Follower(follower) = inflight.join(&key()) else {
            panic!("second must follow")
        };
        drop(leader);
        assert_eq!(follower.wait().await, None);
        assert!(matches!(inflight.join(&key()), Flight::Leader(_)));
    }
}
