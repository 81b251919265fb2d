//! Issue 18, item 6: the forwarding cache and the kept UDP responses stay
//! within `forward.cache_mb` by their weighing, and the weighing follows
//! what the entries really hold. A random-subdomain flood (every name new,
//! every answer NXDOMAIN) fills both.

use std::net::UdpSocket;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::client;
use crate::fake_upstream::{FakeUpstream, Table};
use crate::harness::{TestServer, http_get, series, status_mb};

/// Asks `names` over one UDP socket, `window` outstanding at a time; the
/// number answered.
fn ask_all(
    server: std::net::SocketAddr,
    names: impl Iterator<Item = String>,
    window: usize,
) -> usize {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let names: Vec<String> = names.collect();
    let mut answered = 0;
    let mut buffer = [0u8; 1500];
    for chunk in names.chunks(window) {
        for name in chunk {
            let wire = client::query(name, RecordType::A).to_vec().expect("encode");
            socket.send_to(&wire, server).expect("send");
        }
        for _ in chunk {
            if socket.recv_from(&mut buffer).is_ok() {
                answered += 1;
            }
        }
    }
    answered
}

#[test]
fn a_random_subdomain_flood_keeps_the_cache_within_cache_mb() {
    const CACHE_MB: f64 = 4.0;
    let upstream = FakeUpstream::answering(Table::new());
    let config = crate::base_config(&[upstream.addr])
        .replace("[server]", "[server]\nhttp = \"127.0.0.1:0\"")
        .replace(
            "[forward]",
            "[forward]\ncache_mb = 4\nupstream_max_qps = 1000000\nupstream_max_pending = 100000",
        );
    let server = TestServer::start(&config);
    let http = server.http_addr();
    // Warm up threads and tables before the baseline.
    ask_all(
        server.addr,
        (0..500).map(|i| format!("w{i}.flood.example.")),
        50,
    );
    let baseline = status_mb(server.pid(), "VmRSS");
    // 30,000 new names, each asked twice (the second answer comes from the
    // cache and is kept as a UDP response): unbounded, some 40 MB.
    let names = (0..300).flat_map(|batch| {
        let batch: Vec<String> = (0..100)
            .map(|i| format!("n{}.flood.example.", batch * 100 + i))
            .collect();
        batch.clone().into_iter().chain(batch)
    });
    let answered = ask_all(server.addr, names, 100);
    assert!(answered > 55_000, "{answered} of 60,000 answered");
    let grown = status_mb(server.pid(), "VmHWM") - baseline;
    let (_, page) = http_get(http, "/metrics");
    let weighed = |name: &str| series(&page, name).unwrap_or(f64::NAN) / f64::from(1 << 20);
    let (cache, memo) = (
        weighed("privatelink_dns_cache_bytes"),
        weighed("privatelink_dns_memo_bytes"),
    );
    assert!(cache > 2.0 && cache <= 3.0, "cache {cache:.2} MB of 3");
    assert!(memo > 0.5 && memo <= 1.0, "memo {memo:.2} MB of 1");
    eprintln!("RSS grew {grown:.1} MB; cache {cache:.2} MB, memo {memo:.2} MB");
    assert!(
        grown < 1.5 * CACHE_MB + 2.0,
        "RSS grew {grown:.1} MB for cache_mb = {CACHE_MB}"
    );
}
