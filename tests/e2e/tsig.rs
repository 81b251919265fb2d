//! TSIG (RFC 8945) for transfers and NOTIFY: `dig -y` with the key, without
//! it, with a wrong secret or an unknown key; BIND and Knot secondaries that
//! transfer with the key and accept only signed NOTIFY.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::client::{self, TcpClient, a_records};
use crate::harness::TestServer;
use crate::peer::{self, Peer, installed};

const KEY: &str = "xfer.privatelink-dns";
/// 32 bytes, base64: what `tsig-keygen` makes for hmac-sha256.
const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ=";
const ZONE: &str = "privatelink.blob.core.windows.net";
const NAME: &str = "a.privatelink.blob.core.windows.net.";

/// 127.0.0.1 may transfer only with the key; 127.0.0.2 without one.
fn config(notify_port: Option<u16>) -> String {
    let notify = notify_port.map_or(String::new(), |port| {
        format!("notify = [\"127.0.0.1:{port}\"]")
    });
    format!(
        r#"
[server]
allow_transfer = [{{ network = "127.0.0.1/32", key = "{KEY}" }}, "127.0.0.2/32"]
{notify}

[[tsig_key]]
name = "{KEY}"
algorithm = "hmac-sha256"
secret = "{SECRET}"

[forward]
upstreams = []

[records]
"a.privatelink.blob.core.windows.net" = "10.0.0.1"
"#
    )
}

