//! The Azure zone catalogue at work (issue 15): imports that turn every
//! FQDN into a served name or a reported one, Site Recovery vaults served,
//! public zones refused without losing the last good mapping, and the
//! catalogue's twins synthesised offline.

use std::collections::BTreeSet;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

use crate::client::{self, a_records};
use crate::harness::{TestServer, run, run_stdin, temp_file};
use crate::import::data;

/// The A-record names `records --format json` says a file serves.
fn served_names(config: &str) -> BTreeSet<String> {
    let (_dir, path) = temp_file("served.toml", config);
    let (code, json, stderr) = run(&[
        "records",
        "--config",
        &path.display().to_string(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|row| row["type"] == "A")
        .map(|row| row["name"].as_str().unwrap().to_owned())
        .collect()
}

/// `tests/data/import/expected-names.txt`: input files → the names they must serve.
fn expectations() -> Vec<(Vec<String>, BTreeSet<String>)> {
    std::fs::read_to_string(data("import/expected-names.txt"))
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (files, names) = line.split_once(':').unwrap();
            (
                files.split_whitespace().map(ToOwned::to_owned).collect(),
                names.split_whitespace().map(ToOwned::to_owned).collect(),
            )
        })
        .collect()
}

#[test]
fn every_imported_fqdn_is_served_or_reported() {
    let cases = expectations();
    assert!(cases.len() >= 5);
    for (files, expected) in cases {
        let paths: Vec<String> = files.iter().map(|f| data(&format!("import/{f}"))).collect();
        let mut args = vec!["import", "azure-cli"];
        args.extend(paths.iter().map(String::as_str));
        let (code, toml, stderr) = run(&args);
        assert_eq!(code, 0, "{files:?}: {stderr}");

        // The output passes check, without warnings for complete endpoints …
        let (_dir, path) = temp_file("imported.toml", &toml);
        let (code, report, _) = run(&["check", "--config", &path.display().to_string()]);
        assert_eq!(code, 0, "{files:?}:\n{report}\n{toml}");
        assert!(
            report.contains("0 warning(s)"),
            "{files:?}:\n{report}\n{toml}"
        );
        // … and serves exactly the input's names, one for one.
        assert_eq!(served_names(&toml), expected, "{files:?}:\n{toml}");

        // What is not imported is a warning and a comment, never silence.
        let skipped = stderr.matches("warning: not imported:").count();
        assert_eq!(skipped, toml.matches("# not imported:").count(), "{stderr}");
        if files[0] == "mixed-with-unknown.json" {
            assert_eq!(skipped, 2, "{stderr}");
            assert!(stderr.contains("portal.contoso.example"), "{stderr}");
            assert!(
                stderr.contains("waiting.privatelink.blob.core.windows.net"),
                "{stderr}"
            );
            assert!(stderr.contains("no IP address in the input"), "{stderr}");
        } else {
            assert_eq!(skipped, 0, "{files:?}: {stderr}");
        }
    }
}

#[test]
fn vaults_are_named_after_the_vault_and_storage_tied_by_metadata() {
    let (code, toml, _) = run(&[
        "import",
        "azure-cli",
        &data("import/backup-with-storage.json"),
        &data("import/record-sets-metadata.json"),
    ]);
    assert_eq!(code, 0);
    // The vault's name from privateLinkServiceId, the endpoint as a comment.
    assert!(
        toml.contains("# private endpoint pe-backup-eus2\n[[vault]]\nname = \"rsv-prod-eus2\""),
        "{toml}"
    );
    // The ecs blob name came from a record set whose metadata names
    // `pe-backup-eus2_ecs_blob_…`: it joins the queue name from the endpoint.
    assert!(
        toml.contains(
            "account = \"eus2rsvprodpod01ecs1\"\nrole = \"ecs\"\nblob = \"10.60.0.12\"\nqueue = \"10.60.0.13\""
        ),
        "{toml}"
    );
    assert!(
        toml.contains("[records]\n\"appdata01.privatelink.blob.core.windows.net\""),
        "{toml}"
    );

    let (code, toml, _) = run(&["import", "azure-cli", &data("import/site-recovery.json")]);
    assert_eq!(code, 0);
    assert!(
        toml.contains("name = \"rsv-dr-cus\"\nid = \"7548582474929277163\"\ngeo = \"cus\"\n[vault.site_recovery]\nid1 = \"10.50.0.8\""),
        "{toml}"
    );
}

