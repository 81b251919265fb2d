//! `[[view]]`: reading, checking and laying views over the top level.

use std::net::{IpAddr, Ipv4Addr};

use crate::tests::{has, load, problems, warnings};
use crate::{Lookup, QueryType};

const BACKUP_NAME: &str =
    "1132794570626989392-ab-pod01-fab1.privatelink.we.backup.windowsazure.com";
const BLOB: &str = "weacct01pod01ecs114.privatelink.blob.core.windows.net";

const TWO_NETWORKS: &str = r#"
[[vault]]
name = "rsv-prod-we"
id = "1132794570626989392"
geo = "we"
[vault.backup]
fab1 = "10.10.0.4"

[records]
"weacct01pod01ecs114.privatelink.blob.core.windows.net" = "10.10.0.12"
"shared.privatelink.blob.core.windows.net" = "10.10.0.13"

[[view]]
name = "vnet-hub-ne"
clients = ["10.20.0.0/16", "192.168.50.0/24"]

[[view.vault]]
name = "rsv-prod-we-pe-ne"
id = "1132794570626989392"
geo = "we"
[view.vault.backup]
fab1 = "10.20.0.4"

[view.records]
"weacct01pod01ecs114.privatelink.blob.core.windows.net" = "10.20.0.12"

[[view.zone]]
name = "lab.internal"

[[view]]
name = "branch"
clients = ["10.20.7.0/24"]
[view.records]
"weacct01pod01ecs114.privatelink.blob.core.windows.net" = "10.30.0.12"
"#;

fn v4(mapping: &crate::Mapping, name: &str) -> Vec<Ipv4Addr> {
    match mapping.lookup(name, QueryType::A) {
        Lookup::Answer { records, .. } => records.v4.to_vec(),
        other => panic!("{name}: {other:?}"),
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn a_view_lays_its_addresses_over_the_top_level() {
    let loaded = load(TWO_NETWORKS);
    assert_eq!(loaded.views.len(), 2);
    let hub = loaded.views.get(0).unwrap();
    assert_eq!(&*hub.name, "vnet-hub-ne");
    assert_eq!(
        v4(&loaded.mapping, BACKUP_NAME),
        [Ipv4Addr::new(10, 10, 0, 4)]
    );
    assert_eq!(v4(&hub.mapping, BACKUP_NAME), [Ipv4Addr::new(10, 20, 0, 4)]);
    assert_eq!(v4(&hub.mapping, BLOB), [Ipv4Addr::new(10, 20, 0, 12)]);
    // What the view does not map, it answers as the top level does.
    let shared = "shared.privatelink.blob.core.windows.net";
    assert_eq!(v4(&hub.mapping, shared), [Ipv4Addr::new(10, 10, 0, 13)]);
    // A view's zone is the view's only.
    assert!(matches!(
        hub.mapping.lookup("x.lab.internal", QueryType::A),
        Lookup::NxDomain { .. }
    ));
    assert!(matches!(
        loaded.mapping.lookup("x.lab.internal", QueryType::A),
        Lookup::NotServed
    ));
    let branch = loaded.views.get(1).unwrap();
    assert_eq!(v4(&branch.mapping, BLOB), [Ipv4Addr::new(10, 30, 0, 12)]);
    assert_eq!(
        v4(&branch.mapping, BACKUP_NAME),
        [Ipv4Addr::new(10, 10, 0, 4)]
    );
}

#[test]
fn the_longest_client_prefix_picks_the_view() {
    let loaded = load(TWO_NETWORKS);
    let views = &loaded.views;
    assert_eq!(views.select(ip("10.20.1.1")), Some(0));
    assert_eq!(views.select(ip("192.168.50.9")), Some(0));
    assert_eq!(
        views.select(ip("10.20.7.9")),
        Some(1),
        "the /24 inside the /16"
    );
    assert_eq!(
        views.select(ip("::ffff:10.20.7.9")),
        Some(1),
        "IPv4 on a dual-stack socket"
    );
    assert_eq!(views.select(ip("10.10.0.1")), None);
    assert_eq!(views.select(ip("::1")), None);
    // The carve-out is worth a word, not an error.
    assert!(has(
        &warnings(&loaded),
        "10.20.7.0/24 lies inside 10.20.0.0/16 of view vnet-hub-ne"
    ));
}

#[test]
fn view_mistakes_are_reported_with_their_lines() {
    let text = r#"
[records]
"a.privatelink.blob.core.windows.net" = "10.0.0.1"

[[view]]
name = "one"
clients = ["10.1.0.0/16"]
[view.records]
"a.privatelink.blob.core.windows.net" = "10.0.0.1"
"b.privatelink.blob.core.windows.net" = "not-an-ip"

[[view]]
name = "one"
clients = ["10.1.0.0/16", "nowhere"]
colour = "blue"
[view.records]
"c.blob.core.windows.net" = "10.0.0.3"
"#;
    let found = problems(text);
    for needle in [
        "m.toml:12: view[1].name: view one is declared twice (first at line 5)",
        "m.toml:12: view[1].clients: 10.1.0.0/16 is a client network of view one (line 5) too",
        "view[1].clients[1]: \"nowhere\" is not a network",
        "view[1].colour: unknown key `colour`",
        "m.toml:10: view[0].records.\"b.privatelink.blob.core.windows.net\"",
        "m.toml:17: view[1].records.\"c.blob.core.windows.net\": c.blob.core.windows.net is under no served zone",
    ] {
        assert!(has(&found, needle), "{needle} not in {found:#?}");
    }
}

#[test]
fn a_view_entry_that_repeats_the_top_level_is_a_warning() {
    let text = r#"
[records]
"a.privatelink.blob.core.windows.net" = "10.0.0.1"

[[view]]
name = "one"
clients = ["10.1.0.0/16"]
[view.records]
"a.privatelink.blob.core.windows.net" = "10.0.0.1"
"#;
    let loaded = load(text);
    assert!(has(
        &warnings(&loaded),
        "m.toml:9: view[0].records.\"a.privatelink.blob.core.windows.net\": warning: a.privatelink.blob.core.windows.net has the same addresses in view one as at the top level (line 3)"
    ));
}

#[test]
fn a_file_without_views_has_none() {
    let loaded = load("[records]\n\"a.privatelink.blob.core.windows.net\" = \"10.0.0.1\"\n");
    assert!(loaded.views.is_empty());
    assert_eq!(loaded.views.select(ip("10.0.0.1")), None);
}
