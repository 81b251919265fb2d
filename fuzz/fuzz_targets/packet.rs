//! Any datagram through the answer engine, over UDP and TCP, with a fixed
//! mapping and no upstream: a response that decodes, or none, never a panic. Transfers are allowed,
//! so AXFR/IXFR are driven too (the fixed zones fit one message each).
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use privatelink_server::testing::respond;
use privatelink_server::Transport;
use privatelink_server::Engine;

const MAPPING: &str = r#"
[server]
allow = ["127.0.0.0/8"]
allow_transfer = ["127.0.0.0/8"]
[forward]
upstreams = []
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
"#;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime"),
        engine: privatelink_server::testing::engine(MAPPING).expect("fixed mapping"),
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();
    let src = SocketAddr::from(([127, 0, 0, 1], 5353));
    for transport in [Transport::Udp, Transport::Tcp] {
        let sent = fixture
            .runtime
            .block_on(respond(&fixture.engine, data, src, transport, Instant::now()));
        assert!(sent.len() <= 1, "one response at most");
        for wire in sent {
            assert!(
                hickory_proto::op::Message::from_vec(&wire).is_ok(),
                "the server sent something undecodable"
            );
        }
    }
});
