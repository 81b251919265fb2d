//! Missing records seen from traffic (issue 14): listed with their advice,
//! pasted back in, bounded under a flood; the HTTP allow-list and token.

use std::time::Duration;

use base64::Engine as _;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use serde_json::Value;

use crate::base_config;
use crate::client::{self, a_records};
use crate::fake_upstream::{FakeUpstream, Table};
use crate::harness::{self, TestServer, get};

/// A data account Azure Backup added after the first backup, reached by
/// its public name, and one asked for by its private name.
const CHAINED: &str = "weacct01pod01prot7.blob.core.windows.net.";
const CHAINED_PRIVATE: &str = "weacct01pod01prot7.privatelink.blob.core.windows.net";
const DIRECT: &str = "weacct01pod01prot8.privatelink.blob.core.windows.net";

fn public_dns() -> Table {
    Table::new()
        .cname(CHAINED, &format!("{CHAINED_PRIVATE}."), 60)
        .cname(
            &format!("{CHAINED_PRIVATE}."),
            "blob.ams07prdstr02a.store.core.windows.net.",
            60,
        )
        .a(
            "blob.ams07prdstr02a.store.core.windows.net.",
            "20.60.1.1",
            60,
        )
}

fn with_http(config: &str, extra: &str) -> String {
    config.replacen(
        "[server]\n",
        &format!("[server]\nhttp = \"127.0.0.1:0\"\n{extra}"),
        1,
    )
}

fn missing(server: &TestServer) -> Vec<Value> {
    let (status, body) = harness::http_get(server.http_addr(), "/api/v1/missing");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn entry<'a>(entries: &'a [Value], name: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in {entries:#?}"))
}

#[test]
fn missing_storage_names_are_listed_with_their_snippet_and_leave_once_pasted() {
    let upstream = FakeUpstream::answering(public_dns());
    let server = TestServer::start(&with_http(&base_config(&[upstream.addr]), ""));
    let chained = client::udp(server.addr, &client::query(CHAINED, RecordType::A));
    assert_eq!(chained.metadata.response_code, ResponseCode::NXDomain);
    for _ in 0..3 {
        let direct = client::udp(
            server.addr,
            &client::query(&format!("{DIRECT}."), RecordType::A),
        );
        assert_eq!(direct.metadata.response_code, ResponseCode::NXDomain);
    }
    // Over TCP, and through the reference path (AAAA), it counts the same.
    let tcp = client::tcp(
        server.addr,
        &client::query(&format!("{DIRECT}."), RecordType::AAAA),
    );
    assert_eq!(tcp.metadata.response_code, ResponseCode::NXDomain);

    let entries = missing(&server);
    assert_eq!(entries.len(), 2, "{entries:#?}");
    // Most asked first.
    assert_eq!(entries[0]["name"], DIRECT);
    let direct = entry(&entries, DIRECT);
    assert_eq!(direct["count"], 4);
    assert_eq!(direct["zone"], "privatelink.blob.core.windows.net");
    assert_eq!(direct["public"], Value::Null);
    assert_eq!(direct["clients"][0], "127.0.0.1");
    assert_eq!(direct["kind"], "backup-storage");
    assert_eq!(direct["vault"], "rsv-test");
    assert_eq!(
        direct["snippet"],
        "[[vault.storage]]\naccount = \"weacct01pod01prot8\"\nrole = \"prot\"\nblob = \"<private IP>\"\n"
    );
    let chained = entry(&entries, CHAINED_PRIVATE);
    assert_eq!(chained["count"], 1);
    assert_eq!(
        chained["public"],
        "weacct01pod01prot7.blob.core.windows.net"
    );
    assert_eq!(chained["kind"], "backup-storage");
    assert_eq!(chained["vault"], "rsv-test");
    assert!(chained["placement"].as_str().unwrap().contains("rsv-test"));
    // Told in the log (the line reaches the test's reader after the
    // answer, so wait for it; "once" is checked after a later line).
    let told = format!("name=\"{DIRECT}\"");
    server.wait_for_log(&told, Duration::from_secs(5));

    // `missing` prints the same snippets, ready to paste.
    let http = server.http_addr().to_string();
    let (code, stdout, stderr) = harness::run(&["missing", "--http", &http]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("# {DIRECT}: asked 4 times")),
        "{stdout}"
    );
    assert!(
        stdout.contains("account = \"weacct01pod01prot7\""),
        "{stdout}"
    );

    // Pasted at the end of the file (the vault is the last one), the IPs
    // filled in: the names resolve and leave the list.
    let mut text = std::fs::read_to_string(server.config()).unwrap();
    for (entry, ip) in [(direct, "10.10.0.60"), (chained, "10.10.0.61")] {
        text.push('\n');
        text.push_str(
            &entry["snippet"]
                .as_str()
                .unwrap()
                .replace("<private IP>", ip),
        );
    }
    let staged = server.config().with_extension("new");
    std::fs::write(&staged, &text).unwrap();
    std::fs::rename(&staged, server.config()).unwrap();
    server.wait_for_log("mapping reloaded", Duration::from_secs(10));
    // Lines arrive in order: every line before the reload has been read,
    // so a second INFO line for the four questions would be here.
    assert_eq!(server.log_count(&told), 1, "{:#?}", server.log());
    let response = client::udp(
        server.addr,
        &client::query(&format!("{DIRECT}."), RecordType::A),
    );
    assert_eq!(a_records(&response), ["10.10.0.60"]);
    let response = client::udp(server.addr, &client::query(CHAINED, RecordType::A));
    assert_eq!(a_records(&response), ["10.10.0.61"]);
    assert!(missing(&server).is_empty());
    let (_, stdout, stderr) = harness::run(&["missing", "--http", &http]);
    assert!(
        stdout.is_empty() && stderr.contains("no missing records"),
        "{stderr}"
    );
}

