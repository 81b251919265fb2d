//! Keeping only what an upstream answer may legitimately say about the
//! question: the records of its CNAME chain, and the negative-answer proof
//! from the zones above the chain's end. Everything else (records about
//! unrelated names, additional-section data) is dropped before the answer
//! is cached or relayed, so an upstream cannot plant records for names the
//! client did not ask about.

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RData, RecordType};

use super::MAX_TTL;

/// The longest CNAME chain followed; Azure's resolver stops at about 8.
pub(crate) const MAX_CHAIN: usize = 16;

/// The names of the CNAME chain starting at `qname`, in order, as far as
/// the answer section spells it (loops stop the walk).
pub(crate) fn chain(qname: &Name, message: &Message) -> Vec<Name> {
    let mut names = vec![qname.clone()];
    while names.len() <= MAX_CHAIN {
        let Some(current) = names.last() else { break };
        let target = message
            .answers
            .iter()
            .find_map(|record| match &record.data {
                RData::CNAME(target) if record.name == *current => Some(target.0.clone()),
                _ => None,
            });
        match target {
            Some(target) if !names.contains(&target) => names.push(target),
            _ => break,
        }
    }
    names
}

/// Drops answer records outside the chain or of a type that does not
/// answer `qtype` (an A question answered with A and TXT keeps the A),
/// authority records that are not zone data (SOA, NS, DNSSEC proofs) of a
/// zone at or above the chain's end, and the whole additional section; then
/// clamps every TTL (RFC 2181 §8: above 2^31 − 1 means 0; at most a day).
pub(crate) fn sanitize(qname: &Name, qtype: RecordType, message: &mut Message) {
    let names = chain(qname, message);
    message.answers.retain(|record| {
        let rtype = record.record_type();
        names.contains(&record.name)
            && (rtype == qtype
                || qtype == RecordType::ANY
                || rtype == RecordType::CNAME
                || rtype == RecordType::RRSIG)
    });
    let last = names.last().cloned().unwrap_or_else(|| qname.clone());
    message.authorities.retain(|record| {
        matches!(
            record.record_type(),
            RecordType::SOA
                | RecordType::NS
                | RecordType::NSEC
                | RecordType::NSEC3
                | RecordType::RRSIG
                | RecordType::DS
        ) && record.name.zone_of(&last)
    });
    message.additionals.clear();
    for record in message.answers.iter_mut().chain(&mut message.authorities) {
        record.ttl = clamped_ttl(record.ttl);
    }
    negative_soa_ttls(message);
}

/// RFC 2181 §8: a TTL with the top bit set is treated as zero; and no
/// upstream answer is kept or relayed for longer than [`MAX_TTL`].
pub(crate) fn clamped_ttl(ttl: u32) -> u32 {
    if ttl > i32::MAX.unsigned_abs() {
        0
    } else {
        ttl.min(MAX_TTL)
    }
}

