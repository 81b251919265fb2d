//! Views: clients of different networks (127.0.0.51, .52, .53 on loopback)
//! get their own view's addresses, on every answer path.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::chain::azure_public_dns;
use crate::client::{self, TcpClient, a_records, udp_from};
use crate::fake_upstream::FakeUpstream;
use crate::harness::TestServer;
use crate::import::data;
use crate::{FAB1, base_config};

const HUB: &str = "127.0.0.51";
const BRANCH: &str = "127.0.0.52";
/// In the hub's second prefix.
const HUB_TOO: &str = "127.0.0.53";
/// In no view.
const ELSEWHERE: &str = "127.0.0.54";

/// The base mapping, a hub view (127.0.0.48–.53) and a branch view
/// (127.0.0.52) carved out of it.
fn views_config(upstreams: &[SocketAddr], hub_blob: &str) -> String {
    format!(
        r#"{base}
[[view]]
name = "vnet-hub-ne"
clients = ["127.0.0.48/30", "127.0.0.52/31"]

[[view.vault]]
name = "rsv-test-pe-ne"
id = "1132794570626989392"
geo = "we"
[view.vault.backup]
fab1 = "10.20.0.4"

[view.records]
"weacct01pod01ecs114.privatelink.blob.core.windows.net" = "{hub_blob}"

[[view.zone]]
name = "hub.internal"

[[view]]
name = "branch"
clients = ["127.0.0.52/32"]
[view.records]
"weacct01pod01ecs114.privatelink.blob.core.windows.net" = "10.30.0.12"
"#,
        base = base_config(upstreams)
    )
}

fn tcp_from(source: &str, server: SocketAddr, message: &Message) -> Message {
    TcpClient::connect_from(source, server).ask(message)
}

/// The A records `source` gets for `name`, over UDP and over TCP (which
/// must agree).
fn addresses_from(source: &str, server: SocketAddr, name: &str) -> Vec<String> {
    let query = client::query(name, RecordType::A);
    let over_udp = udp_from(source, server, &query);
    let over_tcp = tcp_from(source, server, &query);
    assert_eq!(
        over_udp.metadata.response_code,
        ResponseCode::NoError,
        "{name} from {source}"
    );
    assert_eq!(
        a_records(&over_udp),
        a_records(&over_tcp),
        "{name} from {source}: UDP and TCP"
    );
    a_records(&over_udp)
}

const BLOB_PRIVATE: &str = "weacct01pod01ecs114.privatelink.blob.core.windows.net.";
const BLOB_PUBLIC: &str = "weacct01pod01ecs114.blob.core.windows.net.";
const QUEUE_PRIVATE: &str = "weacct01pod01ecs114.privatelink.queue.core.windows.net.";

