//! The engine's oracle, fuzzed: any datagram gets the same bytes from the
//! engine as it serves (prepared answers and the memo first) as from the
//! reference path alone, over UDP and TCP. A fake upstream on loopback
//! answers the forwarded names, so cached and chained answers are
//! compared too. `crates/server/tests/oracle.rs` runs the same comparison
//! on a table and on seeded mutations in every test run.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use privatelink_server::testing::{FakeUpstream, differential, engine};
use privatelink_server::Transport;
use privatelink_server::Engine;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    _upstream: FakeUpstream,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let upstream = FakeUpstream::start();
        let mapping = format!(
            r#"
[server]
allow = ["127.0.0.0/8"]
allow_transfer = ["127.0.0.0/8"]
[forward]
upstreams = ["{}"]
timeout_ms = 500
[[forward.rule]]
suffix = "queue.core.windows.net"
upstreams = ["{}"]
[[zone]]
name = "privatelink.vaultcore.azure.net"
fallback = "forward"
[[vault]]
name = "v"
id = "1132794570626989392"
geo = "we"
[vault.backup]
fab1 = "10.10.0.4"
[[vault.storage]]
account = "weacct01pod01ecs114"
role = "ecs"
blob = "10.10.0.12"
queue = "10.10.0.13"
[records]
"multi.privatelink.blob.core.windows.net" = ["10.0.0.1", "10.0.0.2", "fd00::1"]
"app.deep.privatelink.blob.core.windows.net" = "10.0.0.3"
"#,
            upstream.address, upstream.failing
        );
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            engine: engine(&mapping).expect("fixed mapping"),
            _upstream: upstream,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let peer = SocketAddr::from(([127, 0, 0, 1], 5353));
    for transport in [Transport::Udp, Transport::Tcp] {
        if let Err(difference) = fixture
            .runtime
            .block_on(differential(&fixture.engine, data, data, peer, transport))
        {
            panic!("{difference}");
        }
    }
});
