//! Azure Backup geo codes (reference §2): the `<geo>` in
//! `privatelink.<geo>.backup.windowsazure.com`, and the Azure region names
//! used by `{regionName}` zones.

/// The Azure cloud a region belongs to; each has its own DNS suffixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cloud {
    /// Azure public cloud (`.windowsazure.com`, `.core.windows.net`).
    Public,
    /// Azure Government (`.windowsazure.us`, `.core.usgovcloudapi.net`).
    UsGov,
    /// Azure operated by 21Vianet (`.windowsazure.cn`, `.core.chinacloudapi.cn`).
    China,
    /// Air-gapped or retired clouds (USSec, USNat, Azure Germany): their
    /// zone suffixes are not published, so no zone is built in for them.
    Other,
}

impl Cloud {
    /// The name used in the mapping file (`cloud = "usgov"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::UsGov => "usgov",
            Self::China => "china",
            Self::Other => "other",
        }
    }

    /// The top-level suffix of the Backup zones (`com`, `us`, `cn`).
    pub fn backup_tld(self) -> Option<&'static str> {
        match self {
            Self::Public => Some("com"),
            Self::UsGov => Some("us"),
            Self::China => Some("cn"),
            Self::Other => None,
        }
    }

    /// The storage suffix after `blob.` / `queue.` (`core.windows.net`, …).
    pub fn storage_suffix(self) -> Option<&'static str> {
        match self {
            Self::Public => Some("core.windows.net"),
            Self::UsGov => Some("core.usgovcloudapi.net"),
            Self::China => Some("core.chinacloudapi.cn"),
            Self::Other => None,
        }
    }
}

/// One Azure region: its ARM name, its Backup geo code and its cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub name: &'static str,
    pub geo: &'static str,
    pub cloud: Cloud,
}

const fn region(name: &'static str, geo: &'static str, cloud: Cloud) -> Region {
    Region { name, geo, cloud }
}

use Cloud::{China, Other, Public, UsGov};

/// Every region with a Backup geo code (reference §2, 91 codes).
pub const REGIONS: &[Region] = &[
    region("eastus", "eus", Public),
    region("eastus2", "eus2", Public),
    region("centralus", "cus", Public),
    region("northcentralus", "ncus", Public),
    region("southcentralus", "scus", Public),
    region("westcentralus", "wcus", Public),
    region("westus", "wus", Public),
    region("westus2", "wus2", Public),
    region("westus3", "wus3", Public),
    region("centraluseuap", "ccy", Public),
    region("eastus2euap", "ecy", Public),
    region("canadacentral", "cnc", Public),
    region("canadaeast", "cne", Public),
    region("brazilsouth", "brs", Public),
    region("brazilsoutheast", "bse", Public),
    region("northeurope", "ne", Public),
    region("westeurope", "we", Public),
    region("uksouth", "uks", Public),
    region("ukwest", "ukw", Public),
    region("francecentral", "frc", Public),
    region("francesouth", "frs", Public),
    region("germanywestcentral", "gwc", Public),
    region("germanynorth", "gn", Public),
    region("switzerlandnorth", "szn", Public),
    region("switzerlandwest", "szw", Public),
    region("norwayeast", "nwe", Public),
    region("norwaywest", "nww", Public),
    region("swedencentral", "sdc", Public),
    region("swedensouth", "sds", Public),
    region("austriaeast", "aue", Public),
    region("belgiumcentral", "bec", Public),
    region("denmarkeast", "dke", Public),
    region("israelnorthwest", "iln", Public),
    region("eastus3", "eus3", Public),
    region("southeastus", "use", Public),
    region("southeastus5", "use5", Public),
    region("northeastus5", "ne5s", Public),
    region("koreacentral", "krc", Public),
    region("koreasouth", "krs", Public),
    region("centralindia", "inc", Public),
    region("southindia", "ins", Public),
    region("westindia", "inw", Public),
    region("jioindiacentral", "jic", Public),
    region("jioindiawest", "jiw", Public),
    region("uaenorth", "uan", Public),
    region("uaecentral", "uac", Public),
    region("southafricanorth", "san", Public),
    region("southafricawest", "saw", Public),
    region("australiaeast", "ae", Public),
    region("australiasoutheast", "ase", Public),
    region("australiacentral", "acl", Public),
    region("australiacentral2", "acl2", Public),
    region("eastasia", "ea", Public),
    region("southeastasia", "sea", Public),
    region("japaneast", "jpe", Public),
    region("japanwest", "jpw", Public),
    region("qatarcentral", "qac", Public),
    region("israelcentral", "ilc", Public),
    region("italynorth", "itn", Public),
    region("polandcentral", "plc", Public),
    region("spaincentral", "spc", Public),
    region("mexicocentral", "mxc", Public),
    region("chilecentral", "clc", Public),
    region("newzealandnorth", "nzn", Public),
    region("taiwannorth", "twn", Public),
    region("taiwannorthwest", "tnw", Public),
    region("malaysiawest", "myw", Public),
    region("malaysiasouth", "mys", Public),
    region("indonesiacentral", "idc", Public),
    region("indiasouthcentral", "insc", Public),
    region("southcentralus2", "usc2", Public),
    region("southeastus3", "use3", Public),
    region("southwestus", "swus", Public),
    region("usgovvirginia", "ugv", UsGov),
    region("usgovtexas", "ugt", UsGov),
    region("usgovarizona", "uga", UsGov),
    region("usdodcentral", "udc", UsGov),
    region("usdodeast", "ude", UsGov),
    region("usgoviowa", "ugi", UsGov),
    region("usseceast", "rxe", Other),
    region("ussecwest", "rxw", Other),
    region("usnateast", "exe", Other),
    region("usnatwest", "exw", Other),
    region("chinanorth", "bjb", China),
    region("chinanorth2", "bjb2", China),
    region("chinanorth3", "bjb3", China),
    region("chinaeast", "sha", China),
    region("chinaeast2", "sha2", China),
    region("chinaeast3", "sha3", China),
    region("germanycentral", "gec", Other),
    region("germanynortheast", "gne", Other),
];

