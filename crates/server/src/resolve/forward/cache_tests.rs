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
        .message;
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
        .message;
    assert_eq!(hit.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(hit.authorities[0].ttl, 40, "min(3600, 60) - 20");
}

#[test]
fn below_a_cached_nxdomain_everything_is_nxdomain() {
    let cache = AnswerCache::new(1 << 20, Duration::ZERO);
    let t0 = Instant::now();
    cache.insert(
        key("gone.example"),
        &negative(ResponseCode::NXDomain, 3600, 60),
        t0,
    );
    let below = cache
        .nonexistent_above(&key("a.b.gone.example"), t0 + Duration::from_secs(10))
        .unwrap();
    assert_eq!(below.message.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(below.message.authorities[0].ttl, 50);
    // Not beside it, not itself (that is the ordinary cache), not
    // after it expires, and not for a DO query it was not asked with.
    assert!(cache.nonexistent_above(&key("other.example"), t0).is_none());
    // Below a label that only ends like it: no cut (the walk goes by labels).
    assert!(
        cache
            .nonexistent_above(&key("a.xgone.example"), t0)
            .is_none()
    );
    assert!(cache.nonexistent_above(&key("gone.example"), t0).is_none());
    let late = t0 + Duration::from_secs(61);
    assert!(
        cache
            .nonexistent_above(&key("x.gone.example"), late)
            .is_none()
    );
    let mut with_do = key("x.gone.example");
    with_do.dnssec_ok = true;
    assert!(cache.nonexistent_above(&with_do, t0).is_none());
    // A chain that ends in NXDOMAIN denies its target, not the name.
    let mut chained = negative(ResponseCode::NXDomain, 3600, 60);
    chained.add_answer(Record::from_rdata(
        Name::from_ascii("alias.example.").unwrap(),
        60,
        RData::CNAME(hickory_proto::rr::rdata::CNAME(
            Name::from_ascii("gone.elsewhere.").unwrap(),
        )),
    ));
    cache.insert(key("alias.example"), &chained, t0);
    assert!(
        cache
            .nonexistent_above(&key("x.alias.example"), t0)
            .is_none()
    );
}

#[test]
fn the_last_tenth_of_a_ttl_asks_for_a_refresh() {
    let cache = AnswerCache::new(1 << 20, Duration::ZERO);
    let t0 = Instant::now();
    cache.insert(key("www.example"), &a_answer(100), t0);
    let at = |s| cache.fresh(&key("www.example"), t0 + Duration::from_secs(s));
    assert!(!at(0).unwrap().refresh_due);
    assert!(!at(89).unwrap().refresh_due);
    assert!(at(90).unwrap().refresh_due);
    assert!(at(99).unwrap().refresh_due);
    assert!(at(100).is_none());
    // Short TTLs: the last second; a TTL of 1 is never refreshed early.
    assert!(!refresh_due(2, 3) && refresh_due(1, 3));
    assert!(!refresh_due(1, 1));
}

#[test]
fn an_entry_past_its_stale_window_is_not_served_and_leaves_the_cache() {
    let cache = AnswerCache::new(1 << 20, Duration::from_secs(100));
    let t0 = Instant::now();
    cache.insert(key("www.example"), &a_answer(60), t0);
    assert!(matches!(
        cache.lookup(&key("www.example"), t0),
        Lookup::Fresh(_)
    ));
    let stale = cache.lookup(&key("www.example"), t0 + Duration::from_secs(159));
    let Lookup::Stale(message) = stale else {
        panic!("{stale:?}")
    };
    assert_eq!(message.answers[0].ttl, STALE_TTL);
    assert_eq!(cache.len(), 1);
    let gone = t0 + Duration::from_secs(160);
    assert!(matches!(
        cache.lookup(&key("www.example"), gone),
        Lookup::Absent
    ));
    assert_eq!(cache.len(), 0, "looked up past its window, it is removed");
    assert_eq!(cache.stats.hits.load(Ordering::Relaxed), 1);
    assert_eq!(cache.stats.misses.load(Ordering::Relaxed), 2);
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
