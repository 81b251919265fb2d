//! The built-in catalogue of Azure Private Link DNS zones (reference §7), and
//! zone inference: which zone a configured name belongs to.
//!
//! Templates use Azure's own placeholders: `{regionCode}` is a Backup geo
//! code of the template's cloud, `{regionName}` an Azure region name, and
//! `{dnsPrefix}` or `{partitionId}` any single label. AKS's optional
//! `{subzone}.privatelink.{regionName}.azmk8s.io` is left out: a template
//! starting with a free label would claim every name one level below
//! `privatelink.{regionName}.azmk8s.io`; declare such zones with `[[zone]]`.

use std::sync::LazyLock;

use super::geo::{self, Cloud};
use crate::name::DomainName;

/// One Azure Private Link zone template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneTemplate {
    /// The zone name, possibly with placeholders.
    pub template: &'static str,
    /// The cloud whose geo codes fill `{regionCode}`.
    pub cloud: Cloud,
}

const fn public(template: &'static str) -> ZoneTemplate {
    ZoneTemplate {
        template,
        cloud: Cloud::Public,
    }
}

const fn usgov(template: &'static str) -> ZoneTemplate {
    ZoneTemplate {
        template,
        cloud: Cloud::UsGov,
    }
}

const fn china(template: &'static str) -> ZoneTemplate {
    ZoneTemplate {
        template,
        cloud: Cloud::China,
    }
}

