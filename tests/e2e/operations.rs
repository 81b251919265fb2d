//! Monitoring: exact metrics after a known mix of queries, readiness, and
//! the query log as JSON.

use hickory_proto::op::{Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use crate::client::{self, a_records};
use crate::fake_upstream::{FakeUpstream, Table};
use crate::harness::{TestServer, http_get, series};
use crate::{FAB1, base_config};

fn with_server_settings(upstream: &FakeUpstream, settings: &str) -> String {
    base_config(&[upstream.addr]).replace(
        "[server]",
        &format!("[server]\nhttp = \"127.0.0.1:0\"\n{settings}"),
    )
}

fn table() -> Table {
    Table::new()
        .a("login.microsoftonline.com.", "20.190.128.10", 300)
        .cname(
            "weacct01pod01ecs114.blob.core.windows.net.",
            "weacct01pod01ecs114.privatelink.blob.core.windows.net.",
            60,
        )
        .cname(
            "weacct01pod01ecs114.privatelink.blob.core.windows.net.",
            "blob.x.store.core.windows.net.",
            60,
        )
        .a("blob.x.store.core.windows.net.", "20.60.1.1", 60)
}

#[test]
fn metrics_count_a_known_mix_of_queries_exactly() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&with_server_settings(&upstream, ""));
    let http = server.http_addr();
    let ask = |name: &str, rtype| client::udp(server.addr, &client::query(name, rtype));

    ask(FAB1, RecordType::A);
    ask(FAB1, RecordType::A);
    client::tcp(server.addr, &client::query(FAB1, RecordType::A));
    ask("nosuch.privatelink.blob.core.windows.net.", RecordType::A);
    ask(FAB1, RecordType::AAAA);
    ask("login.microsoftonline.com.", RecordType::A);
    ask("login.microsoftonline.com.", RecordType::A);
    assert_eq!(
        a_records(&ask(
            "weacct01pod01ecs114.blob.core.windows.net.",
            RecordType::A
        )),
        ["10.10.0.12"]
    );
    let mut chaos = client::query("version.bind.", RecordType::TXT);
    chaos.queries[0].set_query_class(DNSClass::CH);
    assert_eq!(
        client::udp(server.addr, &chaos).metadata.response_code,
        ResponseCode::Refused
    );
    let mut two = client::query(FAB1, RecordType::A);
    two.add_query(Query::query(
        Name::from_ascii("x.example.").unwrap(),
        RecordType::A,
    ));
    assert_eq!(
        client::udp(server.addr, &two).metadata.response_code,
        ResponseCode::FormErr
    );

    let (status, page) = http_get(http, "/metrics");
    assert_eq!(status, 200);
    let q = |labels: &str| series(&page, &format!("privatelink_dns_queries_total{{{labels}}}"));
    assert_eq!(
        q(r#"transport="udp",outcome="mapped",rcode="NOERROR""#),
        Some(2.0),
        "{page}"
    );
    assert_eq!(
        q(r#"transport="tcp",outcome="mapped",rcode="NOERROR""#),
        Some(1.0)
    );
    assert_eq!(
        q(r#"transport="udp",outcome="nxdomain",rcode="NXDOMAIN""#),
        Some(1.0)
    );
    assert_eq!(
        q(r#"transport="udp",outcome="nodata",rcode="NOERROR""#),
        Some(1.0)
    );
    assert_eq!(
        q(r#"transport="udp",outcome="forwarded",rcode="NOERROR""#),
        Some(1.0)
    );
    assert_eq!(
        q(r#"transport="udp",outcome="cached",rcode="NOERROR""#),
        Some(1.0)
    );
    assert_eq!(
        q(r#"transport="udp",outcome="chained",rcode="NOERROR""#),
        Some(1.0)
    );
    assert_eq!(
        q(r#"transport="udp",outcome="refused",rcode="REFUSED""#),
        Some(1.0)
    );
    assert_eq!(
        q(r#"transport="udp",outcome="formerr",rcode="FORMERR""#),
        Some(1.0)
    );
    let upstream_label = format!("upstream=\"{}\"", upstream.addr);
    assert_eq!(
        series(
            &page,
            &format!("privatelink_dns_upstream_queries_total{{{upstream_label}}}")
        ),
        Some(2.0)
    );
    assert_eq!(
        series(
            &page,
            &format!("privatelink_dns_upstream_duration_seconds_count{{{upstream_label}}}")
        ),
        Some(2.0)
    );
    // The upstream's budget: Azure's limits, nothing out now, two sent.
    for (name, value) in [
        ("privatelink_dns_upstream_budget_max_qps", 1000.0),
        ("privatelink_dns_upstream_budget_max_pending", 200.0),
        ("privatelink_dns_upstream_budget_pending", 0.0),
        ("privatelink_dns_upstream_budget_queued", 0.0),
        ("privatelink_dns_upstream_budget_shed_total", 0.0),
    ] {
        assert_eq!(
            series(&page, &format!("{name}{{{upstream_label}}}")),
            Some(value),
            "{name}"
        );
    }
    let sent = series(
        &page,
        &format!("privatelink_dns_upstream_budget_sent_last_second{{{upstream_label}}}"),
    );
    assert!(sent.is_some_and(|sent| sent <= 2.0), "{sent:?}");
    assert_eq!(
        series(&page, "privatelink_dns_forward_suffix_shed_total"),
        Some(0.0)
    );
    // The two upstream queries, one after the other, shared one socket.
    assert_eq!(
        series(&page, "privatelink_dns_upstream_sockets_opened_total"),
        Some(1.0)
    );
    assert_eq!(
        series(&page, "privatelink_dns_upstream_sockets_idle"),
        Some(1.0)
    );
    assert!(series(&page, "privatelink_dns_cache_bytes").is_some_and(|bytes| bytes > 0.0));
    assert_eq!(series(&page, "privatelink_dns_cache_hits_total"), Some(1.0));
    assert_eq!(
        series(&page, "privatelink_dns_cache_misses_total"),
        Some(2.0)
    );
    assert_eq!(series(&page, "privatelink_dns_cache_entries"), Some(2.0));
    assert_eq!(
        series(&page, "privatelink_dns_mapping_generation"),
        Some(1.0)
    );
    assert_eq!(series(&page, "privatelink_dns_mapping_names"), Some(7.0));
    assert_eq!(series(&page, "privatelink_dns_mapping_zones"), Some(4.0));
    assert_eq!(
        series(&page, "privatelink_dns_reloads_applied_total"),
        Some(0.0)
    );
    assert_eq!(series(&page, "privatelink_dns_ready"), Some(1.0));
    assert_eq!(upstream.queries(), 2);

    // A reload shows up too.
    std::fs::write(
        server.config(),
        with_server_settings(&upstream, "")
            .replace("fab1 = \"10.10.0.4\"", "fab1 = \"10.10.0.44\""),
    )
    .unwrap();
    server.wait_for_log("mapping reloaded", std::time::Duration::from_secs(5));
    let (_, page) = http_get(http, "/metrics");
    assert_eq!(
        series(&page, "privatelink_dns_mapping_generation"),
        Some(2.0)
    );
    assert_eq!(
        series(&page, "privatelink_dns_reloads_applied_total"),
        Some(1.0)
    );
}

#[test]
fn health_endpoints_and_readiness_with_strict_readiness() {
    let upstream = FakeUpstream::answering(table());
    let config = with_server_settings(&upstream, "strict_readiness = true");
    let server = TestServer::start(&config);
    let http = server.http_addr();
    assert_eq!(http_get(http, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(http_get(http, "/readyz"), (200, "ready\n".to_owned()));
    assert_eq!(http_get(http, "/nope").0, 404);

    std::fs::write(
        server.config(),
        "[[vault]]\nname = \"v\"\nid = \"1\"\ngeo = \"nowhere\"\n",
    )
    .unwrap();
    server.wait_for_log("reload failed", std::time::Duration::from_secs(5));
    let (status, body) = http_get(http, "/readyz");
    assert_eq!(status, 503);
    assert!(body.contains("the last reload failed"), "{body}");
    assert_eq!(http_get(http, "/healthz").0, 200, "alive all the same");
    // Still answering from the last good mapping.
    assert_eq!(
        a_records(&client::udp(
            server.addr,
            &client::query(FAB1, RecordType::A)
        )),
        ["10.10.0.4"]
    );

    // Writing the served content back clears the failure without a reload.
    std::fs::write(server.config(), &config).unwrap();
    server.wait_for_log(
        "the file is back to the mapping in service",
        std::time::Duration::from_secs(5),
    );
    assert_eq!(http_get(http, "/readyz").0, 200);
}

#[test]
fn by_default_a_failed_reload_leaves_the_server_ready() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&with_server_settings(&upstream, ""));
    let http = server.http_addr();
    std::fs::write(server.config(), "not toml [").unwrap();
    server.wait_for_log("reload failed", std::time::Duration::from_secs(5));
    assert_eq!(http_get(http, "/readyz").0, 200);
    let (_, page) = http_get(http, "/metrics");
    assert_eq!(
        series(&page, "privatelink_dns_last_reload_failed"),
        Some(1.0)
    );
    assert_eq!(
        series(&page, "privatelink_dns_reloads_rejected_total"),
        Some(1.0)
    );
}

#[test]
fn the_query_log_writes_one_json_event_per_response() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start_with(
        &with_server_settings(&upstream, "query_log = true"),
        &["--listen", "127.0.0.1:0", "--log-format", "json"],
    );
    client::udp(server.addr, &client::query(FAB1, RecordType::A));
    client::tcp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    server.wait_for_log_count(
        "privatelink_dns::query",
        2,
        std::time::Duration::from_secs(5),
    );
    let events: Vec<serde_json::Value> = server
        .log()
        .iter()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|event| event["target"] == "privatelink_dns::query")
        .collect();
    assert_eq!(events.len(), 2, "{events:#?}");
    // Each event is written after its response is sent, on the thread that
    // sent it, so the two may reach the log in either order.
    let event_for = |name: &str| {
        events
            .iter()
            .find(|event| event["name"] == name)
            .unwrap_or_else(|| panic!("no query event for {name}: {events:#?}"))
    };
    let mapped = event_for(FAB1);
    assert_eq!(mapped["qtype"], "A");
    assert_eq!(mapped["outcome"], "mapped");
    assert_eq!(mapped["rcode"], "NOERROR");
    assert_eq!(mapped["transport"], "udp");
    assert_eq!(mapped["upstream"], "-");
    assert_eq!(mapped["view"], "-");
    assert!(mapped["client"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(mapped["latency_us"].is_u64());
    let forwarded = event_for("login.microsoftonline.com.");
    assert_eq!(forwarded["qtype"], "A");
    assert_eq!(forwarded["rcode"], "NOERROR");
    assert_eq!(forwarded["outcome"], "forwarded");
    assert_eq!(forwarded["transport"], "tcp");
    assert_eq!(forwarded["upstream"], upstream.addr.to_string());
}

#[test]
fn the_query_log_is_off_by_default() {
    let upstream = FakeUpstream::answering(table());
    let server = TestServer::start(&base_config(&[upstream.addr]));
    client::udp(server.addr, &client::query(FAB1, RecordType::A));
    // The next log line after the query would be the query event; ask the
    // server for something that logs (SIGHUP) and check none came before it.
    server.signal("HUP");
    server.wait_for_log("mapping reloaded", std::time::Duration::from_secs(5));
    assert_eq!(server.log_count("privatelink_dns::query"), 0);
    assert_eq!(server.log_count(" query "), 0);
}