#[test]
fn each_network_gets_its_own_view_s_addresses() {
    let upstream = FakeUpstream::answering(azure_public_dns());
    let server = TestServer::start(&views_config(&[upstream.addr], "10.20.0.12"));
    for (source, fab1, blob) in [
        (HUB, "10.20.0.4", "10.20.0.12"),
        (HUB_TOO, "10.20.0.4", "10.20.0.12"),
        (BRANCH, "10.10.0.4", "10.30.0.12"),
        (ELSEWHERE, "10.10.0.4", "10.10.0.12"),
    ] {
        assert_eq!(
            addresses_from(source, server.addr, FAB1),
            [fab1],
            "fab1 from {source}"
        );
        assert_eq!(
            addresses_from(source, server.addr, BLOB_PRIVATE),
            [blob],
            "blob from {source}"
        );
        // Chain completion through the upstream ends in the view's address,
        // asked twice: the second answer comes from the response memo.
        for _ in 0..2 {
            let chained = addresses_from(source, server.addr, BLOB_PUBLIC);
            assert_eq!(chained, [blob], "the public blob name from {source}");
        }
        // What no view maps is the top level's for everyone.
        assert_eq!(
            addresses_from(source, server.addr, QUEUE_PRIVATE),
            ["10.10.0.13"],
            "queue from {source}"
        );
    }
    // The hub's own zone exists for the hub only.
    let query = client::query("x.hub.internal.", RecordType::A);
    let hub = udp_from(HUB, server.addr, &query);
    assert_eq!(hub.metadata.response_code, ResponseCode::NXDomain);
    assert!(hub.metadata.authoritative);
    let branch = udp_from(BRANCH, server.addr, &query);
    assert!(
        !branch.metadata.authoritative,
        "forwarded for the branch: {branch:?}"
    );
    // The view's apex SOA, and NODATA with the SOA, over TCP too.
    let soa = tcp_from(
        HUB,
        server.addr,
        &client::query("hub.internal.", RecordType::SOA),
    );
    assert_eq!(soa.metadata.response_code, ResponseCode::NoError);
    assert!(soa.metadata.authoritative);
    assert_eq!(soa.answers.len(), 1);
    assert_eq!(soa.answers[0].record_type(), RecordType::SOA);
    let nodata = tcp_from(HUB, server.addr, &client::query(FAB1, RecordType::AAAA));
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty() && nodata.metadata.authoritative);
    assert_eq!(nodata.authorities[0].record_type(), RecordType::SOA);
}

#[test]
fn offline_synthesis_answers_each_view_with_its_own_address() {
    let server = TestServer::start(&views_config(&[], "10.20.0.12"));
    for (source, blob) in [
        (HUB, "10.20.0.12"),
        (BRANCH, "10.30.0.12"),
        (ELSEWHERE, "10.10.0.12"),
    ] {
        assert_eq!(
            addresses_from(source, server.addr, BLOB_PUBLIC),
            [blob],
            "from {source}"
        );
    }
}

#[test]
fn a_reload_that_changes_one_view_changes_only_its_answers() {
    let upstream = FakeUpstream::answering(azure_public_dns());
    let server = TestServer::start(&views_config(&[upstream.addr], "10.20.0.12"));
    for source in [HUB, BRANCH, ELSEWHERE] {
        addresses_from(source, server.addr, BLOB_PUBLIC);
    }
    std::fs::write(server.config(), views_config(&[upstream.addr], "10.20.9.9")).expect("write");
    server.wait_for_log("mapping reloaded", Duration::from_secs(5));
    assert_eq!(
        addresses_from(HUB, server.addr, BLOB_PRIVATE),
        ["10.20.9.9"]
    );
    assert_eq!(addresses_from(HUB, server.addr, BLOB_PUBLIC), ["10.20.9.9"]);
    assert_eq!(
        addresses_from(BRANCH, server.addr, BLOB_PUBLIC),
        ["10.30.0.12"]
    );
    assert_eq!(
        addresses_from(ELSEWHERE, server.addr, BLOB_PUBLIC),
        ["10.10.0.12"]
    );
}

