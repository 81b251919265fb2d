//! systemd's service protocol: READY=1 once the sockets are served, then
//! watchdog pings, STOPPING=1 at shutdown, all on a NOTIFY_SOCKET the test
//! listens on (as systemd does for `Type=notify` and `WatchdogSec=`).

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::FAB1;
use crate::client::{self, a_records};
use crate::harness::{TestServer, binary};

/// The next datagram on `socket`, as text.
fn next(socket: &UnixDatagram) -> String {
    let mut buffer = [0u8; 4096];
    let size = socket.recv(&mut buffer).expect("a notify datagram in time");
    String::from_utf8_lossy(&buffer[..size]).into_owned()
}

#[test]
fn the_server_notifies_ready_then_pings_the_watchdog() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let config = dir.path().join("privatelink-dns.toml");
    std::fs::write(
        &config,
        std::fs::read_to_string(crate::harness::example_path()).unwrap(),
    )
    .unwrap();
    // systemd sets WATCHDOG_PID to the service's pid; `exec` keeps the
    // shell's pid for the server.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"WATCHDOG_PID=$$ exec "$0" serve --listen 127.0.0.1:0 --config "$1""#)
        .arg(binary())
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000");
    let mut server = TestServer::spawn(&mut command, dir, config);

    // READY=1 comes once the sockets answer, with a status line.
    let ready = next(&socket);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(
        ready.contains("STATUS=serving 13 name(s) on 127.0.0.1:"),
        "{ready:?}"
    );
    let response = client::udp(server.addr, &client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&response), ["10.10.0.4"]);

    // Watchdog pings at half of WATCHDOG_USEC: three within well under a second.
    let started = Instant::now();
    for _ in 0..3 {
        assert_eq!(next(&socket).trim(), "WATCHDOG=1");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "three pings took {took:?}");

    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
    let mut rest = Vec::new();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buffer = [0u8; 4096];
    while let Ok(size) = socket.recv(&mut buffer) {
        rest.push(String::from_utf8_lossy(&buffer[..size]).into_owned());
    }
    assert!(rest.iter().any(|m| m.trim() == "STOPPING=1"), "{rest:?}");
}

/// The unit the package installs passes `systemd-analyze verify` and scores
/// "OK" (at most 2.0 of 10) in `systemd-analyze security`.
#[test]
fn the_unit_verifies_and_is_hardened() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: needs systemd-analyze");
        return;
    }
    let unit = std::fs::read_to_string(format!(
        "{}/../../packaging/privatelink-dns.service",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=30s",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "SystemCallFilter=@system-service",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "{line} missing from the unit"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = service_for_this_build(dir.path(), &unit);
    assert_verifies(&path);
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let score: f64 = report
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for privatelink-dns.service: "))
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no score in\n{report}"));
    assert!(score <= 2.0, "exposure {score}\n{report}");
    eprintln!("systemd-analyze security: exposure {score}");
}

/// Socket activation: the server serves the UDP socket and TCP listener it
/// was handed (as systemd passes them: descriptors 3 and 4, LISTEN_FDS,
/// LISTEN_PID) and binds nothing itself; its own listen address here is
/// one it could not bind.
#[test]
fn the_server_serves_the_sockets_systemd_passes() {
    if !crate::peer::on_path("python3") {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("privatelink-dns.toml");
    // 192.0.2.1 is TEST-NET-1: no interface has it, binding it fails.
    let text = crate::base_config(&[]).replace("[server]", "[server]\nlisten = [\"192.0.2.1:53\"]");
    std::fs::write(&config, text).unwrap();
    let launcher = crate::harness::repo().join("tests/data/socket_activate.py");
    let mut command = Command::new("python3");
    command
        .arg(launcher)
        .arg("0")
        .arg(binary())
        .args(["serve", "--config"])
        .arg(&config);
    let server = TestServer::spawn(&mut command, dir, config.clone());
    server.wait_for_log("socket activation", Duration::from_secs(5));
    let udp = client::udp(server.addr, &client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&udp), ["10.10.0.4"]);
    let tcp = client::tcp(server.addr, &client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&tcp), ["10.10.0.4"]);
}

/// The socket unit the package installs passes `systemd-analyze verify`
/// and pairs each ListenDatagram with a ListenStream.
#[test]
fn the_socket_unit_verifies() {
    if !crate::peer::on_path("systemd-analyze") {
        eprintln!("skipped: needs systemd-analyze");
        return;
    }
    let packaging = crate::harness::repo().join("packaging");
    let socket =
        std::fs::read_to_string(packaging.join("optional/privatelink-dns.socket")).unwrap();
    let values = |key: &str| -> Vec<String> {
        socket
            .lines()
            .filter_map(|l| l.strip_prefix(key))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(values("ListenDatagram="), values("ListenStream="));
    // Its service beside it, as systemd would find it.
    let dir = tempfile::tempdir().unwrap();
    let service = std::fs::read_to_string(packaging.join("privatelink-dns.service")).unwrap();
    service_for_this_build(dir.path(), &service);
    let path = dir.path().join("privatelink-dns.socket");
    std::fs::write(&path, &socket).unwrap();
    assert_verifies(&path);
}

/// The service unit `unit`, written into `dir` with ExecStart pointing at
/// this build (verify checks that the binary exists).
fn service_for_this_build(dir: &std::path::Path, unit: &str) -> std::path::PathBuf {
    let path = dir.join("privatelink-dns.service");
    std::fs::write(&path, unit.replace("/usr/bin/privatelink-dns", binary())).unwrap();
    path
}

/// `systemd-analyze verify` passes on the unit at `path`. The manual page
/// is checked where the package installs it (tests/e2e/package.rs); here
/// it is not installed.
fn assert_verifies(path: &std::path::Path) {
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