/// In a negative answer (NXDOMAIN, or NOERROR without the data asked for),
/// the SOA's TTL is how long the answer may be cached: min(its TTL, its
/// MINIMUM) (RFC 2308 §3, §5). Set so here, a fresh answer says what the
/// same answer from the cache says (the cache keeps it that long).
fn negative_soa_ttls(message: &mut Message) {
    let negative = match message.metadata.response_code {
        hickory_proto::op::ResponseCode::NXDomain => true,
        hickory_proto::op::ResponseCode::NoError => message
            .answers
            .iter()
            .all(|record| record.record_type() == RecordType::CNAME),
        _ => false,
    };
    if !negative {
        return;
    }
    for record in &mut message.authorities {
        if let RData::SOA(soa) = &record.data {
            record.ttl = record.ttl.min(soa.minimum);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::{MessageType, OpCode};
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{A, CNAME, NS, SOA};

    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn cname(owner: &str, target: &str) -> Record {
        Record::from_rdata(name(owner), 60, RData::CNAME(CNAME(name(target))))
    }

    fn a(owner: &str, ip: [u8; 4]) -> Record {
        Record::from_rdata(name(owner), 60, RData::A(A(Ipv4Addr::from(ip))))
    }

    fn soa(owner: &str) -> Record {
        let soa = SOA::new(name("ns.example."), name("h.example."), 1, 1, 1, 1, 60);
        Record::from_rdata(name(owner), 60, RData::SOA(soa))
    }

    fn message(
        answers: Vec<Record>,
        authorities: Vec<Record>,
        additionals: Vec<Record>,
    ) -> Message {
        let mut message = Message::new(1, MessageType::Response, OpCode::Query);
        message.answers = answers;
        message.authorities = authorities;
        message.additionals = additionals;
        message
    }

    /// The oracle fuzz target's find: a fresh NXDOMAIN relayed the SOA with
    /// TTL 300, the same answer from the cache with 60 (its MINIMUM).
    #[test]
    fn negative_answers_carry_the_soa_ttl_they_are_cached_for() {
        let long_soa = |ttl| {
            let data = SOA::new(name("ns.example."), name("h.example."), 1, 1, 1, 1, 60);
            Record::from_rdata(name("example."), ttl, RData::SOA(data))
        };
        let mut nxdomain = message(vec![], vec![long_soa(300)], vec![]);
        nxdomain.metadata.response_code = hickory_proto::op::ResponseCode::NXDomain;
        sanitize(&name("x.example."), RecordType::A, &mut nxdomain);
        assert_eq!(nxdomain.authorities[0].ttl, 60);
        let mut short = message(vec![], vec![long_soa(30)], vec![]);
        sanitize(&name("x.example."), RecordType::A, &mut short);
        assert_eq!(short.authorities[0].ttl, 30, "a shorter TTL stays");
        let mut positive = message(
            vec![a("x.example.", [192, 0, 2, 1])],
            vec![long_soa(300)],
            vec![],
        );
        sanitize(&name("x.example."), RecordType::A, &mut positive);
        assert_eq!(positive.authorities[0].ttl, 300, "only negative answers");
    }

    #[test]
    fn the_chain_is_followed_in_order_and_loops_stop() {
        let m = message(
            vec![
                cname("b.example.", "c.example."),
                cname("a.example.", "B.example."),
                a("c.example.", [192, 0, 2, 1]),
            ],
            vec![],
            vec![],
        );
        assert_eq!(
            chain(&name("A.example."), &m),
            [name("a.example."), name("b.example."), name("c.example.")]
        );
        let looped = message(
            vec![
                cname("a.example.", "b.example."),
                cname("b.example.", "a.example."),
            ],
            vec![],
            vec![],
        );
        assert_eq!(chain(&name("a.example."), &looped).len(), 2);
    }

    #[test]
    fn records_about_other_names_are_dropped() {
        let mut m = message(
            vec![
                cname("www.example.", "edge.example.net."),
                a("edge.example.net.", [192, 0, 2, 1]),
                a("www.bank.example.", [6, 6, 6, 6]),
            ],
            vec![
                Record::from_rdata(
                    name("example.net."),
                    60,
                    RData::NS(NS(name("ns.example.net."))),
                ),
                Record::from_rdata(
                    name("bank.example."),
                    60,
                    RData::NS(NS(name("ns.evil.example."))),
                ),
                soa("other.example."),
            ],
            vec![a("ns.example.net.", [192, 0, 2, 53])],
        );
        sanitize(&name("www.example."), RecordType::A, &mut m);
        assert_eq!(m.answers.len(), 2);
        assert!(
            m.answers
                .iter()
                .all(|r| r.name != name("www.bank.example."))
        );
        assert_eq!(
            m.authorities.len(),
            1,
            "only the NS of a zone above the chain's end"
        );
        assert_eq!(m.authorities[0].name, name("example.net."));
        assert!(m.additionals.is_empty());
    }

    #[test]
    fn negative_answers_keep_their_soa() {
        let mut m = message(vec![], vec![soa("example.")], vec![]);
        sanitize(&name("nx.example."), RecordType::A, &mut m);
        assert_eq!(m.authorities.len(), 1);
    }

    #[test]
    fn records_of_another_type_at_the_chain_are_dropped() {
        let txt = Record::from_rdata(
            name("edge.example.net."),
            60,
            RData::TXT(hickory_proto::rr::rdata::TXT::new(vec!["planted".into()])),
        );
        let mut m = message(
            vec![
                cname("www.example.", "edge.example.net."),
                a("edge.example.net.", [192, 0, 2, 1]),
                txt,
            ],
            vec![],
            vec![],
        );
        sanitize(&name("www.example."), RecordType::A, &mut m);
        let kept: Vec<RecordType> = m.answers.iter().map(Record::record_type).collect();
        assert_eq!(kept, [RecordType::CNAME, RecordType::A]);
    }

    #[test]
    fn ttls_past_2_to_the_31_are_zero_and_the_rest_at_most_a_day() {
        assert_eq!(clamped_ttl(u32::MAX), 0);
        assert_eq!(clamped_ttl(1 << 31), 0);
        assert_eq!(clamped_ttl((1 << 31) - 1), MAX_TTL);
        assert_eq!(clamped_ttl(MAX_TTL + 1), MAX_TTL);
        assert_eq!(clamped_ttl(300), 300);
        let mut huge = a("www.example.", [192, 0, 2, 1]);
        huge.ttl = u32::MAX;
        let mut m = message(vec![huge], vec![], vec![]);
        sanitize(&name("www.example."), RecordType::A, &mut m);
        assert_eq!(m.answers[0].ttl, 0);
    }
}
