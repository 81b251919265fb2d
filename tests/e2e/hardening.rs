//! Issue 18's hostile inputs, each a regression test: mapping paths that
//! are not files or are too large, and files that cannot be reported in
//! full.

use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;

use crate::client::{self, a_records};
use crate::harness::{TestServer, run, temp_file};
use crate::{FAB1, base_config};

const DEADLINE: Duration = Duration::from_secs(5);

fn fab1(server: &TestServer) -> Vec<String> {
    a_records(&client::udp(
        server.addr,
        &client::query(FAB1, RecordType::A),
    ))
}

/// The path replaced by `replace`, then SIGHUP: the reload is refused with
/// `reason`, promptly, and the last good mapping keeps answering.
fn refused_after(
    server: &TestServer,
    failures: usize,
    reason: &str,
    replace: impl FnOnce(&std::path::Path),
) {
    let config = server.config().to_path_buf();
    std::fs::remove_file(&config).expect("remove");
    replace(&config);
    let started = Instant::now();
    server.signal("HUP");
    let line = server.wait_for_log_count(
        "reload failed; keeping the last good mapping",
        failures,
        DEADLINE,
    );
    assert!(started.elapsed() < DEADLINE, "{line}");
    assert!(
        server
            .log()
            .iter()
            .any(|l| l.contains("cannot read the mapping file") && l.contains(reason)),
        "no {reason:?} in\n{}",
        server.log().join("\n")
    );
    assert_eq!(fab1(server), ["10.10.0.4"], "the last good mapping answers");
}

#[test]
fn a_device_a_fifo_or_a_huge_file_at_the_mapping_path_is_refused_at_once() {
    let mut server = TestServer::start(&base_config(&[]));
    assert_eq!(fab1(&server), ["10.10.0.4"]);
    // Was: 4 GB of RSS in 14 s reading /dev/zero, and no log line.
    refused_after(&server, 1, "not a regular file", |path| {
        std::os::unix::fs::symlink("/dev/zero", path).expect("symlink");
    });
    // Was: the mapping thread blocked in open() for good, every later reload ignored.
    refused_after(&server, 2, "not a regular file", |path| {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("mkfifo");
        assert!(status.success());
    });
    // Larger than the limit (sparse: no disk is written).
    refused_after(&server, 3, "larger than the 67108864-byte limit", |path| {
        let file = std::fs::File::create(path).expect("create");
        file.set_len(privatelink_mapping::MAX_FILE_BYTES + 1)
            .expect("set_len");
    });
    // A good file again: the reloads were never stuck.
    let config = server.config().to_path_buf();
    std::fs::remove_file(&config).expect("remove");
    std::fs::write(&config, base_config(&[]).replace("10.10.0.4", "10.10.9.9")).expect("write");
    server.signal("HUP");
    server.wait_for_log("mapping reloaded", DEADLINE);
    assert_eq!(fab1(&server), ["10.10.9.9"]);
    assert!(server.is_running());
}

#[test]
fn a_file_of_garbage_is_reported_in_at_most_two_hundred_lines() {
    // Was: 256,159 ERROR lines for one reload of a 200 MB random file.
    let garbage: String = (0..5000)
        .map(|i| format!("\"n{i}.privatelink.blob.core.windows.net\" = \"no-ip-{i}\"\n"))
        .collect();
    let (_dir, path) = temp_file("garbage.toml", &format!("[records]\n{garbage}"));
    let (code, report, _) = run(&["check", "--config", &path.display().to_string()]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("garbage.toml:"))
        .collect();
    // The diagnostics kept, the one that counts the rest, and the summary.
    assert_eq!(
        lines.len(),
        privatelink_mapping::MAX_DIAGNOSTICS + 2,
        "{report}"
    );
    assert!(
        lines.iter().any(
            |l| l.contains("4801 more problem(s) not shown (4801 error(s)), from this line on")
        ),
        "{report}"
    );
}

#[test]
fn upstream_ttls_are_clamped_as_rfc_2181_says() {
    use crate::fake_upstream::{FakeUpstream, Table};
    // Was: 4294967295 relayed as is, and 2^31 - 1 uncapped.
    let upstream = FakeUpstream::answering(
        Table::new()
            .a("top-bit.example.com.", "192.0.2.1", u32::MAX)
            .a("long.example.com.", "192.0.2.2", (1 << 31) - 1),
    );
    let server = TestServer::start(&base_config(&[upstream.addr]));
    let ttl = |name: &str| {
        let response = client::udp(server.addr, &client::query(name, RecordType::A));
        assert_eq!(a_records(&response).len(), 1, "{response:?}");
        response.answers[0].ttl
    };
    assert_eq!(ttl("top-bit.example.com."), 0);
    assert_eq!(ttl("long.example.com."), 86_400);
    // TTL 0 is not cached: asked again, the upstream is asked again.
    let before = upstream.udp_queries();
    assert_eq!(ttl("top-bit.example.com."), 0);
    assert_eq!(upstream.udp_queries(), before + 1);
}

