//! Azure Site Recovery private endpoint names (reference §1.6).
//!
//! A vault's Site Recovery private endpoint gets one A record per
//! microservice, `<vaultId>-asr-pod01-<svc>.<target-geo>` in
//! `privatelink.siterecovery.windowsazure.com`. Microsoft's Site Recovery
//! pages show `{Vault-ID}-asr-pod01-{type}-.{target-geo-code}.siterecovery.windowsazure.com`
//! (a stray `-`, no `privatelink`); Azure creates the form above.
//!
//! Which services: the REST API's `privateLinkResources` example lists six
//! members (`siteRecovery-rcm1`, `-prot2`, `-tel1`, `-srs1`, `-prot2b`,
//! `-id1`); the docs say five names exist once the endpoint is created and
//! two more once replication is enabled. The five without a letter suffix
//! are taken as the creation set (by analogy with Backup, whose `prot1b`,
//! `prot1c`… appear later); `prot2b` and any `prot2<letter>` are accepted as
//! the later ones. Only the creation set is required by `check`.

use super::backup::is_vault_id;
use super::geo::Cloud;

/// The names a Site Recovery private endpoint has once created.
pub const AT_CREATION: [&str; 5] = ["rcm1", "prot2", "tel1", "srs1", "id1"];

/// The names known to appear once replication is enabled.
pub const AFTER_REPLICATION: [&str; 1] = ["prot2b"];

/// True for the creation set and the later protection names (`prot2b`…).
pub fn is_known_service(svc: &str) -> bool {
    AT_CREATION.contains(&svc)
        || svc
            .strip_prefix("prot2")
            .is_some_and(|rest| rest.len() == 1 && rest.as_bytes()[0].is_ascii_lowercase())
}

/// The top-level suffix of the Site Recovery zone; Azure China lists none.
fn tld(cloud: Cloud) -> Option<&'static str> {
    match cloud {
        Cloud::Public => Some("com"),
        Cloud::UsGov => Some("us"),
        Cloud::China | Cloud::Other => None,
    }
}

/// The Site Recovery private zone of a cloud.
pub fn zone(cloud: Cloud) -> Option<String> {
    tld(cloud).map(|tld| format!("privatelink.siterecovery.windowsazure.{tld}"))
}

/// The private FQDN of one Site Recovery service of a vault.
pub fn name(vault_id: &str, svc: &str, geo: &str, cloud: Cloud) -> Option<String> {
    let zone = zone(cloud)?;
    Some(format!("{vault_id}-asr-pod01-{svc}.{geo}.{zone}"))
}

/// The parts of a Site Recovery private name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRecoveryName<'a> {
    pub vault_id: &'a str,
    pub service: &'a str,
    pub geo: &'a str,
    pub cloud: Cloud,
}

/// Splits `<vaultId>-asr-pod01-<svc>.<geo>.privatelink.siterecovery.windowsazure.<tld>`.
pub fn parse(name: &str) -> Option<SiteRecoveryName<'_>> {
    let (label, rest) = name.split_once('.')?;
    let (vault_id, service) = label.split_once("-asr-pod01-")?;
    let (geo, tld) = rest.split_once(".privatelink.siterecovery.windowsazure.")?;
    let cloud = match tld {
        "com" => Cloud::Public,
        "us" => Cloud::UsGov,
        _ => return None,
    };
    (is_vault_id(vault_id) && !service.is_empty() && !geo.is_empty() && !geo.contains('.'))
        .then_some(SiteRecoveryName {
            vault_id,
            service,
            geo,
            cloud,
        })
}

/// The private name of the documentation's public form
/// (`<id>-asr-pod01-<svc>[-].<geo>.siterecovery.windowsazure.<tld>`).
pub fn private_name_of_documented(name: &str) -> Option<String> {
    let (label, rest) = name.split_once('.')?;
    let label = label.strip_suffix('-').unwrap_or(label);
    let (geo, tld) = rest.split_once(".siterecovery.windowsazure.")?;
    if geo.contains('.') || geo == "privatelink" {
        return None;
    }
    let private = format!("{label}.{geo}.privatelink.siterecovery.windowsazure.{tld}");
    parse(&private).is_some().then_some(private)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_azure_creates_and_their_parts() {
        let name = name("7548582474929277163", "rcm1", "cus", Cloud::Public).unwrap();
        assert_eq!(
            name,
            "7548582474929277163-asr-pod01-rcm1.cus.privatelink.siterecovery.windowsazure.com"
        );
        let parts = parse(&name).unwrap();
        assert_eq!(
            (parts.vault_id, parts.service, parts.geo, parts.cloud),
            ("7548582474929277163", "rcm1", "cus", Cloud::Public)
        );
        assert_eq!(
            super::name("1", "id1", "ugv", Cloud::UsGov).as_deref(),
            Some("1-asr-pod01-id1.ugv.privatelink.siterecovery.windowsazure.us")
        );
        assert_eq!(super::name("1", "id1", "sha2", Cloud::China), None);
        assert!(parse("1-ab-pod01-fab1.privatelink.we.backup.windowsazure.com").is_none());
    }

    #[test]
    fn services() {
        assert!(AT_CREATION.iter().all(|s| is_known_service(s)));
        assert!(is_known_service("prot2b"));
        assert!(is_known_service("prot2c"));
        assert!(!is_known_service("prot1"));
        assert!(!is_known_service("fab1"));
    }

    #[test]
    fn the_documented_public_form_is_recognised() {
        assert_eq!(
            private_name_of_documented(
                "7548582474929277163-asr-pod01-rcm1-.cus.siterecovery.windowsazure.com"
            )
            .as_deref(),
            Some(
                "7548582474929277163-asr-pod01-rcm1.cus.privatelink.siterecovery.windowsazure.com"
            )
        );
        assert_eq!(
            private_name_of_documented("www.cus.siterecovery.windowsazure.com"),
            None
        );
    }
}