fn dig(server: &TestServer, key: Option<&str>) -> String {
    let port = server.addr.port().to_string();
    let mut args = vec![
        "@127.0.0.1",
        "-p",
        &port,
        ZONE,
        "AXFR",
        "+nocmd",
        "+nostats",
    ];
    if let Some(key) = key {
        args.extend(["-y", key]);
    }
    let output = Command::new("dig").args(&args).output().expect("dig runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn dig_transfers_with_the_key_and_is_refused_without_it_or_with_a_wrong_one() {
    if !installed("dig", "bind9-dnsutils") {
        return;
    }
    let server = TestServer::start(&config(None));
    let good = format!("hmac-sha256:{KEY}:{SECRET}");
    let signed = dig(&server, Some(&good));
    // dig checks our signature on each message; a bad one fails the transfer.
    let records: Vec<&str> = signed.lines().filter(|l| l.contains("\tIN")).collect();
    assert_eq!(records.len(), 4, "SOA, NS, A, SOA:\n{signed}");
    // The last message carries our TSIG, which dig verified.
    assert!(
        signed.contains(&format!("{KEY}.\t0\tANY\tTSIG\thmac-sha256.")),
        "{signed}"
    );
    assert!(
        !signed.contains("failed") && !signed.contains("verify"),
        "{signed}"
    );
    server.wait_for_log("zone transferred", Duration::from_secs(5));

    // Unsigned, from the client that must sign: REFUSED, and logged.
    let mut connection = TcpClient::connect(server.addr);
    let unsigned = connection.ask(&client::query_no_edns(
        &format!("{ZONE}."),
        RecordType::AXFR,
    ));
    assert_eq!(unsigned.metadata.response_code, ResponseCode::Refused);
    let refused = server.wait_for_log("zone transfer refused", Duration::from_secs(5));
    assert!(
        refused.contains("must sign with its TSIG key") && refused.contains(KEY),
        "{refused}"
    );
    // The client allowed without a key still transfers unsigned.
    let mut keyless = TcpClient::connect_from("127.0.0.2", server.addr);
    let axfr = keyless.ask(&client::query_no_edns(
        &format!("{ZONE}."),
        RecordType::AXFR,
    ));
    assert_eq!(
        (axfr.metadata.response_code, axfr.answers.len()),
        (ResponseCode::NoError, 4)
    );

    // A wrong secret, then a key the server does not have: NOTAUTH, logged.
    let wrong = dig(
        &server,
        Some(&format!("hmac-sha256:{KEY}:d3JvbmctYnV0LWJhc2U2NA==")),
    );
    assert!(!wrong.contains("IN A\t"), "{wrong}");
    let badsig = server.wait_for_log("TSIG check failed", Duration::from_secs(5));
    assert!(
        badsig.contains("error=\"BADSIG\"") && badsig.contains(KEY),
        "{badsig}"
    );
    let unknown = dig(&server, Some(&format!("hmac-sha256:other.key:{SECRET}")));
    assert!(!unknown.contains("IN A\t"), "{unknown}");
    let badkey = server.wait_for_log_count("TSIG check failed", 2, Duration::from_secs(5));
    assert!(
        badkey.contains("error=\"BADKEY\"") && badkey.contains("other.key"),
        "{badkey}"
    );
}

/// A secondary that transfers with the key and takes NOTIFY only signed
/// with it: it answers the zone, then an edit within seconds (the NOTIFY
/// got through), the second time by IXFR.
fn keyed_secondary_follows(start: impl FnOnce(u16, SocketAddr) -> Peer) {
    let port = peer::free_port();
    let text = config(Some(port));
    let server = TestServer::start(&text);
    let secondary = start(port, server.addr);
    let wait = Duration::from_secs(20);
    secondary.ask_until(NAME, RecordType::A, wait, |m| a_records(m) == ["10.0.0.1"]);
    std::fs::write(server.config(), text.replace("10.0.0.1", "10.0.0.7")).unwrap();
    server.signal("HUP");
    let answer = secondary.ask_until(NAME, RecordType::A, wait, |m| a_records(m) == ["10.0.0.7"]);
    assert!(answer.metadata.authoritative);
    let log = server.log().join("\n");
    assert!(log.contains("style=\"IXFR\""), "{log}");
    assert!(
        !log.contains("TSIG check failed") && !log.contains("transfer refused"),
        "{log}"
    );
}

#[test]
fn a_bind_secondary_transfers_with_the_key_and_accepts_our_signed_notify() {
    if !installed("named", "bind9") {
        return;
    }
    keyed_secondary_follows(|port, primary| {
        let (ip, primary_port) = (primary.ip(), primary.port());
        let rest = format!(
            r#"key "{KEY}" {{ algorithm hmac-sha256; secret "{SECRET}"; }};
server {ip} {{ keys {{ {KEY}; }}; }};
zone "{ZONE}" {{
    type secondary; file "zone.db";
    primaries {{ {ip} port {primary_port} key {KEY}; }};
    allow-notify {{ key {KEY}; }};
}};
"#
        );
        peer::named(port, ZONE, "", &rest)
    });
}

#[test]
fn a_knot_secondary_transfers_with_the_key_and_accepts_our_signed_notify() {
    if !installed("knotd", "knot") {
        return;
    }
    keyed_secondary_follows(|port, primary| {
        peer::knot(port, ZONE, |dir| {
            format!(
                r#"key:
  - id: {KEY}
    algorithm: hmac-sha256
    secret: {SECRET}
remote:
  - id: primary
    address: {ip}@{primary_port}
    key: {KEY}
acl:
  - id: signed_notify
    address: {ip}
    key: {KEY}
    action: notify
{template}zone:
  - domain: {ZONE}
    master: primary
    acl: signed_notify
"#,
                ip = primary.ip(),
                primary_port = primary.port(),
                template = peer::knot_default_template(dir),
            )
        })
    });
}

#[test]
fn key_files_from_tsig_keygen_and_keymgr_are_read() {
    let makers: [(&str, &str, &[&str]); 2] = [
        ("tsig-keygen", "bind9-utils", &["-a", "hmac-sha256", KEY]),
        ("keymgr", "knot", &["-t", KEY]),
    ];
    for (program, package, args) in makers {
        if !installed(program, package) {
            continue;
        }
        let key_file = crate::harness::output_of(Command::new(program).args(args));
        let (_dir, key_path) = crate::harness::temp_file("xfer.key", &key_file);
        let text = config(None).replace(
            &format!("secret = \"{SECRET}\""),
            &format!("secret_file = \"{}\"", key_path.display()),
        );
        let (_config_dir, path) = crate::harness::temp_file("privatelink-dns.toml", &text);
        let (code, out, err) =
            crate::harness::run(&["check", "--config", &path.display().to_string()]);
        assert_eq!(code, 0, "{program}: {out}{err}");
    }
}

/// A secondary configured without the key cannot transfer: the server
/// refuses it and says which key it must use, and the secondary has no zone.
fn unkeyed_secondary_is_refused(start: impl FnOnce(u16, SocketAddr) -> Peer) {
    let port = peer::free_port();
    let server = TestServer::start(&config(Some(port)));
    let secondary = start(port, server.addr);
    let refused = server.wait_for_log("zone transfer refused", Duration::from_secs(20));
    assert!(
        refused.contains("must sign with its TSIG key") && refused.contains(KEY),
        "{refused}"
    );
    let answer = secondary.ask(NAME, RecordType::A);
    assert!(a_records(&answer).is_empty(), "{answer}");
    assert!(
        !server
            .log()
            .iter()
            .any(|line| line.contains("zone transferred"))
    );
}

#[test]
fn bind_and_knot_secondaries_without_the_key_are_refused() {
    if installed("named", "bind9") {
        unkeyed_secondary_is_refused(|port, primary| peer::bind_secondary(port, primary, &[ZONE]));
    }
    if installed("knotd", "knot") {
        unkeyed_secondary_is_refused(|port, primary| peer::knot_secondary(port, primary, &[ZONE]));
    }
}

#[test]
fn check_says_who_may_transfer_and_with_which_key() {
    let (_dir, path) = crate::harness::temp_file("privatelink-dns.toml", &config(Some(5300)));
    let (code, out, err) = crate::harness::run(&["check", "--config", &path.display().to_string()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "transfers: to 127.0.0.1/32 (TSIG key {KEY}), 127.0.0.2/32; NOTIFY to 1 secondary(ies)"
        )),
        "{out}"
    );
}

