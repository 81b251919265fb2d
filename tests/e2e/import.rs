//! `import` from Azure CLI output and hosts files, and `check` output
//! compared with golden files.

use std::path::PathBuf;

use hickory_proto::rr::RecordType;

use crate::client::{self, a_records};
use crate::harness::{TestServer, run, temp_file};

/// A file under `tests/data/`.
pub fn data(path: &str) -> String {
    format!("{}/../../tests/data/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// Every name the Azure fixtures hold, with its address.
const AZURE_NAMES: &[(&str, &str)] = &[
    (
        "1132794570626989392-ab-pod01-fab1.privatelink.we.backup.windowsazure.com",
        "10.10.0.4",
    ),
    (
        "1132794570626989392-ab-pod01-tel1.privatelink.we.backup.windowsazure.com",
        "10.10.0.8",
    ),
    (
        "1132794570626989392-ab-pod01-wbcm1.privatelink.we.backup.windowsazure.com",
        "10.10.0.9",
    ),
    (
        "1132794570626989392-ab-pod01-id1.privatelink.we.backup.windowsazure.com",
        "10.10.0.11",
    ),
    (
        "weacct01pod01ecs114.privatelink.blob.core.windows.net",
        "10.10.0.12",
    ),
    (
        "weacct01pod01ecs114.privatelink.queue.core.windows.net",
        "10.10.0.13",
    ),
    (
        "weacct01pod01prot120.privatelink.blob.core.windows.net",
        "10.10.0.14",
    ),
    ("contoso-kv.privatelink.vaultcore.azure.net", "10.10.0.21"),
    (
        "contosodata01.privatelink.blob.core.windows.net",
        "10.10.0.20",
    ),
    (
        "5892835050346582250-ab-pod01-fab1.privatelink.ne.backup.windowsazure.com",
        "10.20.0.4",
    ),
    (
        "5892835050346582250-ab-pod01-prot1b.privatelink.ne.backup.windowsazure.com",
        "10.20.0.15",
    ),
    (
        "neacct02pod01ecs115.privatelink.blob.core.windows.net",
        "10.20.0.12",
    ),
    (
        "neacct02pod01ecs115.privatelink.queue.core.windows.net",
        "10.20.0.13",
    ),
];

#[test]
fn azure_cli_output_becomes_vaults_storage_and_records_that_serve() {
    let files = [
        "private-endpoints-we.json",
        "zone-group-ne.json",
        "record-sets-blob.json",
    ]
    .map(|f| data(&format!("azure/{f}")));
    let mut args = vec!["import", "azure-cli"];
    args.extend(files.iter().map(String::as_str));
    let (code, toml, stderr) = run(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(toml.contains("# 24 Private Link name(s)"), "{toml}");
    for expected in [
        "[[vault]]\nname = \"pe-rsv-prod-we\"\nid = \"1132794570626989392\"\ngeo = \"we\"\n[vault.backup]\necs1 = \"10.10.0.7\"\nfab1 = \"10.10.0.4\"",
        "[[vault.storage]]\naccount = \"weacct01pod01ecs114\"\nrole = \"ecs\"\nblob = \"10.10.0.12\"\nqueue = \"10.10.0.13\"",
        "[[vault.storage]]\naccount = \"weacct01pod01prot120\"\nrole = \"prot\"\nblob = \"10.10.0.14\"",
        "[[vault]]\nname = \"pe-rsv-dr-ne\"\nid = \"5892835050346582250\"\ngeo = \"ne\"",
        "prot1b = \"10.20.0.15\"",
        "[[vault.storage]]\naccount = \"neacct02pod01ecs115\"\nrole = \"ecs\"",
        "# 1132794570626989392-ab-pod01-tel1.privatelink.we.backup.windowsazure.com was 1132794570626989392-ab-pod01-tel1.we.backup.windowsazure.com in",
        "[records]\n# contoso-kv.privatelink.vaultcore.azure.net was contoso-kv.vaultcore.azure.net in",
        "\"contosodata01.privatelink.blob.core.windows.net\" = \"10.10.0.20\"",
    ] {
        assert!(toml.contains(expected), "missing {expected:?} in\n{toml}");
    }

    // check accepts it (one warning: the ne vault has no prot account yet) …
    let (_dir, path) = temp_file("imported.toml", &toml);
    let (code, report, _) = run(&["check", "--config", &path.display().to_string()]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report.contains("valid: 24 name(s) in 5 zone(s), 1 warning(s)"),
        "{report}"
    );

    // … and served, every imported name answers with its address.
    let offline = format!("[forward]\nupstreams = []\n{toml}");
    let server = TestServer::start(&offline);
    for (name, ip) in AZURE_NAMES {
        let response = client::udp(
            server.addr,
            &client::query(&format!("{name}."), RecordType::A),
        );
        assert_eq!(a_records(&response), [*ip], "{name}");
    }
}

#[test]
fn a_hosts_file_becomes_a_mapping() {
    let (code, toml, _) = run(&["import", "hosts", &data("azure/hosts")]);
    assert_eq!(code, 0);
    assert!(toml.contains("# 5 Private Link name(s)"), "{toml}");
    assert!(
        toml.contains(
            "name = \"vault-8191508985316577080\"\nid = \"8191508985316577080\"\ngeo = \"uks\""
        ),
        "{toml}"
    );
    assert!(toml.contains("account = \"uksacct03pod01ecs116\"\nrole = \"ecs\"\nblob = \"10.30.0.12\"\nqueue = \"10.30.0.13\""), "{toml}");
    assert!(
        toml.contains("\"fileshare01.privatelink.file.core.windows.net\" = \"10.30.0.20\""),
        "{toml}"
    );
    assert!(!toml.contains("localhost"));
    let (_dir, path) = temp_file("hosts.toml", &toml);
    assert_eq!(
        run(&["check", "--config", &path.display().to_string()]).0,
        0
    );
}

#[test]
fn bad_json_is_named_with_file_line_and_column() {
    let (_dir, path) = temp_file(
        "bad.json",
        "[\n  { \"customDnsConfigs\": [ {\"fqdn\": } ] }\n]\n",
    );
    let file = path.display().to_string();
    let (code, stdout, stderr) = run(&["import", "azure-cli", &file]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&format!("{file}:2:")) && stderr.contains("invalid JSON"),
        "{stderr}"
    );

    let (_dir, path) = temp_file("other.json", "{\"value\": []}");
    let (code, _, stderr) = run(&["import", "azure-cli", &path.display().to_string()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not a recognised az output"), "{stderr}");
    assert_eq!(run(&["import", "azure-cli", "/nonexistent.json"]).0, 2);
}

/// `check` on each `tests/data/check/NAME.toml` prints exactly
/// `NAME.expected` (with the file's path shown as `NAME.toml`). Run with
/// `UPDATE_GOLDEN=1` to rewrite the expected files after a deliberate change.
#[test]
fn check_output_matches_the_golden_files() {
    let dir = PathBuf::from(data("check"));
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 2);
    for case in cases {
        let file = case.display().to_string();
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let (_, stdout, _) = run(&["check", "--config", &file]);
        let actual = stdout.replace(&file, &name);
        let actual: String = actual
            .lines()
            .map(|line| match line.find(", sha256 ") {
                Some(at) => format!("{}\n", &line[..at]),
                None => format!("{line}\n"),
            })
            .collect();
        let expected_path = case.with_extension("expected");
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&expected_path, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        assert_eq!(
            actual,
            expected,
            "check output of {name} differs from {}",
            expected_path.display()
        );
    }
}
