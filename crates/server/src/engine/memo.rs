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
//! the snapshot generation that built it (a reload, which may change chain
//! completion or forwarding rules, retires them all) and only when the
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

/// Entries per byte budget are weighed roughly: the bytes plus overhead.
const ENTRY_OVERHEAD: usize = 160;

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
    generation: u64,
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

/// Bounded set of kept responses (moka, weighed by size); off when the
/// budget is 0.
pub(crate) struct ResponseMemo {
    entries: Option<moka::sync::Cache<u64, Arc<Memo>>>,
    hasher: std::hash::RandomState,
}

impl std::fmt::Debug for ResponseMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseMemo")
            .field(
                "entries",
                &self.entries.as_ref().map(moka::sync::Cache::entry_count),
            )
            .finish()
    }
}

impl ResponseMemo {
    /// A memo of at most about `max_bytes`; 0 turns it off.
    pub(crate) fn new(max_bytes: u64) -> Self {
        let entries = (max_bytes > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, memo: &Arc<Memo>| {
                    let bytes = memo.wire.len() + memo.name.len() + memo.aging.len() * 16;
                    u32::try_from(bytes + ENTRY_OVERHEAD).unwrap_or(u32::MAX)
                })
                .build()
        });
        Self {
            entries,
            hasher: std::hash::RandomState::new(),
        }
    }

    fn hash(&self, name: &[u8], qtype: u16, shape: u8) -> u64 {
        self.hasher.hash_one((name, qtype, shape))
    }

    /// The key under which the response to `question` would be kept, when
    /// keeping is on.
    pub(crate) fn key(&self, question: &Question<'_>) -> Option<MemoKey> {
        self.entries.as_ref()?;
        let name = question.name();
        Some(MemoKey {
            hash: self.hash(name, question.qtype(), question.shape()),
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
        generation: u64,
        now: Instant,
        limit: usize,
        out: &mut Vec<u8>,
    ) -> Option<(Outcome, ResponseCode)> {
        let entries = self.entries.as_ref()?;
        let (name, qtype, shape) = (question.name(), question.qtype(), question.shape());
        let memo = entries.get(&self.hash(name, qtype, shape))?;
        if memo.generation != generation
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
        generation: u64,
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
                generation,
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
        self.entries.as_ref().map_or(0, |entries| {
            entries.run_pending_tasks();
            entries.entry_count()
        })
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
mod tests {
    use std::time::Duration;

    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::{A, CNAME};
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    use super::*;

    fn query(id: u16, name: &str, rtype: RecordType, dnssec_ok: Option<bool>) -> Vec<u8> {
        let mut message = Message::new(id, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        if let Some(dnssec_ok) = dnssec_ok {
            let mut edns = Edns::new();
            edns.set_max_payload(1232);
            edns.set_dnssec_ok(dnssec_ok);
            message.set_edns(edns);
        }
        message.to_vec().unwrap()
    }

    /// A response to `query` with `answers`, as the general path encodes it.
    fn response(query: &[u8], rcode: ResponseCode, answers: Vec<Record>) -> Vec<u8> {
        let mut message = Message::from_vec(query).unwrap();
        message.metadata.message_type = MessageType::Response;
        message.metadata.recursion_available = true;
        message.metadata.response_code = rcode;
        message.answers = answers;
        message.to_vec().unwrap()
    }

    fn a(name: &str, ip: [u8; 4], ttl: u32) -> Record {
        Record::from_rdata(
            Name::from_ascii(name).unwrap(),
            ttl,
            RData::A(A::from(std::net::Ipv4Addr::from(ip))),
        )
    }

    fn cname(name: &str, target: &str, ttl: u32) -> Record {
        Record::from_rdata(
            Name::from_ascii(name).unwrap(),
            ttl,
            RData::CNAME(CNAME(Name::from_ascii(target).unwrap())),
        )
    }

    /// Keeps the response to `asked` (answered from the cache at `since`).
    fn keep(memo: &ResponseMemo, asked: &[u8], wire: &[u8], aging: Aging, outcome: Outcome) {
        let mut buffer = [0u8; 255];
        let question = crate::wire::query::parse(asked, &mut buffer).unwrap();
        let rcode = ResponseCode::from_low(wire[3] & 0x0f);
        memo.insert(memo.key(&question).unwrap(), wire, aging, outcome, rcode, 7);
    }

    fn ask(memo: &ResponseMemo, query: &[u8], generation: u64, now: Instant) -> Option<Message> {
        let mut buffer = [0u8; 255];
        let question = crate::wire::query::parse(query, &mut buffer).unwrap();
        let mut out = Vec::new();
        let limit = crate::wire::edns::ClientEdns::plain(question.opt()).udp_limit;
        memo.answer(&question, query, generation, now, limit, &mut out)?;
        Some(Message::from_vec(&out).expect("valid DNS"))
    }

    #[test]
    fn a_kept_response_is_sent_again_aged_with_the_clients_id_and_case() {
        let memo = ResponseMemo::new(1 << 20);
        let t0 = Instant::now();
        let first = query(1, "www.example.com.", RecordType::A, None);
        let wire = response(
            &first,
            ResponseCode::NoError,
            vec![
                a("www.example.com.", [192, 0, 2, 1], 300),
                a("www.example.com.", [192, 0, 2, 2], 60),
            ],
        );
        let aging = Aging {
            answers: 2,
            authorities: 0,
            since: t0,
        };
        keep(&memo, &first, &wire, aging, Outcome::Cached);
        assert_eq!(memo.len(), 1);

        let mut again = query(0x1234, "WWW.Example.COM.", RecordType::A, None);
        again[2] &= !0x01; // RD clear this time
        let later = t0 + Duration::from_millis(10_900);
        let m = ask(&memo, &again, 7, later).expect("kept");
        assert_eq!(m.metadata.id, 0x1234);
        assert!(!m.metadata.recursion_desired);
        assert!(m.metadata.recursion_available);
        assert!(
            m.queries[0]
                .name()
                .eq_case(&Name::from_ascii("WWW.Example.COM.").unwrap())
        );
        let ttls: Vec<u32> = m.answers.iter().map(|r| r.ttl).collect();
        assert_eq!(ttls, [290, 50]);
        // Until the last tenth of the first record's TTL: from there the
        // cache answers, and refreshes it (prefetch).
        assert!(ask(&memo, &again, 7, t0 + Duration::from_secs(53)).is_some());
        assert!(ask(&memo, &again, 7, t0 + Duration::from_secs(54)).is_none());
    }

    #[test]
    fn a_completed_chain_ages_its_cached_links_only() {
        let memo = ResponseMemo::new(1 << 20);
        let t0 = Instant::now();
        let asked = query(1, "acct.blob.core.windows.net.", RecordType::A, Some(false));
        let wire = response(
            &asked,
            ResponseCode::NoError,
            vec![
                cname(
                    "acct.blob.core.windows.net.",
                    "acct.privatelink.blob.core.windows.net.",
                    60,
                ),
                a("acct.privatelink.blob.core.windows.net.", [10, 0, 0, 1], 10),
            ],
        );
        let aging = Aging {
            answers: 1,
            authorities: 0,
            since: t0,
        };
        keep(&memo, &asked, &wire, aging, Outcome::Chained);
        let m = ask(&memo, &asked, 7, t0 + Duration::from_secs(30)).unwrap();
        let ttls: Vec<u32> = m.answers.iter().map(|r| r.ttl).collect();
        assert_eq!(ttls, [30, 10], "the local record keeps its TTL");
        assert!(m.edns.is_some());
        assert!(ask(&memo, &asked, 7, t0 + Duration::from_secs(60)).is_none());
    }

    #[test]
    fn another_generation_type_or_request_shape_is_not_answered() {
        let memo = ResponseMemo::new(1 << 20);
        let t0 = Instant::now();
        let asked = query(1, "www.example.com.", RecordType::A, Some(false));
        let wire = response(
            &asked,
            ResponseCode::NoError,
            vec![a("www.example.com.", [192, 0, 2, 1], 300)],
        );
        let aging = Aging {
            answers: 1,
            authorities: 0,
            since: t0,
        };
        keep(&memo, &asked, &wire, aging, Outcome::Cached);
        assert!(ask(&memo, &asked, 7, t0).is_some());
        assert!(ask(&memo, &asked, 8, t0).is_none(), "after a reload");
        for other in [
            query(1, "www.example.com.", RecordType::AAAA, Some(false)),
            query(1, "www.example.com.", RecordType::A, Some(true)),
            query(1, "www.example.com.", RecordType::A, None),
            query(1, "www2.example.com.", RecordType::A, Some(false)),
        ] {
            assert!(ask(&memo, &other, 7, t0).is_none());
        }
        let mut with_ad = asked.clone();
        with_ad[3] |= 0x20;
        assert!(ask(&memo, &with_ad, 7, t0).is_none());
    }

    #[test]
    fn only_fresh_cached_noerror_and_nxdomain_responses_that_fit_are_kept() {
        let memo = ResponseMemo::new(1 << 20);
        let t0 = Instant::now();
        let asked = query(1, "www.example.com.", RecordType::A, None);
        let one = |ttl| vec![a("www.example.com.", [192, 0, 2, 1], ttl)];
        let aging = Aging {
            answers: 1,
            authorities: 0,
            since: t0,
        };
        for outcome in [Outcome::Forwarded, Outcome::Stale, Outcome::Synthesized] {
            keep(
                &memo,
                &asked,
                &response(&asked, ResponseCode::NoError, one(300)),
                aging,
                outcome,
            );
        }
        keep(
            &memo,
            &asked,
            &response(&asked, ResponseCode::ServFail, one(300)),
            aging,
            Outcome::Cached,
        );
        keep(
            &memo,
            &asked,
            &response(&asked, ResponseCode::NoError, one(0)),
            aging,
            Outcome::Cached,
        );
        let mut trailing = response(&asked, ResponseCode::NoError, one(300));
        trailing.push(0);
        keep(&memo, &asked, &trailing, aging, Outcome::Cached);
        assert!(memo.is_empty());

        // Larger than 512 bytes: kept, but only sent to clients that may receive it.
        let many = (1..=40)
            .map(|i| a("www.example.com.", [192, 0, 2, i], 300))
            .collect();
        keep(
            &memo,
            &asked,
            &response(&asked, ResponseCode::NoError, many),
            Aging {
                answers: 40,
                ..aging
            },
            Outcome::Cached,
        );
        assert!(ask(&memo, &asked, 7, t0).is_none());

        assert!(
            ResponseMemo::new(0)
                .key(&crate::wire::query::parse(&asked, &mut [0; 255]).unwrap())
                .is_none()
        );
    }
}
