//! Loading whole files: every kind of problem, reported with its line.

mod forward;
mod large;

use std::net::{IpAddr, Ipv4Addr};

use crate::{Diagnostic, LoadError, Loaded, Lookup, Origin, QueryType, Severity, load_str};

pub(super) fn load(text: &str) -> Loaded {
    match load_str("m.toml", text) {
        Ok(loaded) => loaded,
        Err(error) => panic!("expected a valid file, got {:#?}", diagnostics_of(error)),
    }
}

pub(super) fn diagnostics_of(error: LoadError) -> Vec<String> {
    match error {
        LoadError::Invalid { diagnostics, .. } => {
            diagnostics.iter().map(ToString::to_string).collect()
        }
        LoadError::Read { .. } => panic!("unexpected read error"),
    }
}

/// The rendered diagnostics of an invalid file.
pub(super) fn problems(text: &str) -> Vec<String> {
    match load_str("m.toml", text) {
        Ok(_) => panic!("expected an invalid file"),
        Err(error) => diagnostics_of(error),
    }
}

pub(super) fn has(list: &[String], needle: &str) -> bool {
    list.iter().any(|line| line.contains(needle))
}

pub(super) fn warnings(loaded: &Loaded) -> Vec<String> {
    loaded.warnings.iter().map(Diagnostic::to_string).collect()
}

const DESIGN_EXAMPLE: &str = r#"
[server]
listen = ["127.0.0.1:5353"]
allow = ["127.0.0.0/8", "10.0.0.0/8", "::1/128"]
hostname = "ns1.privatelink-dns.internal"
watch = true

[forward]
upstreams = ["127.0.0.1:5300"]
timeout_ms = 4000

[[forward.rule]]
suffix = "corp.contoso.com"
upstreams = ["127.0.0.2:53", "127.0.0.3"]

[zones]
ttl = 10
fallback = "nxdomain"

[[zone]]
name = "privatelink.blob.core.windows.net"
fallback = "forward"

[[vault]]
name = "rsv-prod-we"
id = "1132794570626989392"
geo = "we"
[vault.backup]
fab1 = "10.10.0.4"
rec2 = "10.10.0.5"

[[vault.storage]]
account = "weacct01pod01ecs114"
role = "ecs"
blob = "10.10.0.12"
queue = "10.10.0.13"

[records]
"contosodata01.privatelink.blob.core.windows.net" = "10.10.0.20"
"contoso-kv.privatelink.vaultcore.azure.net" = ["10.10.0.21"]
"#;

#[test]
fn the_design_example_loads_and_expands_its_vault() {
    let loaded = load(DESIGN_EXAMPLE);
    let m = &loaded.mapping;
    assert_eq!(m.name_count(), 6);
    let apexes: Vec<&str> = m.zones().iter().map(|z| z.apex.as_str()).collect();
    assert_eq!(
        apexes,
        [
            "privatelink.blob.core.windows.net",
            "privatelink.queue.core.windows.net",
            "privatelink.vaultcore.azure.net",
            "privatelink.we.backup.windowsazure.com",
        ]
    );
    let Lookup::Answer { records, .. } = m.lookup(
        "1132794570626989392-ab-pod01-fab1.privatelink.we.backup.windowsazure.com",
        QueryType::A,
    ) else {
        panic!("vault name not served");
    };
    assert_eq!(records.v4, [Ipv4Addr::new(10, 10, 0, 4)]);
    assert!(matches!(records.origin, Some(Origin::Backup { service, .. }) if &**service == "fab1"));
    assert!(matches!(
        m.lookup(
            "weacct01pod01ecs114.privatelink.queue.core.windows.net",
            QueryType::A
        ),
        Lookup::Answer { .. }
    ));
    // [[zone]] fallback applies to its zone only.
    assert!(matches!(
        m.lookup("other.privatelink.blob.core.windows.net", QueryType::A),
        Lookup::Fallback { .. }
    ));
    assert!(matches!(
        m.lookup("other.privatelink.queue.core.windows.net", QueryType::A),
        Lookup::NxDomain { .. }
    ));

    let settings = &loaded.settings;
    assert_eq!(
        settings.forward.upstreams,
        ["127.0.0.1:5300".parse().unwrap()]
    );
    let route = settings.forward.route("host.corp.contoso.com");
    assert_eq!(
        route.upstreams,
        [
            "127.0.0.2:53".parse().unwrap(),
            "127.0.0.3:53".parse().unwrap()
        ]
    );
    assert_eq!(settings.server.allow.len(), 3);

    let warnings = warnings(&loaded);
    assert!(
        has(
            &warnings,
            "m.toml:24: vault[0].backup: warning: vault rsv-prod-we lacks Backup services prot1, ecs1, tel1, wbcm1, fc1, id1"
        ),
        "{warnings:#?}"
    );
    assert!(
        has(&warnings, "vault rsv-prod-we has no `prot` storage account"),
        "{warnings:#?}"
    );
    assert!(!has(&warnings, "no `ecs`"));
}