#[test]
fn import_reads_standard_input() {
    let json = std::fs::read_to_string(data("import/keyvault-custom-dns.json")).unwrap();
    let (code, toml, stderr) = run_stdin(&["import", "azure-cli", "-"], &json);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        toml.contains("`privatelink-dns import azure-cli -`"),
        "{toml}"
    );
    assert!(
        toml.contains("# kv-contoso-prod-we.privatelink.vaultcore.azure.net was kv-contoso-prod-we.vault.azure.net in stdin"),
        "{toml}"
    );
    assert!(
        toml.contains("\"kv-contoso-prod-we.privatelink.vaultcore.azure.net\" = \"10.40.1.4\""),
        "{toml}"
    );
    let (code, toml, _) = run_stdin(
        &["import", "hosts", "-"],
        "10.40.2.4 crcontosoprod.westeurope.data.azurecr.io\n",
    );
    assert_eq!(code, 0);
    assert!(
        toml.contains("\"crcontosoprod.westeurope.data.privatelink.azurecr.io\" = \"10.40.2.4\""),
        "{toml}"
    );
}

const SITE_RECOVERY: &str = r#"
[forward]
upstreams = []

[[vault]]
name = "rsv-dr-cus"
id = "7548582474929277163"
geo = "cus"
[vault.site_recovery]
rcm1 = "10.50.0.4"
prot2 = "10.50.0.5"
tel1 = "10.50.0.6"
srs1 = "10.50.0.7"
id1 = "10.50.0.8"

[records]
"md-1a2b3c4d.privatelink.blob.core.windows.net" = "10.60.2.4"
"kv-contoso-prod-we.privatelink.vaultcore.azure.net" = "10.40.1.4"
"rdweb.privatelink.wvd.microsoft.com" = "10.60.3.4"
"#;

#[test]
fn a_site_recovery_vault_is_served_with_azures_names() {
    let server = TestServer::start(SITE_RECOVERY);
    for (service, ip) in [
        ("rcm1", "10.50.0.4"),
        ("srs1", "10.50.0.7"),
        ("id1", "10.50.0.8"),
    ] {
        let name = format!(
            "7548582474929277163-asr-pod01-{service}.cus.privatelink.siterecovery.windowsazure.com."
        );
        let response = client::udp(server.addr, &client::query(&name, RecordType::A));
        client::assert_authoritative(&response, ResponseCode::NoError);
        assert_eq!(a_records(&response), [ip], "{name}");
        assert!(response.answers.iter().all(|r| r.ttl == 10));
    }
    // The geo label between the names and the apex exists (NOERROR, no data).
    let between = client::udp(
        server.addr,
        &client::query(
            "cus.privatelink.siterecovery.windowsazure.com.",
            RecordType::A,
        ),
    );
    client::assert_authoritative(&between, ResponseCode::NoError);
    client::assert_negative_soa(&between, "privatelink.siterecovery.windowsazure.com.");

    let (_dir, path) = temp_file("asr.toml", SITE_RECOVERY);
    let (code, table, _) = run(&["records", "--config", &path.display().to_string()]);
    assert_eq!(code, 0);
    assert!(
        table.contains("vault rsv-dr-cus site-recovery rcm1"),
        "{table}"
    );
}

#[test]
fn the_catalogues_twins_are_synthesised_offline() {
    let server = TestServer::start(SITE_RECOVERY);
    for (public, private, ip) in [
        (
            "md-1a2b3c4d.blob.storage.azure.net.",
            "md-1a2b3c4d.privatelink.blob.core.windows.net.",
            "10.60.2.4",
        ),
        (
            "kv-contoso-prod-we.vault.azure.net.",
            "kv-contoso-prod-we.privatelink.vaultcore.azure.net.",
            "10.40.1.4",
        ),
        (
            "rdweb.wvd.microsoft.com.",
            "rdweb.privatelink.wvd.microsoft.com.",
            "10.60.3.4",
        ),
    ] {
        let response = client::udp(server.addr, &client::query(public, RecordType::A));
        assert_eq!(
            response.metadata.response_code,
            ResponseCode::NoError,
            "{public}"
        );
        assert!(!response.metadata.authoritative, "{public}");
        assert!(response.metadata.recursion_available, "{public}");
        let cname = response.answers.first().expect("a CNAME first");
        assert_eq!(cname.name.to_ascii(), public);
        match &cname.data {
            RData::CNAME(target) => assert_eq!(target.0.to_ascii(), private),
            other => panic!("{public}: {other:?}"),
        }
        assert_eq!(a_records(&response), [ip], "{public}");
        assert!(response.answers.iter().all(|r| r.ttl == 10), "{public}");
    }
}