/// Azure's Private Link zones: the 82 commercial templates of the Azure
/// Verified Modules pattern, three of the four it leaves to callers, and the
/// Government and China zones for Backup, Storage, Key Vault and SQL.
pub const AZURE_ZONES: &[ZoneTemplate] = &[
    public("privatelink.{regionCode}.backup.windowsazure.com"),
    public("privatelink.siterecovery.windowsazure.com"),
    public("privatelink.blob.core.windows.net"),
    public("privatelink.queue.core.windows.net"),
    public("privatelink.table.core.windows.net"),
    public("privatelink.file.core.windows.net"),
    public("privatelink.web.core.windows.net"),
    public("privatelink.dfs.core.windows.net"),
    public("privatelink.afs.azure.net"),
    public("privatelink.vaultcore.azure.net"),
    public("privatelink.managedhsm.azure.net"),
    public("privatelink.database.windows.net"),
    public("privatelink.{dnsPrefix}.database.windows.net"),
    public("privatelink.api.azureml.ms"),
    public("privatelink.notebooks.azure.net"),
    public("privatelink.cognitiveservices.azure.com"),
    public("privatelink.openai.azure.com"),
    public("privatelink.directline.botframework.com"),
    public("privatelink.token.botframework.com"),
    public("privatelink.servicebus.windows.net"),
    public("privatelink.datafactory.azure.net"),
    public("privatelink.adf.azure.com"),
    public("privatelink.azurehdinsight.net"),
    public("privatelink.{regionName}.kusto.windows.net"),
    public("privatelink.analysis.windows.net"),
    public("privatelink.pbidedicated.windows.net"),
    public("privatelink.tip1.powerquery.microsoft.com"),
    public("privatelink.azuredatabricks.net"),
    public("privatelink.batch.azure.com"),
    public("privatelink-global.wvd.microsoft.com"),
    public("privatelink.wvd.microsoft.com"),
    public("privatelink.{regionName}.azmk8s.io"),
    public("privatelink.azurecr.io"),
    public("{regionName}.data.privatelink.azurecr.io"),
    public("privatelink.documents.azure.com"),
    public("privatelink.mongo.cosmos.azure.com"),
    public("privatelink.cassandra.cosmos.azure.com"),
    public("privatelink.gremlin.cosmos.azure.com"),
    public("privatelink.table.cosmos.azure.com"),
    public("privatelink.analytics.cosmos.azure.com"),
    public("privatelink.postgres.cosmos.azure.com"),
    public("privatelink.mariadb.database.azure.com"),
    public("privatelink.postgres.database.azure.com"),
    public("privatelink.mysql.database.azure.com"),
    public("privatelink.redis.cache.windows.net"),
    public("privatelink.redisenterprise.cache.azure.net"),
    public("privatelink.his.arc.azure.com"),
    public("privatelink.guestconfiguration.azure.com"),
    public("privatelink.dp.kubernetesconfiguration.azure.com"),
    public("privatelink.eventgrid.azure.net"),
    public("privatelink.azure-api.net"),
    public("privatelink.workspace.azurehealthcareapis.com"),
    public("privatelink.fhir.azurehealthcareapis.com"),
    public("privatelink.dicom.azurehealthcareapis.com"),
    public("privatelink.azure-devices.net"),
    public("privatelink.azure-devices-provisioning.net"),
    public("privatelink.api.adu.microsoft.com"),
    public("privatelink.azureiotcentral.com"),
    public("privatelink.digitaltwins.azure.net"),
    public("privatelink.media.azure.net"),
    public("privatelink.azure-automation.net"),
    public("privatelink.monitor.azure.com"),
    public("privatelink.oms.opinsights.azure.com"),
    public("privatelink.ods.opinsights.azure.com"),
    public("privatelink.agentsvc.azure-automation.net"),
    public("privatelink.purview.azure.com"),
    public("privatelink.purviewstudio.azure.com"),
    public("privatelink.prod.migration.windowsazure.com"),
    public("privatelink.grafana.azure.com"),
    public("privatelink.azconfig.io"),
    public("privatelink.attest.azure.net"),
    public("privatelink.search.windows.net"),
    public("privatelink.azurewebsites.net"),
    public("scm.privatelink.azurewebsites.net"),
    public("privatelink.service.signalr.net"),
    public("privatelink.azurestaticapps.net"),
    public("privatelink.{partitionId}.azurestaticapps.net"),
    public("privatelink.azuresynapse.net"),
    public("privatelink.dev.azuresynapse.net"),
    public("privatelink.sql.azuresynapse.net"),
    public("privatelink.webpubsub.azure.com"),
    public("privatelink.azure.com"),
    usgov("privatelink.{regionCode}.backup.windowsazure.us"),
    usgov("privatelink.blob.core.usgovcloudapi.net"),
    usgov("privatelink.queue.core.usgovcloudapi.net"),
    usgov("privatelink.table.core.usgovcloudapi.net"),
    usgov("privatelink.file.core.usgovcloudapi.net"),
    usgov("privatelink.web.core.usgovcloudapi.net"),
    usgov("privatelink.dfs.core.usgovcloudapi.net"),
    usgov("privatelink.vaultcore.usgovcloudapi.net"),
    usgov("privatelink.database.usgovcloudapi.net"),
    china("privatelink.{regionCode}.backup.windowsazure.cn"),
    china("privatelink.blob.core.chinacloudapi.cn"),
    china("privatelink.queue.core.chinacloudapi.cn"),
    china("privatelink.table.core.chinacloudapi.cn"),
    china("privatelink.file.core.chinacloudapi.cn"),
    china("privatelink.web.core.chinacloudapi.cn"),
    china("privatelink.dfs.core.chinacloudapi.cn"),
    china("privatelink.vaultcore.azure.cn"),
    china("privatelink.database.chinacloudapi.cn"),
];

/// What the catalogue says about the zone of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneMatch {
    /// The deepest Azure zone that contains the name.
    Zone(DomainName),
    /// The name has the shape of a `{regionCode}` zone, but `code` is not a
    /// geo code of the template's cloud.
    UnknownGeo {
        code: String,
        cloud: Cloud,
        template: &'static str,
    },
    /// The name has the shape of a `{regionName}` zone with an unknown region.
    UnknownRegion {
        region: String,
        template: &'static str,
    },
    /// No Azure zone contains the name.
    None,
}

enum LabelMatch {
    Yes,
    No,
    BadGeo,
    BadRegion,
}

fn match_label(pattern: &str, label: &str, cloud: Cloud) -> LabelMatch {
    match pattern {
        "{regionCode}" => match geo::region_by_geo(label) {
            Some(region) if region.cloud == cloud => LabelMatch::Yes,
            _ => LabelMatch::BadGeo,
        },
        "{regionName}" => match geo::region_by_name(label) {
            Some(_) => LabelMatch::Yes,
            None => LabelMatch::BadRegion,
        },
        "{dnsPrefix}" | "{partitionId}" => LabelMatch::Yes,
        literal if literal == label => LabelMatch::Yes,
        _ => LabelMatch::No,
    }
}