#[test]
fn the_query_log_and_the_metrics_name_the_view_that_answered() {
    let config = views_config(&[], "10.20.0.12").replacen(
        "hostname = \"ns1.test.internal\"",
        "hostname = \"ns1.test.internal\"\nquery_log = true\nhttp = \"127.0.0.1:0\"",
        1,
    );
    let server = TestServer::start_with(
        &config,
        &["--listen", "127.0.0.1:0", "--log-format", "json"],
    );
    let query = client::query(FAB1, RecordType::A);
    for source in [HUB, ELSEWHERE] {
        udp_from(source, server.addr, &query);
    }
    tcp_from(BRANCH, server.addr, &query);
    server.wait_for_log_count("privatelink_dns::query", 3, Duration::from_secs(5));
    let mut seen: Vec<(String, String)> = server
        .log()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["target"] == "privatelink_dns::query")
        .map(|event| {
            let client = event["client"].as_str().unwrap_or_default();
            let source = client.split(':').next().unwrap_or_default().to_owned();
            (
                source,
                event["view"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (HUB.to_owned(), "vnet-hub-ne".to_owned()),
            (BRANCH.to_owned(), "branch".to_owned()),
            (ELSEWHERE.to_owned(), "-".to_owned()),
        ]
    );
    // And the metrics count each view's queries.
    let (status, page) = crate::harness::http_get(server.http_addr(), "/metrics");
    assert_eq!(status, 200);
    for (view, count) in [("vnet-hub-ne", 1), ("branch", 1)] {
        let line = format!("privatelink_dns_view_queries_total{{view=\"{view}\"}} {count}");
        assert!(page.lines().any(|l| l == line), "{line} not in\n{page}");
    }
}

#[test]
fn a_secondary_transfers_the_view_its_address_is_in() {
    let config = views_config(&[], "10.20.0.12").replacen(
        "hostname = \"ns1.test.internal\"",
        "hostname = \"ns1.test.internal\"\nallow_transfer = [\"127.0.0.0/8\"]",
        1,
    );
    let server = TestServer::start(&config);
    let zone = "privatelink.blob.core.windows.net.";
    for (source, blob) in [
        (HUB, "10.20.0.12"),
        (BRANCH, "10.30.0.12"),
        (ELSEWHERE, "10.10.0.12"),
    ] {
        let transfer = tcp_from(
            source,
            server.addr,
            &client::query_no_edns(zone, RecordType::AXFR),
        );
        assert_eq!(transfer.metadata.response_code, ResponseCode::NoError);
        let soas = transfer
            .answers
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        assert_eq!(soas, 2, "the whole zone in one message from {source}");
        let account: Vec<String> = transfer
            .answers
            .iter()
            .filter(|r| r.name.to_ascii() == BLOB_PRIVATE)
            .map(|r| r.data.to_string())
            .collect();
        assert_eq!(account, [blob], "from {source}");
    }
}

#[test]
fn records_show_what_each_view_serves() {
    use crate::harness::{run, temp_file};
    let (_dir, path) = temp_file("views.toml", &views_config(&[], "10.20.0.12"));
    let path = path.display().to_string();
    let (code, stdout, stderr) = run(&["records", "--config", &path, "--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).expect("JSON");
    let blob = "weacct01pod01ecs114.privatelink.blob.core.windows.net";
    let mut served: Vec<(String, String)> = rows
        .iter()
        .filter(|row| row["name"] == blob)
        .map(|row| {
            (
                row["view"].as_str().unwrap_or("-").to_owned(),
                row["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    served.sort();
    assert_eq!(
        served,
        [
            ("-".to_owned(), "10.10.0.12".to_owned()),
            ("branch".to_owned(), "10.30.0.12".to_owned()),
            ("vnet-hub-ne".to_owned(), "10.20.0.12".to_owned()),
        ]
    );
    // The hub's own zone is listed under the hub; the queue account, which
    // no view changes, once, at the top level.
    assert!(
        rows.iter()
            .any(|r| r["zone"] == "hub.internal" && r["view"] == "vnet-hub-ne")
    );
    let queue = "weacct01pod01ecs114.privatelink.queue.core.windows.net";
    assert_eq!(rows.iter().filter(|r| r["name"] == queue).count(), 1);

    let (code, hosts, _) = run(&[
        "records", "--config", &path, "--format", "hosts", "--view", "branch",
    ]);
    assert_eq!(code, 0);
    assert!(
        hosts.contains(&format!("10.30.0.12\t{blob}"))
            || hosts.contains(&format!("10.30.0.12 {blob}")),
        "{hosts}"
    );
    assert!(!hosts.contains("10.10.0.12"), "{hosts}");
    let (code, zone, _) = run(&[
        "records",
        "--config",
        &path,
        "--format",
        "zone",
        "--view",
        "vnet-hub-ne",
    ]);
    assert_eq!(code, 0);
    assert!(zone.contains("$ORIGIN hub.internal."), "{zone}");
    let (code, _, stderr) = run(&["records", "--config", &path, "--view", "nowhere"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no view named nowhere (views: vnet-hub-ne, branch)"),
        "{stderr}"
    );
}

#[test]
fn importing_two_networks_writes_a_view_that_serves() {
    use crate::harness::{run, temp_file};
    let endpoints = data("azure/two-vnets/private-endpoints.json");
    let vnets = data("azure/two-vnets/vnets.json");
    let (code, toml, stderr) = run(&["import", "azure-cli", &endpoints, &vnets]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        toml.contains("[[view]]\nname = \"vnet-hub-ne\"\nclients = [\"10.20.0.0/16\"]"),
        "{toml}"
    );
    let (_dir, path) = temp_file("imported.toml", &toml);
    let (code, report, _) = run(&["check", "--config", &path.display().to_string()]);
    assert_eq!(code, 0, "{report}");

    // Served, with a loopback prefix added to the view so this test can be
    // one of its clients.
    let served = toml.replace(
        "clients = [\"10.20.0.0/16\"]",
        "clients = [\"10.20.0.0/16\", \"127.0.0.53/32\"]",
    );
    let server = TestServer::start(&served);
    assert_eq!(addresses_from(HUB_TOO, server.addr, FAB1), ["10.20.0.4"]);
    assert_eq!(addresses_from(ELSEWHERE, server.addr, FAB1), ["10.10.0.4"]);
    assert_eq!(
        addresses_from(HUB_TOO, server.addr, BLOB_PRIVATE),
        ["10.20.0.20"]
    );
    assert_eq!(
        addresses_from(
            HUB_TOO,
            server.addr,
            "contosodata01.privatelink.blob.core.windows.net."
        ),
        ["10.10.0.30"]
    );

    // Without the VNet's JSON the view is written, and check says what is missing.
    let (_, toml, _) = run(&["import", "azure-cli", &endpoints]);
    assert!(toml.contains("# fill in the address space of virtual network /subscriptions/0000/resourcegroups/rg-net-ne/providers/microsoft.network/virtualnetworks/vnet-hub-ne"), "{toml}");
    let (_dir, path) = temp_file("unfinished.toml", &toml);
    let (code, report, _) = run(&["check", "--config", &path.display().to_string()]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report.contains("view[0].clients: view vnet-hub-ne has no client networks"),
        "{report}"
    );
}

/// A real secondary transferring from a view's address holds the view's
/// records, as BIND's views would give it.
fn a_secondary_from_the_hub_holds_the_hub_s_records(
    start: impl FnOnce(u16, SocketAddr) -> crate::peer::Peer,
) {
    let config = views_config(&[], "10.20.0.12").replacen(
        "hostname = \"ns1.test.internal\"",
        "hostname = \"ns1.test.internal\"\nallow_transfer = [\"127.0.0.0/8\"]",
        1,
    );
    let server = TestServer::start(&config);
    let secondary = start(crate::peer::free_port(), server.addr);
    let answer = secondary.ask_until(BLOB_PRIVATE, RecordType::A, Duration::from_secs(20), |m| {
        !a_records(m).is_empty()
    });
    assert_eq!(a_records(&answer), ["10.20.0.12"], "{answer:?}");
    assert!(answer.metadata.authoritative);
}

#[test]
fn a_knot_secondary_transferring_from_a_view_s_address_holds_that_view() {
    if crate::peer::installed("knotd", "knot") {
        a_secondary_from_the_hub_holds_the_hub_s_records(|port, primary| {
            crate::peer::knot_secondary_from(port, primary, &[BLOB_ZONE], HUB)
        });
    }
}

#[test]
fn a_bind_secondary_transferring_from_a_view_s_address_holds_that_view() {
    if crate::peer::installed("named", "bind9") {
        a_secondary_from_the_hub_holds_the_hub_s_records(|port, primary| {
            crate::peer::bind_secondary_from(port, primary, &[BLOB_ZONE], HUB)
        });
    }
}

const BLOB_ZONE: &str = "privatelink.blob.core.windows.net";
