//! Reading single values that several tables share: names, IPs and
//! networks, socket addresses, fallbacks, geo codes, required keys.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use toml::de::DeTable;

use super::value::{Reader, Value, join};
use crate::azure::geo::{self, Cloud};
use crate::name::DomainName;
use crate::settings::Fallback;

/// How names may be written, for hints.
pub(super) const NAME_HINT: &str =
    "names are labels of letters, digits, '-' and '_', separated by dots";

/// A required key: reports its absence at the table's line.
pub(super) fn required<'v, 'd>(
    reader: &mut Reader<'_>,
    table: &'v DeTable<'d>,
    item: &Value<'_>,
    field: &str,
    key: &str,
) -> Option<&'v Value<'d>> {
    let value = table.get(key);
    if value.is_none() {
        reader.error(
            item.span(),
            &join(field, key),
            format!("`{key}` is missing"),
            None,
        );
    }
    value
}

pub(super) fn domain_name(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    field: &str,
) -> Option<DomainName> {
    let text = reader.string(value, field)?;
    match DomainName::parse(text) {
        Ok(name) => Some(name),
        Err(error) => {
            reader.error(
                value.span(),
                field,
                format!("invalid name \"{text}\": {error}"),
                Some(NAME_HINT.into()),
            );
            None
        }
    }
}

pub(super) fn fallback(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    field: &str,
) -> Option<Fallback> {
    match reader.string(value, field)? {
        "nxdomain" => Some(Fallback::NxDomain),
        "forward" => Some(Fallback::Forward),
        other => {
            reader.error(
                value.span(),
                field,
                format!("unknown fallback \"{other}\""),
                Some("use \"nxdomain\" (answer NXDOMAIN, Azure's default) or \"forward\" (ask the upstreams, Azure's NxDomainRedirect)".into()),
            );
            None
        }
    }
}

/// Socket addresses; with `default_port`, a bare IP address is accepted too.
pub(super) fn socket_addrs(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    field: &str,
    default_port: Option<u16>,
) -> Vec<SocketAddr> {
    reader
        .string_list(value, field)
        .into_iter()
        .filter_map(|(text, span, item_field)| {
            let parsed = text.parse::<SocketAddr>().ok().or_else(|| {
                let port = default_port?;
                text.parse::<IpAddr>()
                    .ok()
                    .map(|ip| SocketAddr::new(ip, port))
            });
            if parsed.is_none() {
                let hint = if default_port.is_some() {
                    "use ADDRESS or ADDRESS:PORT, e.g. 168.63.129.16 or [fd00::53]:53"
                } else {
                    "use ADDRESS:PORT, e.g. 0.0.0.0:53 or [::1]:5353"
                };
                reader.error(
                    span,
                    &item_field,
                    format!("\"{text}\" is not a socket address"),
                    Some(hint.into()),
                );
            }
            parsed
        })
        .collect()
}

/// A Backup geo code valid in `cloud`, with the closest valid codes as a hint.
pub(super) fn geo_code(
    reader: &mut Reader<'_>,
    value: &Value<'_>,
    field: &str,
    cloud: Cloud,
) -> Option<String> {
    let code = reader.string(value, field)?.to_ascii_lowercase();
    match geo::region_by_geo(&code) {
        Some(region) if region.cloud == cloud => return Some(code),
        Some(region) => reader.error(
            value.span(),
            field,
            format!(
                "geo code \"{code}\" belongs to region {} in the {} cloud, not {}",
                region.name,
                region.cloud.as_str(),
                cloud.as_str()
            ),
            Some("set `cloud` to match the vault's region".into()),
        ),
        None => {
            // A display name ("West Europe") is the ARM name with spaces.
            let arm_name: String = code.chars().filter(|c| !c.is_whitespace()).collect();
            let hint = match geo::region_by_name(&arm_name) {
                Some(region) if arm_name == code => format!(
                    "\"{code}\" is a region name; its geo code is \"{}\"",
                    region.geo
                ),
                Some(region) => format!(
                    "\"{code}\" is the display name of region {}; its geo code is \"{}\"",
                    region.name, region.geo
                ),
                None => {
                    let close = geo::closest_geo_codes(&code, cloud);
                    if close.is_empty() {
                        "see \"Backup geo codes\" in the README".to_owned()
                    } else {
                        format!("did you mean {}?", close.join(", "))
                    }
                }
            };
            reader.error(
                value.span(),
                field,
                format!("unknown geo code \"{code}\""),
                Some(hint),
            );
        }
    }
    None
}

/// Networks in CIDR notation; a bare address is a host network.
pub(super) fn networks(reader: &mut Reader<'_>, value: &Value<'_>, field: &str) -> Vec<IpNet> {
    reader
        .string_list(value, field)
        .into_iter()
        .filter_map(|(text, span, item_field)| network_in(reader, text, span, &item_field))
        .collect()
}

/// One network, as [`networks`] reads each.
pub(super) fn network(reader: &mut Reader<'_>, value: &Value<'_>, field: &str) -> Option<IpNet> {
    let text = reader.string(value, field)?;
    network_in(reader, text, value.span(), field)
}

fn network_in(
    reader: &mut Reader<'_>,
    text: &str,
    span: std::ops::Range<usize>,
    field: &str,
) -> Option<IpNet> {
    let parsed = text
        .parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from));
    if parsed.is_err() {
        reader.error(
            span,
            field,
            format!("\"{text}\" is not a network"),
            Some("use CIDR notation such as 10.0.0.0/8 or fc00::/7".into()),
        );
    }
    parsed.ok()
}