#[test]
fn a_signed_udp_answer_that_the_tsig_would_push_past_512_bytes_is_truncated_and_signed() {
    if !installed("dig", "bind9-dnsutils") {
        return;
    }
    // 26 addresses: 469 bytes unsigned, past 512 with a TSIG.
    let many: Vec<String> = (1..=26).map(|i| format!("\"10.0.1.{i}\"")).collect();
    let text = config(None).replace(
        "\"a.privatelink.blob.core.windows.net\" = \"10.0.0.1\"",
        &format!(
            "\"a.privatelink.blob.core.windows.net\" = [{}]",
            many.join(", ")
        ),
    );
    let server = TestServer::start(&text);
    let (size, plain) = client::udp_sized(server.addr, &client::query_no_edns(NAME, RecordType::A));
    assert!(
        !plain.metadata.truncation && plain.answers.len() == 26 && size <= 512,
        "{size}"
    );
    let port = server.addr.port().to_string();
    let key = format!("hmac-sha256:{KEY}:{SECRET}");
    let args = [
        "@127.0.0.1",
        "-p",
        &port,
        NAME,
        "A",
        "+noedns",
        "+ignore",
        "-y",
        &key,
    ];
    let out = peer::run_client("dig", &args);
    assert!(out.contains("flags: qr aa tc"), "{out}");
    assert!(out.contains("TSIG") && !out.contains("verify"), "{out}");
    // Without +ignore dig retries over TCP and gets all of it, signed.
    let args = ["@127.0.0.1", "-p", &port, NAME, "A", "+noedns", "-y", &key];
    let out = peer::run_client("dig", &args);
    assert_eq!(out.matches("IN A\t").count(), 26, "{out}");
}

#[test]
fn an_independent_client_verifies_our_signed_answer_and_gets_badtime_when_its_clock_is_off() {
    if !peer::on_path("python3") {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let server = TestServer::start(&config(None));
    let script = crate::harness::repo().join("tests/data/tsig_client.py");
    let ask = |skew: &str| {
        let port = server.addr.port().to_string();
        crate::harness::output_of(
            Command::new("python3")
                .arg(&script)
                .args([&port, ZONE, KEY, SECRET, skew]),
        )
    };
    // In time: NOERROR, no TSIG error, our MAC checks out with Python's HMAC.
    assert_eq!(ask("0").trim(), "0 0 0 verified");
    // Twenty minutes off: NOTAUTH, BADTIME (18) with our time (6 bytes), signed.
    assert_eq!(ask("-1200").trim(), "9 18 6 verified");
    let logged = server.wait_for_log("TSIG check failed", Duration::from_secs(5));
    assert!(logged.contains("error=\"BADTIME\""), "{logged}");
}