#[test]
fn syntax_errors_name_their_line() {
    let list = problems("[server]\nlisten = \"127.0.0.1:53\n\n[zones]\nttl = 10\n");
    assert!(list[0].starts_with("m.toml:2: syntax: "), "{list:#?}");
    assert!(
        list[0].ends_with("(the file is not valid TOML)"),
        "{list:#?}"
    );
    let list = problems("[records]\n\"a.privatelink.blob.core.windows.net\" = 10.0.0.1\n");
    assert!(
        list.iter().all(|l| l.starts_with("m.toml:2: syntax:")),
        "{list:#?}"
    );
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let text = r#"[server]
listne = ["127.0.0.1:53"]
allow = ["10.0.0.0/33"]

[forward]
upstreams = ["not-an-ip"]
timeout_ms = 5

[zones]
fallback = "maybe"

[[vault]]
name = "v1"
id = "12ab"
geo = "wee"

[[vault]]
name = "v2"
id = 1132794570626989392
geo = "westeurope"
colour = "blue"

[records]
"a.privatelink.blob.core.windows.net" = "10.0.0.300"
"b..privatelink.blob.core.windows.net" = "10.0.0.1"
"acct.blob.core.windows.net" = "10.0.0.2"
"c.privatelink.blob.core.windows.net" = "10.0.0.3"
"c.privatelink.blob.core.windows.net." = "10.0.0.4"
"x.privatelink.zz.backup.windowsazure.com" = "10.0.0.5"
"#;
    let list = problems(text);
    let expected = [
        "m.toml:2: server.listne: unknown key `listne` (did you mean `listen`?)",
        "m.toml:3: server.allow[0]: \"10.0.0.0/33\" is not a network",
        "m.toml:6: forward.upstreams[0]: \"not-an-ip\" is not a socket address",
        "m.toml:7: forward.timeout_ms: 5 is out of range (use 100 to 60000)",
        "m.toml:10: zones.fallback: unknown fallback \"maybe\"",
        "m.toml:14: vault[0].id: \"12ab\" is not a vault id",
        "m.toml:15: vault[0].geo: unknown geo code \"wee\" (did you mean we",
        "m.toml:19: vault[1].id: expected a string, found an integer (put the value in quotes)",
        "m.toml:20: vault[1].geo: unknown geo code \"westeurope\" (\"westeurope\" is a region name; its geo code is \"we\")",
        "m.toml:21: vault[1].colour: unknown key `colour`",
        "m.toml:24: records.\"a.privatelink.blob.core.windows.net\": \"10.0.0.300\" is not an IP address",
        "m.toml:25: records.\"b..privatelink.blob.core.windows.net\": invalid name: the name has an empty label",
        "m.toml:26: records.\"acct.blob.core.windows.net\": acct.blob.core.windows.net is under no served zone (acct.blob.core.windows.net is a public name (Storage account, Managed Disks, Elastic SAN); Azure CNAMEs it to acct.privatelink.blob.core.windows.net: map that name)",
        "m.toml:28: records.\"c.privatelink.blob.core.windows.net.\": c.privatelink.blob.core.windows.net is mapped to 10.0.0.4 here but to 10.0.0.3 at line 27",
        "m.toml:29: records.\"x.privatelink.zz.backup.windowsazure.com\": x.privatelink.zz.backup.windowsazure.com: unknown geo code \"zz\"",
    ];
    for needle in expected {
        assert!(has(&list, needle), "missing {needle:?} in {list:#?}");
    }
    // The unknown top-level key is reported with the top-level prefix-free field.
    assert!(list.iter().all(|l| l.starts_with("m.toml:")));
}