/// User + system CPU seconds of `pid` so far.
fn cpu_seconds(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0
}

#[test]
fn out_of_file_descriptors_the_accept_loop_rests_and_says_so_once() {
    use std::net::TcpStream;
    if !crate::peer::installed("prlimit", "util-linux") {
        return;
    }
    // Was, with ulimit -n 64: the accept loops at 100-200 % CPU and 907,037
    // WARN lines in 5 s.
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("privatelink-dns.toml");
    std::fs::write(&config, base_config(&[])).expect("write");
    let mut command = std::process::Command::new("prlimit");
    command
        .arg("--nofile=64:64")
        .arg(crate::harness::binary())
        .args(["serve", "--config"])
        .arg(&config);
    let server = TestServer::spawn(&mut command, dir, config);
    let held: Vec<TcpStream> = (0..80)
        .filter_map(|_| TcpStream::connect(server.addr).ok())
        .collect();
    assert!(held.len() >= 64, "{} connections", held.len());
    server.wait_for_log("out of file descriptors or memory", DEADLINE);
    let before = cpu_seconds(server.pid());
    std::thread::sleep(Duration::from_secs(2)); // a measured interval, not a wait for an event
    let spent = cpu_seconds(server.pid()) - before;
    assert!(spent < 0.5, "{spent} s of CPU in 2 s while starved");
    assert_eq!(server.log_count("out of file descriptors or memory"), 1);
    assert!(server.log().len() < 100, "{} log lines", server.log().len());
    // UDP still answers; once the clients leave, TCP does again.
    assert_eq!(fab1(&server), ["10.10.0.4"]);
    drop(held);
    let response = client::tcp(server.addr, &client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&response), ["10.10.0.4"]);
    server.wait_for_log("accepting connections again", DEADLINE);
}

/// Issue 18, item 1: 1,024 clients that asked for a 200-address name and
/// never read took RSS to 1.32 GB, and the connections stayed. Each
/// connection's answers on their way out are now bounded in bytes, and the
/// server closes such a connection after `tcp_idle_timeout_s`.
#[test]
fn tcp_clients_that_never_read_cost_bounded_memory_and_are_closed() {
    use std::io::Write;
    const CLIENTS: usize = 300;
    let many: Vec<String> = (0..200).map(|i| format!("\"10.20.0.{}\"", i + 1)).collect();
    let config = base_config(&[]).replace(
        "[server]",
        "[server]\nhttp = \"127.0.0.1:0\"\ntcp_idle_timeout_s = 1",
    ) + &format!(
        "\"big.privatelink.blob.core.windows.net\" = [{}]\n",
        many.join(", ")
    );
    let server = TestServer::start(&config);
    let http = server.http_addr();
    let baseline = crate::harness::status_mb(server.pid(), "VmRSS");
    let wire = client::query("big.privatelink.blob.core.windows.net.", RecordType::A)
        .to_vec()
        .expect("encode");
    let mut framed = u16::try_from(wire.len())
        .expect("short")
        .to_be_bytes()
        .to_vec();
    framed.extend_from_slice(&wire);
    // 200 answers of 3.3 KB each per client, behind a 4 KB receive buffer.
    let burst = framed.repeat(200);
    let stuck: Vec<socket2::Socket> = (0..CLIENTS)
        .map(|_| {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
            socket.connect(&server.addr.into()).expect("connect");
            socket
                .set_write_timeout(Some(Duration::from_secs(2)))
                .expect("timeout");
            let _ = (&socket).write_all(&burst);
            socket
        })
        .collect();
    let grown = crate::harness::status_mb(server.pid(), "VmHWM") - baseline;
    let scrape = || crate::harness::http_get(http, "/metrics").1;
    let started = Instant::now();
    let open = |page: &str| crate::harness::series(page, "privatelink_dns_tcp_connections");
    while open(&scrape()) != Some(0.0) {
        assert!(started.elapsed() < DEADLINE, "{}", scrape());
        std::thread::sleep(Duration::from_millis(100)); // polling a gauge: there is no event to wait for
    }
    let page = scrape();
    let closed = crate::harness::series(
        &page,
        "privatelink_dns_tcp_closed_total{reason=\"not_reading\"}",
    );
    assert_eq!(closed, Some(CLIENTS as f64), "{page}");
    // Before the byte bound (16 answers queued, a 16 KB batch buffer) each
    // connection held about 90 KB: 27 MB for these clients.
    assert!(grown < 18.0, "RSS grew {grown:.1} MB for {CLIENTS} clients");
    drop(stuck);
    assert_eq!(fab1(&server), ["10.10.0.4"]);
}
