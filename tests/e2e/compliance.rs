//! ISC's EDNS compliance expectations (the checks of ednscomp / `genreport`),
//! asked of every served apex with hand-built packets: a plain query, EDNS
//! version 0 and 1, unknown options, the DO bit, unknown EDNS flags, the
//! header's Z bit, a list of common options, and EDNS over TCP. A compliant
//! server answers each with the zone SOA (or BADVERS), AA set, RD echoed,
//! no unknown option or flag echoed.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::base_config;
use crate::client;
use crate::harness::TestServer;

/// The served apexes of `base_config`.
const APEXES: [&str; 4] = [
    "privatelink.blob.core.windows.net.",
    "privatelink.queue.core.windows.net.",
    "privatelink.vaultcore.azure.net.",
    "privatelink.we.backup.windowsazure.com.",
];

const FLAG_RD: u16 = 0x0100;
const FLAG_Z: u16 = 0x0040;
const EDNS_DO: u16 = 0x8000;

/// An OPT record to put in a query.
#[derive(Clone, Default)]
struct Opt {
    version: u8,
    flags: u16,
    options: Vec<(u16, Vec<u8>)>,
}

/// A query for `name`'s SOA with the given header flags and OPT, as bytes.
fn packet(id: u16, name: &str, header_flags: u16, opt: Option<&Opt>) -> Vec<u8> {
    let mut wire = Vec::new();
    wire.extend_from_slice(&id.to_be_bytes());
    wire.extend_from_slice(&header_flags.to_be_bytes());
    wire.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(opt.is_some())]);
    for label in name.trim_end_matches('.').split('.') {
        wire.push(u8::try_from(label.len()).unwrap());
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    wire.extend_from_slice(&u16::from(RecordType::SOA).to_be_bytes());
    wire.extend_from_slice(&1u16.to_be_bytes());
    if let Some(opt) = opt {
        wire.push(0);
        wire.extend_from_slice(&41u16.to_be_bytes());
        wire.extend_from_slice(&4096u16.to_be_bytes());
        wire.extend_from_slice(&[0, opt.version]);
        wire.extend_from_slice(&opt.flags.to_be_bytes());
        let rdata: Vec<u8> = opt
            .options
            .iter()
            .flat_map(|(code, data)| {
                let mut option = code.to_be_bytes().to_vec();
                option.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
                option.extend_from_slice(data);
                option
            })
            .collect();
        wire.extend_from_slice(&u16::try_from(rdata.len()).unwrap().to_be_bytes());
        wire.extend_from_slice(&rdata);
    }
    wire
}

/// The OPT record at the end of a response: (version, flags, RDATA length).
/// Our responses carry no other additional record, so it is the last one.
fn response_opt(wire: &[u8]) -> Option<(u8, u16, u16)> {
    let additional = u16::from_be_bytes([wire[10], wire[11]]);
    if additional == 0 {
        return None;
    }
    let at = wire.len().checked_sub(11)?;
    let rr = &wire[at..];
    assert_eq!(rr[0], 0, "OPT owner is the root");
    assert_eq!(u16::from_be_bytes([rr[1], rr[2]]), 41, "last record is OPT");
    Some((
        rr[6],
        u16::from_be_bytes([rr[7], rr[8]]),
        u16::from_be_bytes([rr[9], rr[10]]),
    ))
}

fn header_flags(wire: &[u8]) -> u16 {
    u16::from_be_bytes([wire[2], wire[3]])
}

/// The checks every answer gets: same id, QR, AA, RD as asked, Z clear,
/// the apex SOA in the answer (unless BADVERS), rcode as expected.
#[track_caller]
fn assert_compliant(check: &str, query: &[u8], wire: &[u8], apex: &str, rcode: u16) -> Message {
    let message = Message::from_vec(wire).expect("decodes");
    assert_eq!(wire[..2], query[..2], "{check}: id");
    let flags = header_flags(wire);
    assert_ne!(flags & 0x8000, 0, "{check}: QR");
    assert_eq!(
        flags & FLAG_Z,
        0,
        "{check}: Z must be clear in the response"
    );
    assert_eq!(
        flags & FLAG_RD,
        header_flags(query) & FLAG_RD,
        "{check}: RD echoed: {message}"
    );
    let extended = u16::from(message.metadata.response_code);
    assert_eq!(extended, rcode, "{check}: rcode: {message}");
    if rcode == 0 {
        assert!(message.metadata.authoritative, "{check}: AA: {message}");
        let soa = message
            .answers
            .iter()
            .find(|r| r.record_type() == RecordType::SOA);
        let Some(soa) = soa else {
            panic!("{check}: no SOA at {apex}: {message}");
        };
        assert_eq!(soa.name.to_ascii(), apex);
        assert!(matches!(soa.data, RData::SOA(_)));
    } else {
        assert!(message.answers.is_empty(), "{check}: {message}");
    }
    message
}