#[test]
fn unknown_top_level_and_nested_keys_get_hints() {
    let list = problems("[[vaults]]\nname = \"x\"\n[forward]\nrules = []\n");
    assert!(
        has(
            &list,
            "m.toml:1: vaults: unknown key `vaults` (did you mean `vault`?)"
        ),
        "{list:#?}"
    );
    assert!(
        has(
            &list,
            "m.toml:4: forward.rules: unknown key `rules` (did you mean `rule`?)"
        ),
        "{list:#?}"
    );
}

#[test]
fn missing_required_fields_point_at_their_table() {
    let list = problems("[[vault]]\nname = \"x\"\n\n[[vault.storage]]\naccount = \"acct01\"\n");
    assert!(
        has(&list, "m.toml:1: vault[0].id: `id` is missing"),
        "{list:#?}"
    );
    assert!(
        has(&list, "m.toml:1: vault[0].geo: `geo` is missing"),
        "{list:#?}"
    );
    assert!(
        has(
            &list,
            "m.toml:4: vault[0].storage[0].role: `role` is missing"
        ),
        "{list:#?}"
    );
    assert!(
        has(
            &list,
            "m.toml:4: vault[0].storage[0].blob: `blob` is missing"
        ),
        "{list:#?}"
    );
}

#[test]
fn geo_code_of_another_cloud_is_an_error() {
    let list = problems("[[vault]]\nname = \"gov\"\nid = \"1\"\ngeo = \"we\"\ncloud = \"usgov\"\n");
    assert!(
        has(
            &list,
            "m.toml:4: vault[0].geo: geo code \"we\" belongs to region westeurope in the public cloud, not usgov"
        ),
        "{list:#?}"
    );
}

#[test]
fn warnings_do_not_stop_loading() {
    let text = r#"
[server]
allow = ["0.0.0.0/0"]

[[vault]]
name = "v"
id = "42"
geo = "uks"
[vault.backup]
fab1 = "10.0.0.1"
rec2 = "10.0.0.2"
prot1 = "10.0.0.3"
ecs1 = "10.0.0.4"
tel1 = "10.0.0.5"
wbcm1 = "10.0.0.6"
fc1 = "10.0.0.7"
id1 = "10.0.0.8"
web9 = "10.0.0.9"
[[vault.storage]]
account = "uksacctpod01ecs1"
role = "ecs"
blob = "10.0.0.10"

[records]
"42.fab1.privatelink.uks.backup.windowsazure.com" = "10.0.0.1"
"public.privatelink.blob.core.windows.net" = "20.60.0.1"
"twice.privatelink.blob.core.windows.net" = "10.0.0.11"
"TWICE.privatelink.blob.core.windows.net" = "10.0.0.11"
"#;
    let loaded = load(text);
    let warnings = warnings(&loaded);
    for needle in [
        "m.toml:3: server.allow: warning: every client on the Internet may query this server",
        "m.toml:18: vault[0].backup.web9: warning: \"web9\" is not a known Azure Backup service",
        "vault[0].storage: warning: vault v's `ecs` storage account has no `queue` address",
        "vault[0].storage: warning: vault v has no `prot` storage account",
        "m.toml:25: records.\"42.fab1.privatelink.uks.backup.windowsazure.com\": warning: 42.fab1.privatelink.uks.backup.windowsazure.com uses the documentation's dotted form, which Azure never creates (the real name is 42-ab-pod01-fab1.privatelink.uks.backup.windowsazure.com)",
        "m.toml:26: records.\"public.privatelink.blob.core.windows.net\": warning: 20.60.0.1 is not a private address",
        "m.toml:28: records.\"TWICE.privatelink.blob.core.windows.net\": warning: twice.privatelink.blob.core.windows.net is mapped twice (also at line 27",
    ] {
        assert!(
            has(&warnings, needle),
            "missing {needle:?} in {warnings:#?}"
        );
    }
    assert!(!has(&warnings, "lacks Backup services"), "{warnings:#?}");
    assert!(
        loaded
            .warnings
            .iter()
            .all(|d| d.severity == Severity::Warning)
    );
}

