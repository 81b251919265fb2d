//! Zone inference and twins over every catalogue row.

use super::*;
use crate::azure::catalogue::rows;

fn name(text: &str) -> DomainName {
    DomainName::parse(text).unwrap()
}

fn zone_of(text: &str) -> Option<String> {
    azure_zone_for(&name(text)).zone().map(ToString::to_string)
}

/// A concrete value for each placeholder of a row's cloud.
fn concrete(pattern: &str, cloud: Cloud) -> String {
    pattern
        .replace(
            "{regionCode}",
            match cloud {
                Cloud::Public => "we",
                Cloud::UsGov => "ugv",
                Cloud::China => "sha2",
                Cloud::Other => "rxe",
            },
        )
        .replace("{regionName}", "westeurope")
        .replace("{dnsPrefix}", "a1b2c3")
        .replace("{partitionId}", "3")
        .replace("{subzone}", "f0e1d2c3")
}

#[test]
fn every_row_is_inferred_from_a_name_inside_it() {
    for row in rows() {
        let zone = concrete(row.zone, row.cloud);
        assert_eq!(
            zone_of(&format!("host01.{zone}")).as_deref(),
            Some(zone.as_str()),
            "{}",
            row.zone
        );
        if !row.zone.starts_with("{subzone}") {
            assert!(
                matches!(azure_zone_for(&name(&zone)), ZoneMatch::Zone(_, r) if r == row),
                "{}",
                row.zone
            );
        }
    }
}

#[test]
fn every_twin_resolves_both_ways() {
    for row in rows() {
        let zone = name(&concrete(row.zone, row.cloud));
        let twins = public_twins(&zone);
        assert_eq!(twins.len(), row.twins.len(), "{}", row.zone);
        for twin in twins {
            let public = name(&format!("host01.{twin}"));
            let (private, _) = private_name_of_public(&public)
                .unwrap_or_else(|| panic!("{public} has no private name"));
            // The private name lies in this row's zone (or one that
            // serves the same names, like the ACR data zones).
            assert!(
                private.as_str().starts_with("host01."),
                "{public} -> {private}"
            );
            assert!(zone_of(private.as_str()).is_some(), "{public} -> {private}");
            assert!(
                matches!(public_zone_problem(&twin), Some(PublicZone::Public { .. })),
                "{twin}"
            );
        }
    }
}

#[test]
fn backup_names_get_their_geo_zone() {
    assert_eq!(
        zone_of("1132794570626989392-ab-pod01-rec2.privatelink.we.backup.windowsazure.com")
            .as_deref(),
        Some("privatelink.we.backup.windowsazure.com")
    );
    assert_eq!(
        zone_of("123-ab-pod01-fab1.privatelink.ugv.backup.windowsazure.us").as_deref(),
        Some("privatelink.ugv.backup.windowsazure.us")
    );
}

#[test]
fn unknown_geo_codes_are_named() {
    assert_eq!(
        azure_zone_for(&name(
            "123-ab-pod01-fab1.privatelink.wee.backup.windowsazure.com"
        )),
        ZoneMatch::UnknownGeo {
            code: "wee".into(),
            cloud: Cloud::Public,
            template: "privatelink.{regionCode}.backup.windowsazure.com"
        }
    );
    // A public-cloud code in a Government zone is wrong too.
    assert!(matches!(
        azure_zone_for(&name("x.privatelink.we.backup.windowsazure.us")),
        ZoneMatch::UnknownGeo {
            cloud: Cloud::UsGov,
            ..
        }
    ));
    assert!(matches!(
        azure_zone_for(&name("x.privatelink.atlantis.kusto.windows.net")),
        ZoneMatch::UnknownRegion { .. }
    ));
}

