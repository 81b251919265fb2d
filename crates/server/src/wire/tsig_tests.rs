use super::*;

fn name(text: &str) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in text.split('.').filter(|l| !l.is_empty()) {
        wire.push(u8::try_from(label.len()).unwrap());
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    wire
}

fn tsig_record() -> Vec<u8> {
    let mut rdata = name("hmac-sha256.");
    rdata.extend_from_slice(&[0, 0, 0x69, 0x30, 0x9A, 0x00]); // time signed
    rdata.extend_from_slice(&300u16.to_be_bytes()); // fudge
    rdata.extend_from_slice(&32u16.to_be_bytes());
    rdata.extend_from_slice(&[0x11; 32]);
    rdata.extend_from_slice(&0x4242u16.to_be_bytes()); // original id
    rdata.extend_from_slice(&[0, 0, 0, 0]);
    let mut record = name("nokey.example.");
    record.extend_from_slice(&TYPE_TSIG.to_be_bytes());
    record.extend_from_slice(&CLASS_ANY.to_be_bytes());
    record.extend_from_slice(&0u32.to_be_bytes());
    record.extend_from_slice(&u16::try_from(rdata.len()).unwrap().to_be_bytes());
    record.extend_from_slice(&rdata);
    record
}

const OPT: [u8; 11] = [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0];

fn query(additionals: &[&[u8]]) -> Vec<u8> {
    let mut wire = vec![0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0];
    wire.push(u8::try_from(additionals.len()).unwrap());
    wire.extend_from_slice(&name("a.privatelink.blob.core.windows.net."));
    wire.extend_from_slice(&[0, 1, 0, 1]);
    for record in additionals {
        wire.extend_from_slice(record);
    }
    wire
}

#[test]
fn a_tsig_is_found_last_and_refused_elsewhere_or_twice() {
    let tsig = tsig_record();
    let at = query(&[]).len();
    assert_eq!(scan(&query(&[])), Some(Tsig::Absent));
    assert_eq!(scan(&query(&[&OPT])), Some(Tsig::Absent));
    assert_eq!(scan(&query(&[&tsig])), Some(Tsig::Last(at)));
    assert_eq!(
        scan(&query(&[&OPT, &tsig])),
        Some(Tsig::Last(at + OPT.len()))
    );
    assert_eq!(scan(&query(&[&tsig, &OPT])), Some(Tsig::Misplaced));
    assert_eq!(scan(&query(&[&tsig, &tsig])), Some(Tsig::Misplaced));
    // Cut short: the decoder decides.
    let whole = query(&[&tsig]);
    assert_eq!(scan(&whole[..whole.len() - 3]), None);
}

#[test]
fn an_unknown_key_gets_notauth_with_an_unsigned_badkey_tsig() {
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::RecordType;
    let wire = query(&[&OPT, &tsig_record()]);
    let Some(Tsig::Last(at)) = scan(&wire) else {
        panic!("no TSIG");
    };
    let edns = ClientEdns::plain(Some((1232, false)));
    let mut out = Vec::new();
    write_unsigned_error(
        &mut out,
        &wire,
        &read(&wire, at).expect("read"),
        &edns,
        BADKEY,
    )
    .expect("written");
    let message = Message::from_vec(&out).expect("decodes");
    assert_eq!(message.metadata.id, 0x4242);
    assert_eq!(message.metadata.response_code, ResponseCode::NotAuth);
    assert_eq!(message.queries.len(), 1);
    assert!(message.edns.is_some());
    let tsig = message.additionals.last().expect("a TSIG");
    assert_eq!(tsig.record_type(), RecordType::TSIG);
    assert_eq!(tsig.name.to_ascii(), "nokey.example.");
    // The TSIG is last, and its rdata: algorithm, time, fudge, MAC size 0,
    // original id, error BADKEY, no other data.
    let rdata_start = out.len() - (name("hmac-sha256.").len() + 16);
    assert_eq!(
        &out[rdata_start..rdata_start + 13],
        &name("hmac-sha256.")[..]
    );
    let fixed = &out[rdata_start + 13..];
    assert_eq!(
        fixed,
        [
            0, 0, 0x69, 0x30, 0x9A, 0x00, 1, 44, 0, 0, 0x42, 0x42, 0, 17, 0, 0
        ]
    );
}

#[test]
fn a_compressed_key_name_is_written_out_in_full() {
    // The key name is a pointer to the question's "core.windows.net".
    let mut tsig = vec![0xC0, 12 + 19];
    tsig.extend_from_slice(&tsig_record()[name("nokey.example.").len()..]);
    let wire = query(&[&tsig]);
    let Some(Tsig::Last(at)) = scan(&wire) else {
        panic!("no TSIG");
    };
    let mut out = Vec::new();
    write_unsigned_error(
        &mut out,
        &wire,
        &read(&wire, at).expect("read"),
        &ClientEdns::plain(None),
        BADKEY,
    )
    .expect("written");
    let message = hickory_proto::op::Message::from_vec(&out).expect("decodes");
    assert_eq!(message.additionals[0].name.to_ascii(), "core.windows.net.");
    assert!(message.edns.is_none());
}
