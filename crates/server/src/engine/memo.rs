//! Ready-to-send UDP responses for forwarded questions answered from the
//! cache.
//!
//! The general path builds a cached answer at some cost: a task, decoding
//! the query into hickory types, a cache lookup that clones records, chain
//! completion, encoding. For the next identical question the result is the
//! same bytes but for the id, the question's case and the TTLs, so the UDP
//! workers keep the response (`ResponseMemo::insert`) and answer the same
//! question from it ([`ResponseMemo::answer`]) as they answer mapped names:
//! the id, RD and the question are copied from the query, and every TTL
//! that came from the cache is aged by the time elapsed since.
//!
//! An entry is used only while every cached record in it is fresh, only by
//! the snapshot generation and view that built it (a reload, which may
//! change chain completion or forwarding rules, retires them all; a chain
//! completed for one view never reaches another) and only when the
//! client may receive its size. It is keyed by what changes a response:
//! name, type, whether the query had an OPT record and DO, and AD. Stale
//! answers, fresh upstream answers and anything but NOERROR/NXDOMAIN are
//! never kept; they take the general path every time.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::Instant;

use hickory_proto::op::ResponseCode;

use crate::reply::{Aging, Outcome};
use crate::resolve::forward::{MAX_TTL, refresh_due};
use crate::wire::query::Question;
use crate::wire::{HEADER, TYPE_OPT, skip_name};

/// What a kept response costs besides its bytes: the `Memo` itself, the
/// `Arc`'s counts, and the table's slot and index (key, value, hash).
/// Measured: `bench/hostile.py cache --repeat 2` (issue 18, item 6).
const ENTRY_OVERHEAD: usize = std::mem::size_of::<Memo>() + 16 + 48;

/// Weighs a kept response by the memory it holds.
#[derive(Debug, Clone, Copy)]
struct MemoWeight;

impl quick_cache::Weighter<u64, Arc<Memo>> for MemoWeight {
    fn weight(&self, _: &u64, memo: &Arc<Memo>) -> u64 {
        (memo.wire.len() + memo.name.len() + std::mem::size_of_val(&*memo.aging) + ENTRY_OVERHEAD)
            as u64
    }
}

type Memos = quick_cache::sync::Cache<u64, Arc<Memo>, MemoWeight>;

/// The expected weight of a kept response, to size the table up front.
const TYPICAL_WEIGHT: u64 = 320;

/// What a kept response answers: the question name (lower case, dotted),
/// its type, and the request's EDNS/AD shape.
#[derive(Debug, Clone)]
pub(crate) struct MemoKey {
    hash: u64,
    name: Box<[u8]>,
    qtype: u16,
    shape: u8,
}

#[derive(Debug)]
struct Memo {
    name: Box<[u8]>,
    qtype: u16,
    shape: u8,
    /// The snapshot's memo epoch: its generation and view.
    epoch: u64,
    wire: Box<[u8]>,
    /// Where the question ends in `wire` (header + question).
    question_end: usize,
    /// Offset and stored value of each TTL that ages.
    aging: Box<[(usize, u32)]>,
    /// When the stored TTLs were exact.
    stored: Instant,
    /// Seconds until the first aging record expires.
    fresh_for: u32,
    outcome: Outcome,
    rcode: ResponseCode,
}

/// Bounded set of kept responses (quick_cache, weighed by the memory they
/// hold); off when the budget is 0.
pub(crate) struct ResponseMemo {
    entries: Option<Memos>,
    hasher: std::hash::RandomState,
}

impl std::fmt::Debug for ResponseMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseMemo")
            .field("entries", &self.entries.as_ref().map(Memos::len))
            .finish()
    }
}

impl ResponseMemo {
    /// A memo of at most about `max_bytes`; 0 turns it off.
    pub(crate) fn new(max_bytes: u64) -> Self {
        let entries = (max_bytes > 0).then(|| {
            let items = usize::try_from(max_bytes / TYPICAL_WEIGHT)
                .unwrap_or(usize::MAX)
                .max(16);
            Memos::with_weighter(items, max_bytes, MemoWeight)
        });
        Self {
            entries,
            hasher: std::hash::RandomState::new(),
        }
    }

    /// `epoch` is the snapshot's [`memo_epoch`](crate::store::Snapshot::memo_epoch):
    /// each view keeps its own responses.
    fn hash(&self, name: &[u8], qtype: u16, shape: u8, epoch: u64) -> u64 {
        self.hasher.hash_one((name, qtype, shape, epoch))
    }

    /// The key under which the response to `question` would be kept, when
    /// keeping is on.
    pub(crate) fn key(&self, question: &Question<'_>, epoch: u64) -> Option<MemoKey> {
        self.entries.as_ref()?;
        let name = question.name();
        Some(MemoKey {
            hash: self.hash(name, question.qtype(), question.shape(), epoch),
            name: name.into(),
            qtype: question.qtype(),
            shape: question.shape(),
        })
    }

