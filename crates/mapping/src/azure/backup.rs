//! Azure Backup private endpoint names (reference §1, §3).
//!
//! A Recovery Services vault's Backup private endpoint gets one A record per
//! service, `<vaultId>-ab-pod01-<svc>` in `privatelink.<geo>.backup.windowsazure.com`.
//! Microsoft's concept pages show a dotted `<vaultId>.<svc>.privatelink…`
//! template instead; no deployment uses it, so `check` flags it.

use super::geo::Cloud;

/// The eight services every Backup private endpoint has (the REST API's
/// `requiredMembers`, `backup-<svc>`).
pub const REQUIRED_SERVICES: [&str; 8] = [
    "fab1", "rec2", "prot1", "ecs1", "tel1", "wbcm1", "fc1", "id1",
];

/// True for the eight required services and the extra protection endpoints
/// Azure adds over time (`prot1b`, `prot1c`, … seen in real deployments).
pub fn is_known_service(svc: &str) -> bool {
    REQUIRED_SERVICES.contains(&svc)
        || svc
            .strip_prefix("prot1")
            .is_some_and(|rest| rest.len() == 1 && rest.as_bytes()[0].is_ascii_lowercase())
}

/// True when `id` looks like a vault id: 1 to 19 decimal digits (every id
/// seen is a positive 64-bit integer).
pub fn is_vault_id(id: &str) -> bool {
    (1..=19).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// The Backup private zone of a geo code: `privatelink.<geo>.backup.windowsazure.<tld>`.
pub fn backup_zone(geo: &str, cloud: Cloud) -> Option<String> {
    let tld = cloud.backup_tld()?;
    Some(format!("privatelink.{geo}.backup.windowsazure.{tld}"))
}

/// The private FQDN of one Backup service of a vault.
pub fn backup_name(vault_id: &str, svc: &str, geo: &str, cloud: Cloud) -> Option<String> {
    let zone = backup_zone(geo, cloud)?;
    Some(format!("{vault_id}-ab-pod01-{svc}.{zone}"))
}

/// Which storage service a storage account name is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StorageService {
    Blob,
    Queue,
}

impl StorageService {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blob => "blob",
            Self::Queue => "queue",
        }
    }
}

/// The private FQDN of a storage account's blob or queue endpoint.
pub fn storage_name(account: &str, service: StorageService, cloud: Cloud) -> Option<String> {
    let suffix = cloud.storage_suffix()?;
    Some(format!(
        "{account}.privatelink.{}.{suffix}",
        service.as_str()
    ))
}

/// True for a valid storage account name: 3 to 24 lower-case letters and digits.
pub fn is_storage_account(account: &str) -> bool {
    (3..=24).contains(&account.len())
        && account
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Recognises the documentation's dotted form `<vaultId>.<svc>.privatelink.<geo>.backup.windowsazure.<tld>`
/// and returns the name Azure really creates.
pub fn real_name_of_dotted(name: &str) -> Option<String> {
    let mut labels = name.splitn(3, '.');
    let id = labels.next()?;
    let svc = labels.next()?;
    let rest = labels.next()?;
    let geo_and_suffix = rest.strip_prefix("privatelink.")?;
    let (_, suffix) = geo_and_suffix.split_once('.')?;
    let dotted =
        is_vault_id(id) && is_known_service(svc) && suffix.starts_with("backup.windowsazure.");
    dotted.then(|| format!("{id}-ab-pod01-{svc}.{rest}"))
}

/// The parts of a real Backup private name: vault id, service, geo code and cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupName<'a> {
    pub vault_id: &'a str,
    pub service: &'a str,
    pub geo: &'a str,
    pub cloud: Cloud,
}

/// Splits `<vaultId>-ab-pod01-<svc>.privatelink.<geo>.backup.windowsazure.<tld>`.
pub fn parse_backup_name(name: &str) -> Option<BackupName<'_>> {
    let (label, zone) = name.split_once('.')?;
    let (vault_id, service) = label.split_once("-ab-pod01-")?;
    let (geo, tld) = zone
        .strip_prefix("privatelink.")?
        .split_once(".backup.windowsazure.")?;
    let cloud = match tld {
        "com" => Cloud::Public,
        "us" => Cloud::UsGov,
        "cn" => Cloud::China,
        _ => return None,
    };
    (is_vault_id(vault_id) && !service.is_empty() && !geo.contains('.')).then_some(BackupName {
        vault_id,
        service,
        geo,
        cloud,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_azure_creates() {
        assert_eq!(
            backup_name("1132794570626989392", "rec2", "we", Cloud::Public).as_deref(),
            Some("1132794570626989392-ab-pod01-rec2.privatelink.we.backup.windowsazure.com")
        );
        assert_eq!(
            backup_name("1", "fab1", "ugv", Cloud::UsGov).as_deref(),
            Some("1-ab-pod01-fab1.privatelink.ugv.backup.windowsazure.us")
        );
        assert_eq!(
            storage_name("weacct01pod01ecs114", StorageService::Queue, Cloud::Public).as_deref(),
            Some("weacct01pod01ecs114.privatelink.queue.core.windows.net")
        );
        assert_eq!(
            storage_name("acct", StorageService::Blob, Cloud::China).as_deref(),
            Some("acct.privatelink.blob.core.chinacloudapi.cn")
        );
        assert_eq!(backup_name("1", "fab1", "rxe", Cloud::Other), None);
    }

    #[test]
    fn services_ids_and_accounts() {
        assert!(REQUIRED_SERVICES.iter().all(|s| is_known_service(s)));
        assert!(is_known_service("prot1b"));
        assert!(is_known_service("prot1i"));
        assert!(!is_known_service("prot1bb"));
        assert!(!is_known_service("web1"));
        assert!(is_vault_id("1132794570626989392"));
        assert!(!is_vault_id("11327945706269893920"));
        assert!(!is_vault_id("12a"));
        assert!(!is_vault_id(""));
        assert!(is_storage_account("weacct01pod01ecs114"));
        assert!(!is_storage_account("We_acct"));
        assert!(!is_storage_account("ab"));
    }

    #[test]
    fn dotted_documentation_form_is_recognised() {
        assert_eq!(
            real_name_of_dotted("1132794570626989392.fab1.privatelink.we.backup.windowsazure.com")
                .as_deref(),
            Some("1132794570626989392-ab-pod01-fab1.privatelink.we.backup.windowsazure.com")
        );
        assert_eq!(
            real_name_of_dotted("acct.blob.privatelink.blob.core.windows.net"),
            None
        );
    }

    #[test]
    fn backup_names_split_into_parts() {
        let parts = parse_backup_name(
            "1132794570626989392-ab-pod01-prot1b.privatelink.eus2.backup.windowsazure.com",
        )
        .unwrap();
        assert_eq!(parts.vault_id, "1132794570626989392");
        assert_eq!(parts.service, "prot1b");
        assert_eq!(parts.geo, "eus2");
        assert_eq!(parts.cloud, Cloud::Public);
        assert_eq!(
            parse_backup_name("acct.privatelink.blob.core.windows.net"),
            None
        );
    }
}