/// The region whose Backup geo code is `code` (lower case).
pub fn region_by_geo(code: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.geo == code)
}

/// The region whose ARM name is `name` (`westeurope`).
pub fn region_by_name(name: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.name == name)
}

/// Up to three valid geo codes of `cloud` closest to a mistyped `code`,
/// for hints such as "did you mean we, ne?".
pub fn closest_geo_codes(code: &str, cloud: Cloud) -> Vec<&'static str> {
    // Codes are 2 to 4 letters: two edits away, any short code looks "close".
    let reach = if code.len() <= 3 { 1 } else { 2 };
    let mut scored: Vec<(usize, &'static str)> = REGIONS
        .iter()
        .filter(|r| r.cloud == cloud)
        .map(|r| (edit_distance(code, r.geo), r.geo))
        .filter(|(d, _)| *d <= reach)
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, geo)| geo).collect()
}

/// Levenshtein distance, for "did you mean" hints on short identifiers.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_lower_case() {
        let mut codes: Vec<_> = REGIONS.iter().map(|r| r.geo).collect();
        assert_eq!(codes.len(), 91);
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 91, "duplicate geo code");
        assert!(REGIONS.iter().all(|r| r.geo == r.geo.to_ascii_lowercase()));
    }

    #[test]
    fn lookups_by_code_and_name() {
        assert_eq!(region_by_geo("we").map(|r| r.name), Some("westeurope"));
        assert_eq!(region_by_name("uksouth").map(|r| r.geo), Some("uks"));
        assert_eq!(region_by_geo("ugv").map(|r| r.cloud), Some(Cloud::UsGov));
        assert!(region_by_geo("westeurope").is_none());
    }

    #[test]
    fn closest_codes_suggest_near_misses() {
        assert_eq!(closest_geo_codes("wee", Cloud::Public)[0], "we");
        assert!(closest_geo_codes("eus4", Cloud::Public).contains(&"eus"));
        assert!(closest_geo_codes("zzzzzzz", Cloud::Public).is_empty());
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
