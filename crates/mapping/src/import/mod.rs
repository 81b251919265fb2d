//! Turning what Azure knows into a mapping file: `az` CLI JSON output and
//! hosts files become `[[vault]]`, `[[vault.storage]]` and `[records]`.
//!
//! Readers ([`azure_cli`], [`hosts`]) produce [`Found`] names; [`render`]
//! groups them: Backup names by vault, the vault's storage accounts under
//! it when the input ties them to it, and everything else as records.
//! [`render_with_networks`] also writes one `[[view]]` per virtual network
//! whose private endpoints give names other addresses.

pub mod azure_cli;
pub mod hosts;
mod render;
mod views;

use std::net::IpAddr;

pub use render::render;
pub use views::render_with_networks;

/// Why an input could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: invalid JSON: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Shape { file: String, message: String },
}

/// One name found in an input, with what the input says around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The private FQDN, lower case, without the trailing dot.
    pub name: String,
    pub addrs: Vec<IpAddr>,
    /// The private endpoint the name belongs to, when the input says.
    pub endpoint: Option<String>,
    /// The name as the input spelled it and how it was turned into `name`,
    /// when they differ.
    pub shown_as: Option<(String, Derived)>,
    /// The resource the private endpoint connects to (the vault's name for
    /// Backup and Site Recovery), when the input says.
    pub resource: Option<String>,
    /// The input file, for comments.
    pub file: String,
    /// The virtual network of the private endpoint (its ARM id, lower
    /// case), when the input says (`subnet.id` of `private-endpoint show`).
    pub network: Option<String>,
}

impl Found {
    /// `fqdn` (as the input spells it) with its addresses, turned into the
    /// private name to serve; or why it is not imported. The one place both
    /// readers decide, so a hosts file and `az` output treat a name alike.
    pub(crate) fn from_input(fqdn: &str, addrs: Vec<IpAddr>, file: &str) -> Result<Self, Skipped> {
        let fqdn = fqdn.trim_end_matches('.');
        let skipped = |reason: String| Skipped {
            fqdn: fqdn.to_owned(),
            file: file.to_owned(),
            reason,
        };
        if addrs.is_empty() {
            return Err(skipped("no IP address in the input".to_owned()));
        }
        let (name, derived) =
            private_form(fqdn).ok_or_else(|| skipped(not_private_reason(fqdn)))?;
        Ok(Self {
            name,
            addrs,
            endpoint: None,
            shown_as: (derived != Derived::AsGiven).then(|| (fqdn.to_owned(), derived)),
            resource: None,
            file: file.to_owned(),
            network: None,
        })
    }
}

/// A virtual network, from `az network vnet show|list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The ARM id, lower case.
    pub id: String,
    pub name: String,
    /// `addressSpace.addressPrefixes`.
    pub prefixes: Vec<String>,
}

/// An FQDN of the input that is not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub fqdn: String,
    pub file: String,
    pub reason: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.fqdn, self.file, self.reason)
    }
}

/// What one input file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    pub found: Vec<Found>,
    pub networks: Vec<Network>,
    /// Names seen but not imported: each is reported, never dropped silently.
    pub skipped: Vec<Skipped>,
}

/// Why an FQDN with addresses has no private form.
fn not_private_reason(fqdn: &str) -> String {
    match crate::name::DomainName::parse(fqdn) {
        Err(error) => format!("not a valid DNS name: {error}"),
        Ok(_) => "not under an Azure Private Link zone, as given, through a public twin \
                  or with `.privatelink.` inserted; add it to [records] under your own \
                  [[zone]] if you serve it"
            .to_owned(),
    }
}

/// How an input's FQDN became the private name to serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derived {
    /// The FQDN lies in a Private Link zone as given.
    AsGiven,
    /// A public name (`kv.vault.azure.net`), mapped through the catalogue's
    /// public twin to the name Azure CNAMEs it to.
    Twin,
    /// `privatelink.` inserted after the first label: the form the old
    /// portal's "DNS configuration" showed (`<id>-ab-pod01-fab1.we.backup…`).
    Inserted,
}

/// The private form of an FQDN: as given when it lies in an Azure Private
/// Link zone, else its private twin from the catalogue, else with
/// `privatelink.` inserted after the first label when that makes it one.
/// `None` when no form is a Private Link name.
pub fn private_form(fqdn: &str) -> Option<(String, Derived)> {
    use crate::azure::zones::{azure_zone_for, private_name_of_public};
    use crate::name::DomainName;
    let name = DomainName::parse(fqdn).ok()?;
    if azure_zone_for(&name).zone().is_some() {
        return Some((name.to_string(), Derived::AsGiven));
    }
    if let Some((private, _)) = private_name_of_public(&name)
        && azure_zone_for(&private).zone().is_some()
    {
        return Some((private.to_string(), Derived::Twin));
    }
    if let Some(private) = crate::azure::site_recovery::private_name_of_documented(name.as_str()) {
        return Some((private, Derived::Inserted));
    }
    let (first, rest) = name.as_str().split_once('.')?;
    let inserted = DomainName::parse(&format!("{first}.privatelink.{rest}")).ok()?;
    azure_zone_for(&inserted)
        .zone()
        .is_some()
        .then(|| (inserted.to_string(), Derived::Inserted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_privatelink_inserted_when_that_makes_them_private() {
        assert_eq!(
            private_form("acct.privatelink.blob.core.windows.net"),
            Some((
                "acct.privatelink.blob.core.windows.net".into(),
                Derived::AsGiven
            ))
        );
        assert_eq!(
            private_form("Acct.blob.core.windows.net."),
            Some((
                "acct.privatelink.blob.core.windows.net".into(),
                Derived::Twin
            ))
        );
        assert_eq!(
            private_form("123-ab-pod01-fab1.we.backup.windowsazure.com"),
            Some((
                "123-ab-pod01-fab1.privatelink.we.backup.windowsazure.com".into(),
                Derived::Inserted
            ))
        );
        assert_eq!(
            private_form("kv-contoso-prod-we.vault.azure.net"),
            Some((
                "kv-contoso-prod-we.privatelink.vaultcore.azure.net".into(),
                Derived::Twin
            ))
        );
        assert_eq!(
            private_form("crcontosoprod.westeurope.data.azurecr.io"),
            Some((
                "crcontosoprod.westeurope.data.privatelink.azurecr.io".into(),
                Derived::Twin
            ))
        );
        assert_eq!(private_form("www.example.com"), None);
    }
}