/// A template with its labels.
type SplitTemplate = (&'static ZoneTemplate, Vec<&'static str>);

/// The templates split into labels once, grouped by label count: inference
/// runs for every configured name, and a 100,000-name file must load fast.
static BY_LABEL_COUNT: LazyLock<Vec<Vec<SplitTemplate>>> = LazyLock::new(|| {
    let mut groups: Vec<Vec<SplitTemplate>> = Vec::new();
    for template in AZURE_ZONES {
        let labels: Vec<&'static str> = template.template.split('.').collect();
        if groups.len() <= labels.len() {
            groups.resize_with(labels.len() + 1, Vec::new);
        }
        groups[labels.len()].push((template, labels));
    }
    groups
});

/// Matches the labels of one candidate zone against one template's labels
/// (of the same count), comparing from the top-level domain down.
fn match_template(
    template: &'static ZoneTemplate,
    pattern: &[&str],
    candidate: &[&str],
) -> ZoneMatch {
    let mut problem = None;
    for (pattern, label) in pattern.iter().zip(candidate).rev() {
        match match_label(pattern, label, template.cloud) {
            LabelMatch::Yes => {}
            LabelMatch::No => return ZoneMatch::None,
            LabelMatch::BadGeo => {
                problem = Some(ZoneMatch::UnknownGeo {
                    code: (*label).to_owned(),
                    cloud: template.cloud,
                    template: template.template,
                });
            }
            LabelMatch::BadRegion => {
                problem = Some(ZoneMatch::UnknownRegion {
                    region: (*label).to_owned(),
                    template: template.template,
                });
            }
        }
    }
    match (problem, DomainName::parse(&candidate.join("."))) {
        (Some(problem), _) => problem,
        (None, Ok(zone)) => ZoneMatch::Zone(zone),
        (None, Err(_)) => ZoneMatch::None,
    }
}

/// The deepest Azure Private Link zone containing `name` (the name itself
/// counts, for records at a zone apex).
///
/// A name that would belong to a `{regionCode}` zone but carries an unknown
/// geo code is reported as such, unless a valid zone contains it.
pub fn azure_zone_for(name: &DomainName) -> ZoneMatch {
    let labels: Vec<&str> = name.labels().collect();
    let mut problem = ZoneMatch::None;
    for start in 0..labels.len() {
        let candidate = &labels[start..];
        let Some(templates) = BY_LABEL_COUNT.get(candidate.len()) else {
            continue;
        };
        for (template, pattern) in templates {
            match match_template(template, pattern, candidate) {
                found @ ZoneMatch::Zone(_) => return found,
                ZoneMatch::None => {}
                other => {
                    if problem == ZoneMatch::None {
                        problem = other;
                    }
                }
            }
        }
    }
    problem
}