    /// Writes the kept response to `question` into `out`, aged to `now`.
    /// `None` when there is none, it is stale or from another generation,
    /// or it is larger than `limit`.
    pub(crate) fn answer(
        &self,
        question: &Question<'_>,
        query: &[u8],
        epoch: u64,
        now: Instant,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Option<(Outcome, ResponseCode)> {
        let entries = self.entries.as_ref()?;
        let (name, qtype, shape) = (question.name(), question.qtype(), question.shape());
        let memo = entries.get(&self.hash(name, qtype, shape, epoch))?;
        if memo.epoch != epoch
            || memo.qtype != qtype
            || memo.shape != shape
            || *memo.name != *name
            || memo.question_end != question.end()
            || memo.wire.len() > limit
        {
            return None;
        }
        let elapsed =
            u32::try_from(now.saturating_duration_since(memo.stored).as_secs()).unwrap_or(u32::MAX);
        // Near expiry the cache answers, and refreshes the answer from the
        // upstream before it expires (prefetch): the same rule as its own.
        if elapsed >= memo.fresh_for || refresh_due(memo.fresh_for - elapsed, memo.fresh_for) {
            return None;
        }
        out.clear();
        out.extend_from_slice(&memo.wire);
        // The client's id, RD, and question as it wrote it (same length: same name).
        out[..2].copy_from_slice(query.get(..2)?);
        out[2] = (out[2] & !0x01) | (query.get(2)? & 0x01);
        out[HEADER..memo.question_end].copy_from_slice(query.get(HEADER..memo.question_end)?);
        for &(offset, ttl) in &memo.aging {
            out[offset..offset + 4].copy_from_slice(&ttl.saturating_sub(elapsed).to_be_bytes());
        }
        Some((memo.outcome, memo.rcode))
    }

    /// Keeps `wire`, the response just built from the cache for the
    /// question `key` stands for, if it may be sent again.
    pub(crate) fn insert(
        &self,
        key: MemoKey,
        wire: &[u8],
        aging: Aging,
        outcome: Outcome,
        rcode: ResponseCode,
        epoch: u64,
    ) {
        let Some(entries) = &self.entries else { return };
        if !matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain)
            || !matches!(outcome, Outcome::Cached | Outcome::Chained)
        {
            return;
        }
        let Some(layout) = Layout::read(wire, aging) else {
            return;
        };
        let Some(fresh_for) = layout.aging.iter().map(|&(_, ttl)| ttl).min() else {
            return;
        };
        let fresh_for = fresh_for.min(MAX_TTL);
        if fresh_for == 0 {
            return;
        }
        entries.insert(
            key.hash,
            Arc::new(Memo {
                name: key.name,
                qtype: key.qtype,
                shape: key.shape,
                epoch,
                wire: wire.into(),
                question_end: layout.question_end,
                aging: layout.aging.into(),
                stored: aging.since,
                fresh_for,
                outcome,
                rcode,
            }),
        );
    }

    /// Responses kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.entries
            .as_ref()
            .map_or(0, |entries| entries.len() as u64)
    }

    /// The memory the kept responses hold, by their weighing (bound: a
    /// quarter of `forward.cache_mb`).
    pub(crate) fn weighted_bytes(&self) -> u64 {
        self.entries.as_ref().map_or(0, Memos::weight)
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where the parts of an encoded response are.
struct Layout {
    question_end: usize,
    aging: Vec<(usize, u32)>,
}

impl Layout {
    /// Walks a response with one question: the end of the question and the
    /// TTL of each record `aging` names. `None` for anything else.
    fn read(wire: &[u8], aging: Aging) -> Option<Self> {
        let count = |at: usize| -> Option<usize> {
            Some(usize::from(u16::from_be_bytes([
                *wire.get(at)?,
                *wire.get(at + 1)?,
            ])))
        };
        if count(4)? != 1 {
            return None;
        }
        let (answers, authorities, additionals) = (count(6)?, count(8)?, count(10)?);
        if aging.answers > answers || aging.authorities > authorities {
            return None;
        }
        let mut at = skip_name(wire, HEADER)? + 4;
        let question_end = at;
        let mut ttls = Vec::with_capacity(aging.answers + aging.authorities);
        for index in 0..answers + authorities + additionals {
            at = skip_name(wire, at)?;
            let rtype = u16::from_be_bytes([*wire.get(at)?, *wire.get(at + 1)?]);
            let ttl_at = at + 4;
            let ttl = u32::from_be_bytes(wire.get(ttl_at..ttl_at + 4)?.try_into().ok()?);
            let rdlen = count(at + 8)?;
            at += 10 + rdlen;
            let ages = if index < answers {
                index < aging.answers
            } else if index < answers + authorities {
                index - answers < aging.authorities
            } else {
                false
            };
            if ages && rtype != TYPE_OPT {
                ttls.push((ttl_at, ttl));
            }
        }
        (at == wire.len()).then_some(Self {
            question_end,
            aging: ttls,
        })
    }
}

#[cfg(test)]
#[path = "memo_tests.rs"]
mod tests;