#[test]
fn a_flood_of_random_unmapped_names_keeps_the_list_and_memory_bounded() {
    let server = TestServer::start(&with_http(&base_config(&[]), ""));
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let rss_before = harness::status_mb(server.pid(), "VmRSS");
    let mut buffer = [0u8; 512];
    let mut answered = 0usize;
    const NAMES: usize = 100_000;
    const WINDOW: usize = 100;
    for start in (0..NAMES).step_by(WINDOW) {
        for i in start..start + WINDOW {
            let query = client::query(
                &format!("r{i}x.privatelink.blob.core.windows.net."),
                RecordType::A,
            );
            socket
                .send_to(&query.to_vec().unwrap(), server.addr)
                .unwrap();
        }
        for _ in 0..WINDOW {
            if socket.recv_from(&mut buffer).is_err() {
                break;
            }
            answered += 1;
        }
    }
    assert!(answered > NAMES * 9 / 10, "only {answered} answers");
    let entries = missing(&server);
    assert!(
        !entries.is_empty() && entries.len() <= 1024,
        "{} entries",
        entries.len()
    );
    let (_, metrics) = harness::http_get(server.http_addr(), "/metrics");
    let seen = harness::series(&metrics, "privatelink_dns_missing_names_seen_total").unwrap();
    assert!(seen >= answered as f64 * 0.99, "seen {seen} of {answered}");
    let held = harness::series(&metrics, "privatelink_dns_missing_names").unwrap();
    assert!(held <= 1024.0, "{held}");
    let grown = harness::status_mb(server.pid(), "VmRSS") - rss_before;
    assert!(grown < 32.0, "RSS grew by {grown} MB");
    // The log told the first names and then how many more there were, not 100,000 lines.
    assert!(server.log_count("but not mapped") <= 20);
}