/// The public zones whose names Azure's public DNS CNAMEs into the private
/// zone `private` (reference §7, "public zone forwarder"): `acct.blob.core.windows.net`
/// → `acct.privatelink.blob.core.windows.net`. The rule is to drop the
/// `privatelink` label; Key Vault's `vault.azure.net` names also point into
/// `privatelink.vaultcore.azure.net`. Azure Backup and Site Recovery names
/// get no public CNAME (reference §1.4), so their zones have no twin.
pub fn public_twins(private: &DomainName) -> Vec<DomainName> {
    let text = private.as_str();
    let no_redirect =
        text.contains(".backup.windowsazure.") || text.contains(".siterecovery.windowsazure.");
    let labels: Vec<&str> = private.labels().collect();
    let Some(at) = labels.iter().position(|l| *l == "privatelink") else {
        return Vec::new();
    };
    if no_redirect || labels.len() < 3 {
        return Vec::new();
    }
    let mut public: Vec<&str> = labels.clone();
    public.remove(at);
    let mut twins: Vec<DomainName> = DomainName::parse(&public.join(".")).into_iter().collect();
    if let Some(rest) = text.strip_prefix("privatelink.vaultcore.")
        && let Ok(vault) = DomainName::parse(&format!("vault.{rest}"))
    {
        twins.push(vault);
    }
    twins
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone_of(name: &str) -> ZoneMatch {
        azure_zone_for(&DomainName::parse(name).unwrap())
    }

    fn zone(name: &str) -> ZoneMatch {
        ZoneMatch::Zone(DomainName::parse(name).unwrap())
    }

    #[test]
    fn every_template_is_inferred_from_a_name_inside_it() {
        for template in AZURE_ZONES {
            let concrete = template
                .template
                .replace(
                    "{regionCode}",
                    match template.cloud {
                        Cloud::Public => "we",
                        Cloud::UsGov => "ugv",
                        Cloud::China => "sha2",
                        Cloud::Other => "rxe",
                    },
                )
                .replace("{regionName}", "westeurope")
                .replace("{dnsPrefix}", "a1b2c3")
                .replace("{partitionId}", "3");
            let name = format!("host01.{concrete}");
            assert_eq!(zone_of(&name), zone(&concrete), "{}", template.template);
        }
    }

    #[test]
    fn backup_names_get_their_geo_zone() {
        assert_eq!(
            zone_of("1132794570626989392-ab-pod01-rec2.privatelink.we.backup.windowsazure.com"),
            zone("privatelink.we.backup.windowsazure.com")
        );
        assert_eq!(
            zone_of("123-ab-pod01-fab1.privatelink.ugv.backup.windowsazure.us"),
            zone("privatelink.ugv.backup.windowsazure.us")
        );
    }

    #[test]
    fn unknown_geo_codes_are_named() {
        assert_eq!(
            zone_of("123-ab-pod01-fab1.privatelink.wee.backup.windowsazure.com"),
            ZoneMatch::UnknownGeo {
                code: "wee".into(),
                cloud: Cloud::Public,
                template: "privatelink.{regionCode}.backup.windowsazure.com"
            }
        );
        // A public-cloud code in a Government zone is wrong too.
        assert!(matches!(
            zone_of("x.privatelink.we.backup.windowsazure.us"),
            ZoneMatch::UnknownGeo {
                cloud: Cloud::UsGov,
                ..
            }
        ));
        assert!(matches!(
            zone_of("x.privatelink.atlantis.kusto.windows.net"),
            ZoneMatch::UnknownRegion { .. }
        ));
    }

    #[test]
    fn deepest_zone_wins() {
        assert_eq!(
            zone_of("app.scm.privatelink.azurewebsites.net"),
            zone("scm.privatelink.azurewebsites.net")
        );
        assert_eq!(
            zone_of("app.privatelink.azurewebsites.net"),
            zone("privatelink.azurewebsites.net")
        );
        assert_eq!(
            zone_of("privatelink.blob.core.windows.net"),
            zone("privatelink.blob.core.windows.net")
        );
    }

    #[test]
    fn public_twins_follow_azures_cnames() {
        let twins = |zone: &str| -> Vec<String> {
            public_twins(&DomainName::parse(zone).unwrap())
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            twins("privatelink.blob.core.windows.net"),
            ["blob.core.windows.net"]
        );
        assert_eq!(
            twins("privatelink.queue.core.usgovcloudapi.net"),
            ["queue.core.usgovcloudapi.net"]
        );
        assert_eq!(
            twins("privatelink.vaultcore.azure.net"),
            ["vaultcore.azure.net", "vault.azure.net"]
        );
        assert_eq!(
            twins("scm.privatelink.azurewebsites.net"),
            ["scm.azurewebsites.net"]
        );
        assert_eq!(
            twins("westeurope.data.privatelink.azurecr.io"),
            ["westeurope.data.azurecr.io"]
        );
        assert!(twins("privatelink.we.backup.windowsazure.com").is_empty());
        assert!(twins("privatelink.siterecovery.windowsazure.com").is_empty());
        assert!(twins("lab.internal").is_empty());
        assert!(twins("privatelink-global.wvd.microsoft.com").is_empty());
    }

    #[test]
    fn public_names_have_no_zone() {
        assert_eq!(zone_of("acct.blob.core.windows.net"), ZoneMatch::None);
        assert_eq!(zone_of("login.microsoftonline.com"), ZoneMatch::None);
        assert_eq!(
            zone_of("123-ab-pod01-fab1.we.backup.windowsazure.com"),
            ZoneMatch::None
        );
    }
}
