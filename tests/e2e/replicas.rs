//! Replicas of one primary: with `server.serial` declared, replicas
//! reading one file give every zone the same SOA serial whatever they
//! served before, so a BIND or Knot secondary can list all of them.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::client::{self, a_records};
use crate::harness::{self, TestServer};
use crate::peer::{self, Peer, installed};
use crate::{FAB1, base_config};

const ZONES: [&str; 4] = [
    "privatelink.blob.core.windows.net",
    "privatelink.queue.core.windows.net",
    "privatelink.we.backup.windowsazure.com",
    "privatelink.vaultcore.azure.net",
];
const DEEP: &str = "app.deep.privatelink.blob.core.windows.net.";

/// `base_config` (offline) with transfers to loopback, NOTIFY to
/// `secondary_port` if any, and the declared serial.
fn config(serial: u32, secondary_port: Option<u16>) -> String {
    let notify = secondary_port.map_or(String::new(), |port| {
        format!("\nnotify = [\"127.0.0.1:{port}\"]")
    });
    base_config(&[]).replace(
        "[server]",
        &format!("[server]\nserial = {serial}\nallow_transfer = [\"127.0.0.1\"]{notify}"),
    )
}

/// A second server on `first`'s file, as two pods mount one ConfigMap.
fn replica_of(first: &TestServer) -> TestServer {
    let mut command = Command::new(harness::binary());
    command
        .arg("serve")
        .arg("--config")
        .arg(first.config())
        .args(["--listen", "127.0.0.1:0"]);
    TestServer::spawn(
        &mut command,
        tempfile::tempdir().unwrap(),
        first.config().to_path_buf(),
    )
}

/// Replaces the file as an editor or the kubelet does (rename over it) and
/// waits until each server has handled it (one more `outcome` line).
fn rewrite(servers: &[&TestServer], text: &str, outcome: &str) {
    let Some(first) = servers.first() else {
        return;
    };
    let before: Vec<usize> = servers.iter().map(|s| s.log_count(outcome)).collect();
    let staged = first.config().with_extension("new");
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, first.config()).unwrap();
    for (server, before) in servers.iter().zip(before) {
        server.wait_for_log_count(outcome, before + 1, Duration::from_secs(5));
    }
}

fn serial(server: SocketAddr, zone: &str) -> u32 {
    let answer = client::udp(server, &client::query(&format!("{zone}."), RecordType::SOA));
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    client::soa_serial(&answer)
}

fn serials(server: &TestServer) -> Vec<u32> {
    ZONES.iter().map(|zone| serial(server.addr, zone)).collect()
}

fn deep(server: SocketAddr) -> Vec<String> {
    a_records(&client::udp(server, &client::query(DEEP, RecordType::A)))
}

#[test]
fn replicas_started_at_different_times_give_the_declared_serial() {
    let first = TestServer::start(&config(2_026_120_501, None));
    assert_eq!(serials(&first), [2_026_120_501; 4]);
    // The first serves an edit before the second starts: clock-based
    // serials would now differ between them.
    let edited = config(2_026_120_502, None).replace("10.10.0.32", "10.10.0.33");
    rewrite(&[&first], &edited, "mapping reloaded");
    let second = replica_of(&first);
    assert_eq!(serials(&first), [2_026_120_502; 4]);
    assert_eq!(serials(&second), serials(&first));
    assert_eq!(deep(second.addr), ["10.10.0.33"]);

    // Both reload the next edit to the same serial.
    let edited = config(2_026_120_503, None).replace("10.10.0.32", "10.10.0.34");
    rewrite(&[&first, &second], &edited, "mapping reloaded");
    assert_eq!(serials(&first), [2_026_120_503; 4]);
    assert_eq!(serials(&second), serials(&first));

    // A serial lower than the one in service is refused, with the file
    // and line, and the last good mapping stays.
    let lowered = config(2_026_120_500, None).replace("10.10.0.32", "10.10.0.35");
    rewrite(&[&first, &second], &lowered, "reload failed");
    for server in [&first, &second] {
        let error = server.wait_for_log("reload refused", Duration::from_secs(1));
        assert!(
            error.contains(&format!(
                "{}:3: server.serial: 2026120500 is older than serial 2026120503",
                server.config().display()
            )),
            "{error}"
        );
        assert_eq!(deep(server.addr), ["10.10.0.34"]);
        assert_eq!(serials(server), [2_026_120_503; 4]);
    }

    // An edit under an unchanged serial is served, with a warning that
    // secondaries will not see it.
    let same = config(2_026_120_503, None).replace("10.10.0.32", "10.10.0.36");
    rewrite(&[&first, &second], &same, "mapping reloaded");
    for server in [&first, &second] {
        assert_eq!(deep(server.addr), ["10.10.0.36"]);
        let warning = server.wait_for_log("server.serial did not", Duration::from_secs(1));
        assert!(
            warning.contains("privatelink.blob.core.windows.net") && warning.contains("line=3"),
            "{warning}"
        );
    }
}

/// Two replicas notify `secondary`, which lists both as primaries; after
/// an edit it answers the new address with the serial both serve.
fn secondary_of_both(start: impl FnOnce(u16, &[SocketAddr]) -> Peer) {
    let port = peer::free_port();
    let first = TestServer::start(&config(2_026_120_501, Some(port)));
    let second = replica_of(&first);
    let secondary = start(port, &[first.addr, second.addr]);
    let before = secondary.ask_until(DEEP, RecordType::A, Duration::from_secs(20), |m| {
        a_records(m) == ["10.10.0.32"]
    });
    assert!(before.metadata.authoritative, "{before}");

    let edited = config(2_026_120_502, Some(port)).replace("10.10.0.32", "10.10.0.37");
    rewrite(&[&first, &second], &edited, "mapping reloaded");
    secondary.ask_until(DEEP, RecordType::A, Duration::from_secs(20), |m| {
        a_records(m) == ["10.10.0.37"]
    });
    for zone in ZONES {
        // Each zone is notified and transferred on its own: wait for each.
        let soa = secondary.ask_until(
            &format!("{zone}."),
            RecordType::SOA,
            Duration::from_secs(20),
            |m| client::soa_serial(m) == 2_026_120_502,
        );
        let theirs = client::soa_serial(&soa);
        assert_eq!(theirs, serial(first.addr, zone));
        assert_eq!(theirs, serial(second.addr, zone));
    }
    let unchanged = secondary.ask(FAB1, RecordType::A);
    assert_eq!(a_records(&unchanged), ["10.10.0.4"]);
    let log = secondary.log_text();
    assert!(!log.to_lowercase().contains("serial is lower"), "{log}");
}

#[test]
fn a_knot_secondary_listing_two_replicas_follows_both() {
    if installed("knotd", "knot") {
        secondary_of_both(|port, primaries| {
            peer::knot_secondary_of(port, primaries, &ZONES, "127.0.0.1")
        });
    }
}

#[test]
fn a_bind_secondary_listing_two_replicas_follows_both() {
    if installed("named", "bind9") {
        secondary_of_both(|port, primaries| {
            peer::bind_secondary_of(port, primaries, &ZONES, "127.0.0.1")
        });
    }
}