#[test]
fn the_page_and_the_api_need_the_allow_list_and_the_token() {
    let token = "0123456789abcdef0123";
    let config = with_http(
        &base_config(&[]),
        &format!("http_allow = [\"127.0.0.2/32\"]\nhttp_token = \"{token}\"\n"),
    );
    let server = TestServer::start(&config);
    let http = server.http_addr();
    for path in ["/", "/api/v1/status", "/api/v1/missing", "/api/v1/records"] {
        let (status, _, body) = get(http, path, Some(&format!("Bearer {token}")), None);
        assert_eq!(status, 403, "{path}: {body}");
        assert!(
            body.contains("127.0.0.1 is not in server.http_allow"),
            "{body}"
        );
        let (status, head, _) = get(http, path, None, Some("127.0.0.2"));
        assert_eq!(status, 401, "{path}");
        assert!(
            head.to_ascii_lowercase()
                .contains("www-authenticate: basic"),
            "{head}"
        );
        let (status, _, _) = get(
            http,
            path,
            Some("Bearer wrong-token-0000000"),
            Some("127.0.0.2"),
        );
        assert_eq!(status, 401, "{path}");
        let (status, _, _) = get(
            http,
            path,
            Some(&format!("Bearer {token}")),
            Some("127.0.0.2"),
        );
        assert_eq!(status, 200, "{path}");
    }
    // A browser's Basic prompt: any user, the token as the password.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("ops:{token}"))
    );
    let (status, head, body) = get(http, "/", Some(&basic), Some("127.0.0.2"));
    assert_eq!(status, 200);
    assert!(head.contains("text/html"));
    assert!(body.contains("privatelink-dns"));
    // Probes and the scrape stay open.
    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(get(http, path, None, None).0, 200, "{path}");
    }
    // The CLI says what is wrong.
    let (code, _, stderr) = harness::run(&["status", "--http", &http.to_string()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("403"), "{stderr}");
}

#[test]
fn the_status_api_tells_the_mapping_reloads_and_records() {
    let server = TestServer::start(&with_http(&base_config(&[]), ""));
    let http = server.http_addr();
    let (status, body) = harness::http_get(http, "/api/v1/status");
    assert_eq!(status, 200, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["ready"], true);
    assert_eq!(json["mapping"]["generation"], 1);
    let text = std::fs::read_to_string(server.config()).unwrap();
    assert_eq!(
        json["mapping"]["sha256"],
        privatelink_mapping::sha256_hex(text.as_bytes())
    );
    let zones = json["mapping"]["zones"].as_array().unwrap();
    assert!(
        zones
            .iter()
            .any(|z| z["zone"] == "privatelink.blob.core.windows.net" && z["names"] == 3)
    );
    let vault = &json["mapping"]["vaults"][0];
    assert_eq!(vault["name"], "rsv-test");
    assert_eq!(vault["vault_id"], "1132794570626989392");
    assert_eq!(vault["services"][0]["service"], "fab1");
    let fab1_line = text.lines().position(|l| l.starts_with("fab1")).unwrap() + 1;
    assert_eq!(vault["services"][0]["line"], fab1_line);
    assert_eq!(json["last_reload"]["result"], "loaded");
    assert_eq!(json["upstreams"], serde_json::json!([]));

    // A broken edit: rejected, with its error, and the old mapping stays.
    std::fs::write(
        server.config(),
        text.replace("fab1 = \"10.10.0.4\"", "fab1 = \"10.10.0.x\""),
    )
    .unwrap();
    server.wait_for_log("reload failed", Duration::from_secs(10));
    let (_, body) = harness::http_get(http, "/api/v1/status");
    let json: Value = serde_json::from_str(&body).unwrap();
    let last = &json["last_reload"];
    assert_eq!(last["result"], "rejected");
    assert_eq!(last["generation"], 1);
    let error = last["errors"][0].as_str().unwrap();
    assert!(
        error.contains(&format!(":{fab1_line}: vault[0].backup.fab1")),
        "{error}"
    );
    assert_eq!(json["reloads"]["last_failed"], true);

    // /api/v1/records is what `records --format json` prints.
    std::fs::write(server.config(), &text).unwrap();
    server.wait_for_log("the file is back", Duration::from_secs(10));
    let (_, body) = harness::http_get(http, "/api/v1/records");
    let config = server.config().to_str().unwrap();
    let (code, stdout, _) = harness::run(&["records", "--config", config, "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        serde_json::from_str::<Value>(&stdout).unwrap()
    );
    let (code, stdout, stderr) = harness::run(&["status", "--http", &http.to_string()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(": ready"), "{stdout}");
    assert!(
        stdout.contains("privatelink.blob.core.windows.net"),
        "{stdout}"
    );
}
