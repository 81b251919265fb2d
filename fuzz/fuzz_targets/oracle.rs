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
use privatelink_server::testing::{FakeUpstream, differential, engine, oracle_mapping};
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
        let mapping = oracle_mapping(upstream.address, upstream.failing, "");
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
    // An allowed client, and one that may also transfer the zones.
    for peer in [[127, 0, 0, 1], [127, 0, 0, 2]] {
        let peer = SocketAddr::from((peer, 5353));
        for transport in [Transport::Udp, Transport::Tcp] {
            if let Err(difference) = fixture
                .runtime
                .block_on(differential(&fixture.engine, data, data, peer, transport))
            {
                panic!("{difference}");
            }
        }
    }
});