#[test]
fn every_served_apex_passes_the_edns_compliance_checks() {
    let server = TestServer::start(&base_config(&[]));
    let unknown_option = (100u16, Vec::new());
    let common_options = vec![
        (3u16, Vec::new()),                             // NSID
        (8, vec![0, 1, 24, 0, 192, 0, 2]),              // ECS 192.0.2.0/24
        (9, Vec::new()),                                // EXPIRE
        (10, vec![0x01, 0x02, 0x03, 0x04, 5, 6, 7, 8]), // COOKIE (client)
    ];
    let mut id = 1000u16;
    for apex in APEXES {
        for rd in [FLAG_RD, 0] {
            let mut check = |name: &str, flags: u16, opt: Option<Opt>, tcp: bool, rcode: u16| {
                id += 1;
                let query = packet(id, apex, flags | rd, opt.as_ref());
                let wire = client::raw(server.addr, &query, tcp);
                let message = assert_compliant(name, &query, &wire, apex, rcode);
                (wire, message)
            };

            // dns: no EDNS, no OPT back.
            let (wire, _) = check("dns", 0, None, false, 0);
            assert_eq!(response_opt(&wire), None, "no OPT for a plain query");

            // edns: version 0 answered with version 0, nothing echoed.
            let (wire, message) = check("edns", 0, Some(Opt::default()), false, 0);
            assert_eq!(response_opt(&wire), Some((0, 0, 0)));
            assert_eq!(message.edns.as_ref().map(|e| e.max_payload()), Some(1232));

            // edns1: BADVERS, with our version, 0.
            let version_1 = Opt {
                version: 1,
                ..Opt::default()
            };
            let (wire, _) = check("edns1", 0, Some(version_1.clone()), false, 16);
            assert_eq!(response_opt(&wire).map(|o| o.0), Some(0));

            // ednsopt: an unknown option is ignored, not echoed.
            let with_option = Opt {
                options: vec![unknown_option.clone()],
                ..Opt::default()
            };
            let (wire, _) = check("ednsopt", 0, Some(with_option), false, 0);
            assert_eq!(response_opt(&wire), Some((0, 0, 0)));

            // edns1opt: BADVERS, the option not echoed.
            let version_1_option = Opt {
                options: vec![unknown_option.clone()],
                ..version_1
            };
            let (wire, _) = check("edns1opt", 0, Some(version_1_option), false, 16);
            assert_eq!(response_opt(&wire), Some((0, 0, 0)));

            // do: the DO bit copied back (RFC 3225).
            let dnssec_ok = Opt {
                flags: EDNS_DO,
                ..Opt::default()
            };
            let (wire, _) = check("do", 0, Some(dnssec_ok), false, 0);
            assert_eq!(response_opt(&wire), Some((0, EDNS_DO, 0)));

            // ednsflags: an undefined flag is ignored and not echoed.
            let odd_flag = Opt {
                flags: 0x0080,
                ..Opt::default()
            };
            let (wire, _) = check("ednsflags", 0, Some(odd_flag), false, 0);
            assert_eq!(response_opt(&wire), Some((0, 0, 0)));

            // optlist: common options this server does not implement.
            let many = Opt {
                options: common_options.clone(),
                ..Opt::default()
            };
            let (wire, _) = check("optlist", 0, Some(many), false, 0);
            assert_eq!(response_opt(&wire).map(|o| o.2), Some(0));

            // zflag: the header's Z bit is ignored and cleared.
            check("zflag", FLAG_Z, Some(Opt::default()), false, 0);

            // ednstcp: EDNS over TCP.
            let (wire, _) = check("ednstcp", 0, Some(Opt::default()), true, 0);
            assert_eq!(response_opt(&wire), Some((0, 0, 0)));
        }
    }
    // A mapped name answers with AA too, over both transports.
    let fab1 = client::query(crate::FAB1, RecordType::A);
    for response in [
        client::udp(server.addr, &fab1),
        client::tcp(server.addr, &fab1),
    ] {
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(response.metadata.authoritative);
    }
}

/// ISC genreport's FULL-set `opcode` and `opcodeflg` checks: a query with
/// any opcode but QUERY gets NOTIMP with the opcode and id echoed, RA, AA
/// and TC clear, and neither RD nor CD echoed, with and without EDNS, over
/// UDP and TCP, at every served apex.
#[test]
fn other_opcodes_get_notimp_with_ra_clear_and_nothing_echoed() {
    const FLAG_CD: u16 = 0x0010;
    const FLAG_AD: u16 = 0x0020;
    let server = TestServer::start(&base_config(&[]));
    let mut id = 4000u16;
    for apex in APEXES {
        for opcode in [1u16, 2, 3, 4, 5, 6, 15] {
            for flags in [0, FLAG_RD, FLAG_RD | FLAG_CD, FLAG_AD | FLAG_CD] {
                for (opt, tcp) in [(None, false), (Some(Opt::default()), false), (None, true)] {
                    id += 1;
                    let query = packet(id, apex, (opcode << 11) | flags, opt.as_ref());
                    let wire = client::raw(server.addr, &query, tcp);
                    let check = format!("opcode {opcode} flags {flags:#06x} tcp {tcp} at {apex}");
                    assert_eq!(wire[..2], query[..2], "{check}: id");
                    let response = header_flags(&wire);
                    assert_eq!(response & 0x0F, 4, "{check}: NOTIMP");
                    assert_eq!((response >> 11) & 0x0F, opcode, "{check}: opcode echoed");
                    assert_ne!(response & 0x8000, 0, "{check}: QR");
                    for (bit, name) in [
                        (0x0400, "AA"),
                        (0x0200, "TC"),
                        (FLAG_RD, "RD"),
                        (0x0080, "RA"),
                        (FLAG_Z, "Z"),
                        (FLAG_AD, "AD"),
                        (FLAG_CD, "CD"),
                    ] {
                        assert_eq!(response & bit, 0, "{check}: {name} must be clear");
                    }
                    let message = Message::from_vec(&wire).expect("decodes");
                    assert!(message.answers.is_empty() && message.authorities.is_empty());
                    assert_eq!(
                        response_opt(&wire).is_some(),
                        opt.is_some(),
                        "{check}: OPT back only for an OPT"
                    );
                }
            }
        }
    }
}