#[test]
fn unquoted_dotted_record_keys_still_spell_the_name() {
    let loaded = load("[records]\nacct.privatelink.blob.core.windows.net = \"10.0.0.1\"\n");
    assert!(matches!(
        loaded
            .mapping
            .lookup("acct.privatelink.blob.core.windows.net", QueryType::A),
        Lookup::Answer { .. }
    ));
}

#[test]
fn own_zones_serve_lab_names_and_the_deepest_zone_wins() {
    let loaded = load(
        r#"
[[zone]]
name = "lab.internal"
[[zone]]
name = "sub.privatelink.blob.core.windows.net"
[records]
"db.lab.internal" = ["10.1.0.1", "fd00::1"]
"x.sub.privatelink.blob.core.windows.net" = "10.1.0.2"
"#,
    );
    let m = &loaded.mapping;
    assert_eq!(
        m.zone_for("db.lab.internal").map(|z| z.apex.as_str()),
        Some("lab.internal")
    );
    assert_eq!(
        m.zone_for("x.sub.privatelink.blob.core.windows.net")
            .map(|z| z.apex.as_str()),
        Some("sub.privatelink.blob.core.windows.net")
    );
    let Lookup::Answer { records, .. } = m.lookup("db.lab.internal", QueryType::Aaaa) else {
        panic!("expected AAAA");
    };
    assert_eq!(records.v6.len(), 1);
    assert!(loaded.warnings.is_empty(), "{:#?}", warnings(&loaded));
}

#[test]
fn an_empty_file_loads_with_a_warning_and_the_defaults() {
    let loaded = load("");
    assert!(loaded.mapping.is_empty());
    assert_eq!(loaded.settings, crate::Settings::default());
    assert!(has(
        &warnings(&loaded),
        "m.toml: mapping: warning: the file maps no names"
    ));
}

#[test]
fn duplicate_zone_declarations_are_errors() {
    let list = problems("[[zone]]\nname = \"lab.internal\"\n[[zone]]\nname = \"LAB.internal\"\n");
    assert!(
        has(
            &list,
            "m.toml:3: zone[1]: zone lab.internal is declared twice (first at line 1)"
        ),
        "{list:#?}"
    );
}

#[test]
fn transfer_settings_parse_and_warn_when_they_cannot_work() {
    let loaded = load(
        "[server]\nallow_transfer = [\"10.20.0.4\", \"fd00::/64\"]\nnotify = [\"10.20.0.4\", \"[fd00::5]:5300\"]\n",
    );
    let server = &loaded.settings.server;
    assert!(server.transfers_enabled());
    assert_eq!(
        server.transfer_clients[0].network.to_string(),
        "10.20.0.4/32"
    );
    assert_eq!(server.notify[0].port(), 53, "a bare address means port 53");
    assert_eq!(server.notify[1].port(), 5300);
    assert!(!has(&warnings(&loaded), "server.notify"));
    assert!(!crate::Settings::default().server.transfers_enabled());

    let lonely = load("[server]\nnotify = [\"10.20.0.4\"]\n");
    assert!(has(
        &warnings(&lonely),
        "m.toml:2: server.notify: warning: secondaries are notified, but server.allow_transfer lets none of them transfer"
    ));
    let open = load("[server]\nallow_transfer = [\"0.0.0.0/0\"]\n");
    assert!(has(
        &warnings(&open),
        "m.toml:2: server.allow_transfer: warning: every client may transfer"
    ));
    assert!(has(
        &problems("[server]\nallow_transfer = [\"ten\"]\n"),
        "m.toml:2: server.allow_transfer[0]: \"ten\" is not a network"
    ));
    assert!(has(
        &problems("[server]\nnotify = [\"10.0.0.1:99999\"]\n"),
        "server.notify[0]"
    ));
}

#[test]
fn the_file_fingerprint_is_its_sha256() {
    assert_eq!(
        crate::sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(load("").sha256, crate::sha256_hex(b""));
}
