//! The command line: `check`, `records`, and `serve`'s exit codes and signals.

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::client::{self, a_records};
use crate::harness::{self, TestServer, run, temp_file};
use crate::{FAB1, base_config};

const BROKEN: &str = r#"[server]
listen = ["127.0.0.1:99999"]

[zones]
fallback = "maybe"

[[vault]]
name = "v"
id = "1132794570626989392"
geo = "wee"

[records]
"a.privatelink.blob.core.windows.net" = "10.0.0.300"
"b.privatelink.blob.core.windows.net" = "10.0.0.1"
"b.privatelink.blob.core.windows.net." = "10.0.0.2"
"acct.blob.core.windows.net" = "10.0.0.3"
"#;

#[test]
fn check_reports_every_problem_with_its_line_and_exits_1() {
    let (_dir, path) = temp_file("broken.toml", BROKEN);
    let file = path.display().to_string();
    let (code, stdout, _) = run(&["check", "--config", &file]);
    assert_eq!(code, 1, "{stdout}");
    for expected in [
        format!("{file}:2: server.listen[0]: \"127.0.0.1:99999\" is not a socket address"),
        format!("{file}:5: zones.fallback: unknown fallback \"maybe\""),
        format!("{file}:10: vault[0].geo: unknown geo code \"wee\" (did you mean we"),
        format!(
            "{file}:13: records.\"a.privatelink.blob.core.windows.net\": \"10.0.0.300\" is not an IP address"
        ),
        format!(
            "{file}:15: records.\"b.privatelink.blob.core.windows.net.\": b.privatelink.blob.core.windows.net is mapped to 10.0.0.2 here but to 10.0.0.1 at line 14"
        ),
        format!(
            "{file}:16: records.\"acct.blob.core.windows.net\": acct.blob.core.windows.net is under no served zone (acct.blob.core.windows.net is a public name (Storage account, Managed Disks, Elastic SAN); Azure CNAMEs it to acct.privatelink.blob.core.windows.net: map that name)"
        ),
    ] {
        assert!(
            stdout.contains(&expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("{file}: invalid: 6 error(s)")),
        "{stdout}"
    );
}

#[test]
fn check_accepts_a_valid_file_and_summarises_each_zone() {
    let (_dir, path) = temp_file("ok.toml", &base_config(&[]));
    let file = path.display().to_string();
    let (code, stdout, _) = run(&["check", "--config", &file]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("zone privatelink.we.backup.windowsazure.com: 2 name(s), 2 address(es), fallback nxdomain"), "{stdout}");
    assert!(
        stdout.contains(
            "zone privatelink.vaultcore.azure.net: 1 name(s), 1 address(es), fallback forward"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{file}: valid: 7 name(s) in 4 zone(s)")),
        "{stdout}"
    );
    // The vault lacks services and a prot account: warnings, exit 0 …
    assert!(
        stdout.contains(
            "warning: vault rsv-test lacks Backup services prot1, ecs1, tel1, wbcm1, fc1, id1"
        ),
        "{stdout}"
    );
    // … but --strict makes them fatal.
    let (strict, stdout, _) = run(&["check", "--strict", "--config", &file]);
    assert_eq!(strict, 1, "{stdout}");
}

#[test]
fn check_of_a_missing_file_is_an_io_error() {
    let (code, _, stderr) = run(&["check", "--config", "/nonexistent/privatelink-dns.toml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("cannot read /nonexistent/privatelink-dns.toml"),
        "{stderr}"
    );
    let (usage, _, _) = run(&["check"]);
    assert_eq!(usage, 2, "missing arguments are usage errors");
}

/// Runs `records --format FORMAT` on `base_config`.
fn records_of_base_config(format: &str) -> (i32, String) {
    let (_dir, path) = temp_file("ok.toml", &base_config(&[]));
    let (code, stdout, _) = run(&[
        "records",
        "--config",
        &path.display().to_string(),
        "--format",
        format,
    ]);
    (code, stdout)
}

#[test]
fn records_json_lists_every_record_with_soa_and_ns() {
    let (code, stdout) = records_of_base_config("json");
    assert_eq!(code, 0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    // 4 zones × (SOA + NS) + 8 addresses.
    assert_eq!(rows.len(), 16, "{stdout}");
    for row in &rows {
        for key in ["zone", "name", "type", "ttl", "value"] {
            assert!(row.get(key).is_some(), "{key} missing in {row}");
        }
        assert!(row["ttl"].is_u64());
        assert!(!row["name"].as_str().unwrap().ends_with('.'));
    }
    let fab1 = rows
        .iter()
        .find(|r| {
            r["name"] == "1132794570626989392-ab-pod01-fab1.privatelink.we.backup.windowsazure.com"
        })
        .unwrap();
    assert_eq!(fab1["type"], "A");
    assert_eq!(fab1["ttl"], 10);
    assert_eq!(fab1["value"], "10.10.0.4");
    assert_eq!(fab1["zone"], "privatelink.we.backup.windowsazure.com");
    let soas = rows.iter().filter(|r| r["type"] == "SOA").count();
    let ns = rows.iter().filter(|r| r["type"] == "NS").count();
    assert_eq!((soas, ns), (4, 4));
}

#[test]
fn records_zone_writes_one_zone_file_per_zone() {
    let (code, stdout) = records_of_base_config("zone");
    assert_eq!(code, 0);
    let zones: Vec<&str> = stdout.split("\n\n").collect();
    assert_eq!(zones.len(), 4, "{stdout}");
    for zone in &zones {
        let mut lines = zone.lines();
        let origin = lines.next().unwrap();
        assert!(
            origin.starts_with("$ORIGIN privatelink.") && origin.ends_with('.'),
            "{origin}"
        );
        assert!(zone.contains("@\t3600\tIN\tSOA\tazureprivatedns.net. azureprivatedns-host.microsoft.com. 1 3600 300 2419200 10"));
        assert!(zone.contains("@\t3600\tIN\tNS\tns1.test.internal."));
    }
    assert!(
        stdout.contains("1132794570626989392-ab-pod01-fab1\t10\tIN\tA\t10.10.0.4"),
        "{stdout}"
    );
    assert!(
        stdout.contains("app.deep\t10\tIN\tA\t10.10.0.32"),
        "{stdout}"
    );

    // When BIND's checker is installed, each file must load in it.
    if Command::new("named-checkzone").arg("-v").output().is_ok() {
        let dir = tempfile::tempdir().unwrap();
        for zone in zones {
            let apex = zone
                .lines()
                .next()
                .unwrap()
                .trim_start_matches("$ORIGIN ")
                .trim_end_matches('.');
            let file = dir.path().join(apex);
            std::fs::write(&file, zone).unwrap();
            let out = Command::new("named-checkzone")
                .arg(apex)
                .arg(&file)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

#[test]
fn records_hosts_and_table() {
    let (code, hosts) = records_of_base_config("hosts");
    assert_eq!(code, 0);
    assert!(hosts.contains(
        "10.10.0.4\t1132794570626989392-ab-pod01-fab1.privatelink.we.backup.windowsazure.com\n"
    ));
    assert_eq!(hosts.lines().filter(|l| !l.starts_with('#')).count(), 8);
    let (code, table) = records_of_base_config("table");
    assert_eq!(code, 0);
    assert!(table.lines().next().unwrap().starts_with("NAME"));
    assert!(table.contains("vault rsv-test backup fab1"), "{table}");
}

#[test]
fn serve_refuses_an_invalid_file_with_exit_1() {
    let (_dir, path) = temp_file("broken.toml", BROKEN);
    let (code, _, stderr) = run(&[
        "serve",
        "--config",
        &path.display().to_string(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("{}:10: vault[0].geo", path.display())),
        "{stderr}"
    );
}

#[test]
fn serve_exits_2_when_it_cannot_listen() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (_dir, path) = temp_file("ok.toml", &base_config(&[]));
    let (code, _, stderr) = run(&[
        "serve",
        "--config",
        &path.display().to_string(),
        "--listen",
        &address,
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot listen"), "{stderr}");
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let mut server = TestServer::start(&base_config(&[]));
    still_answers(&server);
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(server.log().iter().any(|l| l.contains("shutting down")));
}

#[track_caller]
fn still_answers(server: &TestServer) {
    let response = client::udp(server.addr, &client::query(FAB1, RecordType::A));
    assert_eq!(a_records(&response).len(), 1);
}

#[test]
fn help_and_version_work() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("serve") && stdout.contains("check") && stdout.contains("records"));
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("privatelink-dns "));
    let _ = harness::binary();
}

/// Regression: the SIGHUP handler used to be installed after the
/// `listening` line, so a reload right after start-up killed the server.
#[test]
fn sighup_right_after_the_listening_line_reloads_instead_of_killing() {
    let mut server = TestServer::start(&base_config(&[]));
    server.signal("HUP");
    server.wait_for_log("generation=2", Duration::from_secs(10));
    assert!(server.is_running(), "the server died on SIGHUP");
    still_answers(&server);
}

/// A port someone else holds: exit 2, and the error names the holder (here
/// this test process) and what to do, as it would name systemd-resolved.
#[test]
fn an_address_in_use_names_the_process_holding_it() {
    let holder = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = holder.local_addr().unwrap().to_string();
    let config = crate::harness::example_path();
    let (code, _, stderr) =
        crate::harness::run(&["serve", "--config", &config, "--listen", &address]);
    assert_eq!(code, 2, "{stderr}");
    let pid = std::process::id().to_string();
    assert!(
        stderr.contains("Address already in use")
            && stderr.contains("is held by e2e")
            && stderr.contains(&format!("(pid {pid}) on {address}")),
        "{stderr}"
    );
    assert!(stderr.contains("listen on a specific address"), "{stderr}");
}

/// The manual page and completions come from the argument definitions: the
/// page renders with man(1)'s macros and names every subcommand and option.
#[test]
fn the_manual_page_and_completions_cover_every_command() {
    let (code, page, _) = crate::harness::run(&["man"]);
    assert_eq!(code, 0);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH privatelink-dns"),
        "{page}"
    );
    for needle in [
        "serve",
        "check",
        "import",
        "records",
        "zones",
        "\\-\\-config",
        "PRIVATELINK-DNS-SERVE",
    ] {
        assert!(
            page.contains(needle),
            "{needle} missing from the manual page"
        );
    }
    let (code, help, _) = crate::harness::run(&["serve", "--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("The mapping and settings file"), "{help}");
    for (shell, needle) in [
        ("bash", "complete -F _privatelink__dns"),
        ("zsh", "#compdef privatelink-dns"),
        ("fish", "complete -c privatelink-dns"),
    ] {
        let (code, script, _) = crate::harness::run(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        assert!(
            script.contains(needle) && script.contains("zones"),
            "{shell}: {script}"
        );
    }
}
