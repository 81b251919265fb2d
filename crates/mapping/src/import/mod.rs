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
    /// The name as the input spelled it, when `.privatelink.` had to be inserted.
    pub shown_as: Option<String>,
    /// The input file, for comments.
    pub file: String,
    /// The virtual network of the private endpoint (its ARM id, lower
    /// case), when the input says (`subnet.id` of `private-endpoint show`).
    pub network: Option<String>,
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

/// What one input file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    pub found: Vec<Found>,
    pub networks: Vec<Network>,
}

/// The private form of an FQDN: as given when it lies in an Azure Private
/// Link zone, else with `privatelink.` inserted after the first label when
/// that makes it one (the portal's "DNS configuration" used to omit it).
/// `None` when neither form is a Private Link name.
pub fn private_form(fqdn: &str) -> Option<(String, bool)> {
    use crate::azure::zones::{ZoneMatch, azure_zone_for};
    use crate::name::DomainName;
    let name = DomainName::parse(fqdn).ok()?;
    if matches!(azure_zone_for(&name), ZoneMatch::Zone(_)) {
        return Some((name.to_string(), false));
    }
    let (first, rest) = name.as_str().split_once('.')?;
    let inserted = DomainName::parse(&format!("{first}.privatelink.{rest}")).ok()?;
    matches!(azure_zone_for(&inserted), ZoneMatch::Zone(_)).then(|| (inserted.to_string(), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_get_privatelink_inserted_when_that_makes_them_private() {
        assert_eq!(
            private_form("acct.privatelink.blob.core.windows.net"),
            Some(("acct.privatelink.blob.core.windows.net".into(), false))
        );
        assert_eq!(
            private_form("Acct.blob.core.windows.net."),
            Some(("acct.privatelink.blob.core.windows.net".into(), true))
        );
        assert_eq!(
            private_form("123-ab-pod01-fab1.we.backup.windowsazure.com"),
            Some((
                "123-ab-pod01-fab1.privatelink.we.backup.windowsazure.com".into(),
                true
            ))
        );
        assert_eq!(private_form("www.example.com"), None);
    }
}
