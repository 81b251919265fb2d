//! Driving the engine without sockets: what the fuzz targets, the oracle
//! tests and the regression inputs use.

mod upstream;

pub use upstream::FakeUpstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};

use crate::engine::{Engine, Received, Sink, Step};
use crate::observe::metrics::Metrics;
use crate::reply::Outcome;
use crate::resolve::chain::{self, Asked};
use crate::resolve::forward::{Forwarder, sanitize};
use crate::store::{MappingStore, Snapshot};
use crate::wire::{Transport, mapped_record_type};

/// An engine serving `mapping` (a mapping file's text) with a cache and a
/// memo, and no socket. `Err` names the first problem of an invalid mapping.
/// The cache is large enough that a fuzz run does not fill it: an entry the
/// cache evicts between the two sides of the oracle would be asked upstream
/// by one side and found in the memo by the other, and TTLs would differ.
pub fn engine(mapping: &str) -> Result<Engine, String> {
    let loaded =
        privatelink_mapping::load_str("fuzz.toml", mapping).map_err(|error| error.to_string())?;
    let snapshot = Snapshot::new(loaded, 1).map_err(|error| error.to_string())?;
    let metrics = Arc::new(Metrics::new());
    let forwarder = Arc::new(Forwarder::new(
        64 << 20,
        Duration::from_secs(60),
        16,
        metrics.clone(),
    ));
    Engine::new(
        Arc::new(MappingStore::new(snapshot)),
        forwarder,
        metrics,
        16 << 20,
        crate::observe::querylog::LogFormat::Json,
    )
    .map_err(|error| error.to_string())
}

/// The mapping the oracle tests and the `oracle` fuzz target serve, with
/// `extra` lines in `[server]`: a vault, storage names, records with one,
/// several and many addresses, a zone that falls back, a forward rule to
/// `failing`, and `upstream` for the rest; no prefetch.
pub fn oracle_mapping(upstream: SocketAddr, failing: SocketAddr, extra: &str) -> String {
    let many: Vec<String> = (1..=40).map(|i| format!("\"10.0.1.{i}\"")).collect();
    format!(
        r#"
[server]
allow = ["127.0.0.0/8", "::1/128"]
allow_transfer = ["127.0.0.2/32"]
{extra}
[forward]
upstreams = ["{upstream}"]
timeout_ms = 2000
# A background refresh would change the cache between the two paths
# compared (the fuzz target found the served answer 55 s older).
prefetch = false

[[forward.rule]]
suffix = "queue.core.windows.net"
upstreams = ["{failing}"]

[[zone]]
name = "privatelink.vaultcore.azure.net"
fallback = "forward"

[[vault]]
name = "rsv"
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
"multi.privatelink.blob.core.windows.net" = ["10.10.0.30", "10.10.0.31", "fd00::30"]
"v6only.privatelink.blob.core.windows.net" = "fd00::31"
"app.deep.privatelink.blob.core.windows.net" = "10.10.0.32"
"kv1.privatelink.vaultcore.azure.net" = "10.10.0.40"
"big.privatelink.blob.core.windows.net" = [{}]
"#,
        many.join(", ")
    )
}

/// Collects what would be sent.
struct Collect<'a>(&'a mut Vec<Vec<u8>>);

#[async_trait::async_trait]
impl Sink for Collect<'_> {
    async fn send(&mut self, wire: Vec<u8>) {
        self.0.push(wire);
    }
}

/// Every message the engine sends back for `message` from `peer` over
/// `transport`, received at `at`.
pub async fn respond(
    engine: &Engine,
    message: &[u8],
    peer: SocketAddr,
    transport: Transport,
    at: Instant,
) -> Vec<Vec<u8>> {
    respond_noting(engine, message, peer, transport, at).await.0
}

/// [`respond`], and whether the prepared answers (or the memo) answered.
pub async fn respond_noting(
    engine: &Engine,
    message: &[u8],
    peer: SocketAddr,
    transport: Transport,
    at: Instant,
) -> (Vec<Vec<u8>>, bool) {
    let received = Received {
        message,
        client: peer,
        transport,
        at,
    };
    let mut out = Vec::new();
    match engine.answer(&received, &mut out) {
        Step::Respond(sent) => {
            let prepared = sent.prepared();
            engine.sent(sent);
            (vec![out], prepared)
        }
        Step::Drop => (Vec::new(), false),
        Step::Pending(pending) => {
            let mut sent = Vec::new();
            engine.finish(*pending, &mut Collect(&mut sent)).await;
            (sent, false)
        }
    }
}