#[test]
fn deepest_zone_wins() {
    assert_eq!(
        zone_of("app.scm.privatelink.azurewebsites.net").as_deref(),
        Some("scm.privatelink.azurewebsites.net")
    );
    assert_eq!(
        zone_of("app.privatelink.azurewebsites.net").as_deref(),
        Some("privatelink.azurewebsites.net")
    );
    assert_eq!(
        zone_of("privatelink.blob.core.windows.net").as_deref(),
        Some("privatelink.blob.core.windows.net")
    );
    // AKS: the API server's name in the cluster's own subzone; one
    // label down is the region's zone.
    assert_eq!(
        zone_of("aks-dns-1a2b.privatelink.westeurope.azmk8s.io").as_deref(),
        Some("privatelink.westeurope.azmk8s.io")
    );
    assert_eq!(
        zone_of("aks-dns-1a2b.f0e1d2c3.privatelink.westeurope.azmk8s.io").as_deref(),
        Some("f0e1d2c3.privatelink.westeurope.azmk8s.io")
    );
}

#[test]
fn public_twins_follow_azures_cnames() {
    let twins = |zone: &str| -> Vec<String> {
        public_twins(&name(zone))
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        twins("privatelink.blob.core.windows.net"),
        ["blob.core.windows.net", "blob.storage.azure.net"]
    );
    assert_eq!(
        twins("privatelink.queue.core.usgovcloudapi.net"),
        ["queue.core.usgovcloudapi.net"]
    );
    assert_eq!(
        twins("privatelink.vaultcore.azure.net"),
        ["vault.azure.net", "vaultcore.azure.net"]
    );
    assert_eq!(
        twins("scm.privatelink.azurewebsites.net"),
        ["scm.azurewebsites.net"]
    );
    assert_eq!(
        twins("westeurope.data.privatelink.azurecr.io"),
        ["westeurope.data.azurecr.io"]
    );
    assert_eq!(
        twins("privatelink.wvd.microsoft.com"),
        ["wvd.microsoft.com"]
    );
    assert_eq!(
        twins("privatelink-global.wvd.microsoft.com"),
        ["wvd.microsoft.com"]
    );
    assert!(twins("privatelink.we.backup.windowsazure.com").is_empty());
    assert!(twins("privatelink.siterecovery.windowsazure.com").is_empty());
    assert!(twins("lab.internal").is_empty());
}

#[test]
fn public_names_map_to_their_private_names() {
    let private = |public: &str| {
        private_name_of_public(&name(public)).map(|(private, _)| private.to_string())
    };
    assert_eq!(
        private("kv-contoso-prod-we.vault.azure.net").as_deref(),
        Some("kv-contoso-prod-we.privatelink.vaultcore.azure.net")
    );
    assert_eq!(
        private("crcontosoprod.westeurope.data.azurecr.io").as_deref(),
        Some("crcontosoprod.westeurope.data.privatelink.azurecr.io")
    );
    assert_eq!(
        private("md-1a2b3c.blob.storage.azure.net").as_deref(),
        Some("md-1a2b3c.privatelink.blob.core.windows.net")
    );
    assert_eq!(private("login.microsoftonline.com"), None);
    assert_eq!(private("vault.azure.net"), None);
}

#[test]
fn public_zones_and_their_parents_are_refused() {
    let problem = |zone: &str| public_zone_problem(&name(zone));
    assert!(
        matches!(problem("vault.azure.net"), Some(PublicZone::Public { row, .. }) if row.zone == "privatelink.vaultcore.azure.net")
    );
    assert!(matches!(
        problem("blob.core.windows.net"),
        Some(PublicZone::Public { .. })
    ));
    assert!(matches!(
        problem("acct.blob.core.windows.net"),
        Some(PublicZone::Public { .. })
    ));
    assert!(matches!(
        problem("core.windows.net"),
        Some(PublicZone::Above { .. })
    ));
    assert!(matches!(
        problem("windows.net"),
        Some(PublicZone::Above { .. })
    ));
    assert!(matches!(
        problem("backup.windowsazure.com"),
        Some(PublicZone::Above { .. })
    ));
    assert_eq!(problem("privatelink.blob.core.windows.net"), None);
    assert_eq!(problem("privatelink.azure.com"), None);
    assert_eq!(problem("lab.internal"), None);
    assert_eq!(problem("privatelink.contoso.com"), None);
}

#[test]
fn public_names_have_no_zone() {
    assert_eq!(zone_of("acct.blob.core.windows.net"), None);
    assert_eq!(zone_of("login.microsoftonline.com"), None);
    assert_eq!(
        zone_of("123-ab-pod01-fab1.we.backup.windowsazure.com"),
        None
    );
}
