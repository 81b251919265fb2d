//! The status page in a real browser, the alert rules and a scrape under
//! promtool, and the dashboard's and rules' metric names against a scrape
//! (issue 14).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use crate::base_config;
use crate::client;
use crate::fake_upstream::{FakeUpstream, Table};
use crate::harness::{self, TestServer, repo};
use crate::peer::installed;

const MISSING: &str = "weacct01pod01prot9.privatelink.blob.core.windows.net";

/// A server that has forwarded, failed an upstream try, seen a missing
/// name, rejected a broken file and applied a good one.
fn busy_server() -> (TestServer, FakeUpstream) {
    let upstream =
        FakeUpstream::answering(Table::new().a("login.microsoftonline.com.", "20.190.1.1", 60));
    let config = base_config(&[upstream.addr]).replacen(
        "[server]\n",
        "[server]\nhttp = \"127.0.0.1:0\"\nquery_log = true\n",
        1,
    );
    let server = TestServer::start(&config);
    let answer = client::udp(
        server.addr,
        &client::query("login.microsoftonline.com.", RecordType::A),
    );
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    upstream.set_behaviour(crate::fake_upstream::Behaviour::Refused);
    let _ = client::udp(
        server.addr,
        &client::query("refused.example.com.", RecordType::A),
    );
    upstream.set_behaviour(crate::fake_upstream::Behaviour::Answer);
    for _ in 0..2 {
        let answer = client::udp(
            server.addr,
            &client::query(&format!("{MISSING}."), RecordType::A),
        );
        assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);
    }
    let text = std::fs::read_to_string(server.config()).unwrap();
    std::fs::write(
        server.config(),
        text.replace("rec2 = \"10.10.0.5\"", "rec2 = \"10.10.0.x\""),
    )
    .unwrap();
    server.wait_for_log("reload failed", Duration::from_secs(10));
    std::fs::write(
        server.config(),
        text.replace("rec2 = \"10.10.0.5\"", "rec2 = \"10.10.0.6\""),
    )
    .unwrap();
    server.wait_for_log("mapping reloaded", Duration::from_secs(10));
    (server, upstream)
}

fn chromium(args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .stderr(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {:?}",
        output.status
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_status_page_renders_in_a_real_browser() {
    if !installed("chromium", "chromium") {
        return;
    }
    let (server, _upstream) = busy_server();
    let url = format!("http://{}/", server.http_addr());
    let dom = chromium(&["--dump-dom", &url]);
    // The zones, a vault with its names and lines, the missing entry with
    // its snippet, the reload history and the last queries, as rendered.
    assert!(dom.contains("<table id=\"zones\">"), "{dom}");
    assert!(
        dom.contains("<code>privatelink.blob.core.windows.net</code>"),
        "{dom}"
    );
    assert!(dom.contains("Vault rsv-test"), "{dom}");
    assert!(
        dom.contains("1132794570626989392-ab-pod01-fab1.privatelink.we.backup.windowsazure.com")
    );
    assert!(
        dom.contains(&format!("<b><code>{MISSING}</code></b>")),
        "{dom}"
    );
    assert!(dom.contains("asked 2 times"), "{dom}");
    assert!(dom.contains("account = \"weacct01pod01prot9\""), "{dom}");
    assert!(dom.contains(">rejected<"), "{dom}");
    assert!(dom.contains(">applied<"), "{dom}");
    assert!(dom.contains("~1 names"), "{dom}");
    assert!(
        dom.contains("<code>login.microsoftonline.com.</code></td><td>A</td><td>forwarded</td>"),
        "{dom}"
    );
    assert!(!dom.contains("<script"), "no JavaScript needed");

    // A picture for a person to look at, on a laptop and on a phone.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page");
    std::fs::create_dir_all(&out).unwrap();
    for (file, size) in [
        ("status-page.png", "1280,1800"),
        ("status-page-phone.png", "412,2400"),
    ] {
        let path = out.join(file);
        let _ = std::fs::remove_file(&path);
        chromium(&[
            &format!("--screenshot={}", path.display()),
            &format!("--window-size={size}"),
            "--hide-scrollbars",
            &url,
        ]);
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(bytes > 10_000, "{} is {bytes} bytes", path.display());
        eprintln!("screenshot: {}", path.display());
    }
}

#[test]
fn promtool_accepts_the_rules_their_tests_and_a_scrape() {
    if !installed("promtool", "prometheus") {
        return;
    }
    let dir = repo().join("docker/prometheus");
    for args in [
        vec!["check", "rules", "alerts.yaml"],
        vec!["test", "rules", "alerts_test.yaml"],
        vec!["check", "config", "prometheus.yml"],
    ] {
        let output = Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (server, _upstream) = busy_server();
    let (_, scrape) = harness::http_get(server.http_addr(), "/metrics");
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), scrape.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every `privatelink_dns_*` name in `text`.
fn referenced(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("privatelink_dns_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn the_dashboard_and_the_alerts_use_only_exported_metrics() {
    let (server, _upstream) = busy_server();
    let (_, scrape) = harness::http_get(server.http_addr(), "/metrics");
    let mut exported = BTreeSet::new();
    for line in scrape.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split_whitespace().next().unwrap();
            for suffix in [
                "", "_total", "_bucket", "_sum", "_count", "_info", "_created",
            ] {
                exported.insert(format!("{name}{suffix}"));
            }
        }
    }
    let dashboard =
        std::fs::read_to_string(repo().join("docker/grafana/privatelink-dns.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert!(json["panels"].as_array().unwrap().len() >= 8);
    let alerts = std::fs::read_to_string(repo().join("docker/prometheus/alerts.yaml")).unwrap();
    for (file, text) in [("dashboard", &dashboard), ("alerts", &alerts)] {
        let names = referenced(text);
        assert!(names.len() >= 5, "{file}: {names:?}");
        let unknown: Vec<&String> = names.iter().filter(|n| !exported.contains(*n)).collect();
        assert!(
            unknown.is_empty(),
            "{file} uses metrics the server does not export: {unknown:?}"
        );
    }
    // The series the issue asks for are there with their values.
    assert_eq!(
        harness::series(
            &scrape,
            &format!(
                "privatelink_dns_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0)
    );
    let text = std::fs::read_to_string(server.config()).unwrap();
    let sha = privatelink_mapping::sha256_hex(text.as_bytes());
    assert_eq!(
        harness::series(
            &scrape,
            &format!("privatelink_dns_mapping_sha256_info{{sha256=\"{sha}\"}}")
        ),
        Some(1.0)
    );
    assert!(
        harness::series(&scrape, "privatelink_dns_process_resident_memory_bytes").unwrap() > 1e6
    );
    assert!(harness::series(&scrape, "privatelink_dns_process_open_fds").unwrap() >= 3.0);
    assert_eq!(
        harness::series(&scrape, "privatelink_dns_missing_names"),
        Some(1.0)
    );
}