#[test]
fn a_public_zone_is_refused_at_reload_and_the_mapping_kept() {
    let server = TestServer::start(SITE_RECOVERY);
    let kv = |server: &TestServer| {
        a_records(&client::udp(
            server.addr,
            &client::query(
                "kv-contoso-prod-we.privatelink.vaultcore.azure.net.",
                RecordType::A,
            ),
        ))
    };
    assert_eq!(kv(&server), ["10.40.1.4"]);
    // Following the old hint: declare vault.azure.net and map the public name.
    let outage = format!(
        "{SITE_RECOVERY}\"kv-other.vault.azure.net\" = \"10.40.1.5\"\n\n[[zone]]\nname = \"vault.azure.net\"\n"
    );
    std::fs::write(server.config(), outage).unwrap();
    server.wait_for_log(
        "reload failed; keeping the last good mapping",
        Duration::from_secs(10),
    );
    assert!(
        server
            .log()
            .iter()
            .any(|l| l.contains("vault.azure.net is a public Azure zone")),
        "{}",
        server.log().join("\n")
    );
    assert_eq!(kv(&server), ["10.40.1.4"]);
}

#[test]
fn zones_prints_the_catalogue_with_its_source() {
    let (code, json, _) = run(&["zones", "--format", "json"]);
    assert_eq!(code, 0);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let count = |cloud: &str| rows.iter().filter(|r| r["cloud"] == cloud).count();
    assert!(count("public") >= 90 && count("usgov") >= 45 && count("china") >= 33);
    let blob = rows
        .iter()
        .find(|r| r["zone"] == "privatelink.blob.core.windows.net")
        .unwrap();
    assert_eq!(
        blob["twins"],
        serde_json::json!(["blob.core.windows.net", "blob.storage.azure.net"])
    );
    assert!(
        rows.iter()
            .any(|r| r["zone"] == "privatelink.tip1.powerquery.microsoft.com"
                && r["status"] == "deprecated")
    );

    let (code, table, _) = run(&["zones", "--cloud", "usgov"]);
    assert_eq!(code, 0);
    assert!(
        table.starts_with("# 54 zones from https://learn.microsoft.com/"),
        "{table}"
    );
    assert!(
        table.contains("privatelink.siterecovery.windowsazure.us"),
        "{table}"
    );
    assert!(
        table.lines().skip(1).all(|l| l.starts_with("usgov")),
        "{table}"
    );
}

/// A concrete zone for a catalogue pattern.
fn concrete(pattern: &str, cloud: privatelink_mapping::azure::Cloud) -> String {
    use privatelink_mapping::azure::Cloud;
    let code = match cloud {
        Cloud::UsGov => "ugv",
        Cloud::China => "sha2",
        Cloud::Public | Cloud::Other => "we",
    };
    pattern
        .replace("{regionCode}", code)
        .replace("{regionName}", "westeurope")
        .replace("{dnsPrefix}", "a1b2c3")
        .replace("{partitionId}", "3")
        .replace("{subzone}", "f0e1d2c3")
}

#[test]
fn every_twin_in_the_catalogue_is_synthesised_offline() {
    use privatelink_mapping::azure::catalogue::rows;
    // One mapped name per zone with twins, each with its own address.
    let mut config = String::from("[forward]\nupstreams = []\n\n[records]\n");
    let mut expected: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (index, row) in rows()
        .iter()
        .enumerate()
        .filter(|(_, r)| !r.twins.is_empty())
    {
        let zone = concrete(row.zone, row.cloud);
        let private = format!("host01.{zone}");
        let ip = format!("10.{}.{}.4", 100 + index / 250, index % 250);
        config.push_str(&format!("\"{private}\" = \"{ip}\"\n"));
        for twin in &row.twins {
            let public = format!("host01.{}", concrete(twin, row.cloud));
            match expected.iter_mut().find(|(p, _)| *p == public) {
                Some((_, targets)) => targets.push((private.clone(), ip.clone())),
                None => expected.push((public, vec![(private.clone(), ip.clone())])),
            }
        }
    }
    assert!(expected.len() >= 150, "{}", expected.len());
    let server = TestServer::start(&config);
    for (public, targets) in &expected {
        let response = client::udp(
            server.addr,
            &client::query(&format!("{public}."), RecordType::A),
        );
        assert_eq!(
            response.metadata.response_code,
            ResponseCode::NoError,
            "{public}"
        );
        let target = match response.answers.first().map(|r| &r.data) {
            Some(RData::CNAME(target)) => target.0.to_ascii(),
            other => panic!("{public}: no CNAME first: {other:?}"),
        };
        // A public zone two private zones share (wvd.microsoft.com) points
        // into one of them; the A record is that name's address.
        let (_, ip) = targets
            .iter()
            .find(|(private, _)| format!("{private}.") == target)
            .unwrap_or_else(|| panic!("{public} -> {target}, expected one of {targets:?}"));
        assert_eq!(a_records(&response), [ip.as_str()], "{public}");
    }
}