/// The oracle: `asked` answered by the engine as it serves (prepared
/// answers and the memo first) and with every query on the reference path
/// must give the same bytes. `warm` is sent twice before, so that a
/// forwarded name is cached and its response kept in the memo. `Ok(true)`
/// when the prepared side answered (so the comparison meant something);
/// `Err` describes the first difference.
pub async fn differential(
    engine: &Engine,
    warm: &[u8],
    asked: &[u8],
    peer: SocketAddr,
    transport: Transport,
) -> Result<bool, String> {
    for _ in 0..2 {
        respond(engine, warm, peer, transport, Instant::now()).await;
    }
    let at = Instant::now();
    let (served, prepared) = respond_noting(engine, asked, peer, transport, at).await;
    engine.set_prepared(false);
    let (reference, _) = respond_noting(engine, asked, peer, transport, at).await;
    engine.set_prepared(true);
    if served == reference {
        return Ok(prepared);
    }
    Err(format!(
        "{transport:?} query {asked:02x?}\n  served ({} messages, prepared: {prepared}): {}\n  reference ({} messages): {}",
        served.len(),
        describe(&served),
        reference.len(),
        describe(&reference),
    ))
}

/// Messages as bytes and, where they decode, as hickory prints them.
fn describe(messages: &[Vec<u8>]) -> String {
    messages
        .iter()
        .map(|wire| match Message::from_vec(wire) {
            Ok(message) => format!("{wire:02x?}\n{message}"),
            Err(error) => format!("{wire:02x?} (undecodable: {error})"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the forward path does with an upstream's answer to `question`:
/// sanitise, then complete the chain. Returns the number of answer records.
pub fn process_upstream_answer(
    snapshot: &Snapshot,
    question: &Query,
    mut answer: Message,
) -> usize {
    sanitize(question.name(), question.query_type(), &mut answer);
    let asked = Asked {
        name: question.name(),
        rtype: question.query_type(),
        mapped: mapped_record_type(question.query_type()),
        wants_ad: false,
    };
    let reply = chain::complete(&asked, answer, snapshot, Outcome::Forwarded, None, None);
    reply.answers.len()
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Instant;

    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RecordType};

    use crate::wire::Transport;

    /// The packet fuzzer's regression inputs through the engine, with the
    /// fuzzer's own oracle: at most one response, and one that decodes.
    #[test]
    fn fuzz_regression_packets_get_decodable_responses() {
        let engine = super::engine(
            "[server]\nallow_transfer = [\"127.0.0.0/8\"]\n[forward]\nupstreams = []\n[records]\n\"multi.privatelink.blob.core.windows.net\" = [\"10.0.0.1\", \"fd00::1\"]\n",
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let dir = format!(
            "{}/../../tests/data/fuzz/packet",
            env!("CARGO_MANIFEST_DIR")
        );
        let peer = SocketAddr::from(([127, 0, 0, 1], 5353));
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let packet = std::fs::read(&path).unwrap();
            for transport in [Transport::Udp, Transport::Tcp] {
                let sent = runtime.block_on(super::respond(
                    &engine,
                    &packet,
                    peer,
                    transport,
                    Instant::now(),
                ));
                assert!(sent.len() <= 1, "{}", path.display());
                for wire in sent {
                    assert!(
                        Message::from_vec(&wire).is_ok(),
                        "{}: undecodable response",
                        path.display()
                    );
                }
            }
            replayed += 1;
        }
        assert!(replayed > 0);
    }

    /// The upstream-answer fuzzer's regression inputs, replayed.
    #[test]
    fn fuzz_regression_inputs_for_upstream_answers() {
        let loaded = privatelink_mapping::load_str(
            "t.toml",
            "[records]\n\"acct.privatelink.blob.core.windows.net\" = \"10.0.0.1\"\n",
        )
        .unwrap();
        let snapshot = crate::Snapshot::new(loaded, 1).unwrap();
        let dir = format!(
            "{}/../../tests/data/fuzz/upstream_answer",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut replayed = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            if let Ok(answer) = Message::from_vec(&data) {
                let question = Query::query(
                    Name::from_ascii("acct.blob.core.windows.net.").unwrap(),
                    RecordType::A,
                );
                super::process_upstream_answer(&snapshot, &question, answer);
                replayed += 1;
            }
        }
        assert!(replayed > 0);
    }
}
