use super::*;
use crate::wire::tsig::{Tsig, read, scan};

fn tsig_key(algorithm: TsigAlgorithm, secret: &[u8]) -> TsigKey {
    TsigKey {
        name: DomainName::parse("xfer.test").unwrap(),
        algorithm,
        secret: secret.to_vec(),
        line: 1,
    }
}

fn key(algorithm: TsigAlgorithm) -> Arc<SigningKey> {
    Arc::new(SigningKey::new(tsig_key(
        algorithm,
        b"0123456789abcdef0123456789abcdef",
    )))
}

/// A query for `zone` AXFR with id 0x1234, signed by `signer`'s key.
fn signed_query(signer_key: &Arc<SigningKey>, time: u64) -> Vec<u8> {
    let mut query = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    query.extend_from_slice(b"\x04zone\x04test\x00\x00\xfc\x00\x01");
    let mut signer = Signer::request(Arc::clone(signer_key), 0x1234);
    signer.sign(&mut query, time, 0, &[]);
    query
}

#[test]
fn a_query_we_sign_verifies_and_a_changed_byte_or_key_does_not() {
    for algorithm in TsigAlgorithm::ALL {
        let key = key(algorithm);
        let query = signed_query(&key, 1_000_000);
        let Some(Tsig::Last(at)) = scan(&query) else {
            panic!("a TSIG last");
        };
        let record = read(&query, at).unwrap();
        assert_eq!(record.original_id, 0x1234);
        assert_eq!(record.key, b"\x04xfer\x04test\x00");
        let keys = [Arc::clone(&key)];
        assert!(
            matches!(
                verify(&query, &record, &keys, 1_000_100),
                Verdict::Signed(_)
            ),
            "{algorithm:?}"
        );
        let late = verify(&query, &record, &keys, 1_000_400);
        assert!(matches!(
            late,
            Verdict::Failed {
                error: BADTIME,
                signer: Some(_)
            }
        ));
        let mut tampered = query.clone();
        tampered[15] ^= 1;
        let record = read(&tampered, at).unwrap();
        assert!(matches!(
            verify(&tampered, &record, &keys, 1_000_000),
            Verdict::Failed { error: BADSIG, .. }
        ));
        let other = Arc::new(SigningKey::new(tsig_key(algorithm, b"another")));
        let record = read(&query, at).unwrap();
        assert!(matches!(
            verify(&query, &record, &[other], 1_000_000),
            Verdict::Failed { error: BADSIG, .. }
        ));
        assert!(matches!(
            verify(&query, &record, &[], 1_000_000),
            Verdict::Failed { error: BADKEY, .. }
        ));
    }
}

#[test]
fn the_hmac_is_rfc_4231s() {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    let key = TsigKey {
        name: DomainName::parse("k").unwrap(),
        algorithm: TsigAlgorithm::HmacSha256,
        secret: b"Jefe".to_vec(),
        line: 1,
    };
    let mac = compute(&key, &[b"what do ya want ", b"for nothing?"]);
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn later_messages_chain_from_the_one_before() {
    let key = key(TsigAlgorithm::HmacSha256);
    let query = signed_query(&key, 5);
    let Some(Tsig::Last(at)) = scan(&query) else {
        panic!("a TSIG last");
    };
    let Verdict::Signed(mut signer) =
        verify(&query, &read(&query, at).unwrap(), &[Arc::clone(&key)], 5)
    else {
        panic!("verified");
    };
    let message = vec![0x12, 0x34, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    let (mut first, mut second) = (message.clone(), message.clone());
    signer.sign(&mut first, 5, 0, &[]);
    signer.sign(&mut second, 5, 0, &[]);
    assert_eq!(
        u16::from_be_bytes([first[10], first[11]]),
        1,
        "ARCOUNT counts the TSIG"
    );
    // The second MAC covers the first's: the same message signs differently.
    assert_ne!(first, second);
    let first_mac = read(&first, 12).unwrap().mac;
    let mut prior = 32u16.to_be_bytes().to_vec();
    prior.extend_from_slice(&first_mac);
    let timers = [&time_bytes(5)[..], &FUDGE.to_be_bytes()].concat();
    let expected = compute(&key.key, &[&prior, &message, &timers]);
    assert_eq!(read(&second, 12).unwrap().mac, expected);
}
