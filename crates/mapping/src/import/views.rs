//! Importing several virtual networks: when the same FQDN has different
//! private IPs in different VNets (one vault with private endpoints in a
//! hub and in a recovery region), the first network's names become the
//! top level and every other network whose endpoints differ becomes a
//! `[[view]]` holding only what differs. Its `clients` come from the
//! VNet's `addressSpace.addressPrefixes` when `az network vnet show|list`
//! output is given too; otherwise the view is written with an empty list,
//! a comment saying which VNet's prefixes to fill in, and `check` refuses
//! it until they are.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use super::render::render;
use super::{Found, Network};

/// One network's addresses for a name.
type Version<'f> = (Option<&'f str>, &'f [IpAddr]);

/// [`render`], with one `[[view]]` per virtual network whose private
/// endpoints give names other addresses than the first network's.
pub fn render_with_networks(found: &[Found], networks: &[Network], header: &[String]) -> String {
    // Networks in the order the input first names them (`None`: not said).
    let mut order: Vec<Option<&str>> = Vec::new();
    for item in found {
        let network = item.network.as_deref();
        if !order.contains(&network) {
            order.push(network);
        }
    }
    let mut seen: HashMap<&str, Vec<Version<'_>>> = HashMap::new();
    for item in found {
        seen.entry(item.name.as_str())
            .or_default()
            .push((item.network.as_deref(), &item.addrs));
    }
    let differing: HashSet<&str> = seen
        .iter()
        .filter(|(_, versions)| {
            versions
                .iter()
                .any(|(network, addrs)| versions.iter().any(|(n, a)| n != network && a != addrs))
        })
        .map(|(name, _)| *name)
        .collect();
    let (Some(&top_network), false) = (order.first(), differing.is_empty()) else {
        return render(found, header);
    };
    // What the top level says of each name that differs: the first
    // network's addresses, or the first seen where that network lacks it.
    let top_addrs: HashMap<&str, &[IpAddr]> = differing
        .iter()
        .filter_map(|name| {
            let versions = seen.get(name)?;
            let (_, addrs) = versions
                .iter()
                .find(|(network, _)| *network == top_network)
                .or_else(|| versions.first())?;
            Some((*name, *addrs))
        })
        .collect();
    let at_top = |item: &Found| {
        top_addrs
            .get(item.name.as_str())
            .is_none_or(|addrs| *addrs == item.addrs.as_slice())
    };

    // The top level: everything that is the same everywhere, and the top
    // version of what differs, once.
    let mut placed: HashSet<&str> = HashSet::new();
    let top: Vec<Found> = found
        .iter()
        .filter(|item| {
            let name = item.name.as_str();
            !differing.contains(name) || (at_top(item) && placed.insert(name))
        })
        .cloned()
        .collect();
    let mut header = header.to_vec();
    header.push(format!(
        "The top level holds the private endpoints of {}; each [[view]] below, another network's.",
        network_label(top_network, networks)
    ));
    let mut out = render(&top, &header);

    for network in order.iter().skip(1) {
        let own: Vec<Found> = found
            .iter()
            .filter(|item| item.network.as_deref() == *network && !at_top(item))
            .cloned()
            .collect();
        if own.is_empty() {
            continue;
        }
        out.push_str(&view_header(*network, networks));
        out.push_str(&nest_in_view(&render(&own, &[])));
    }
    out
}

/// How a network is named in comments and as a view's name.
fn network_label(network: Option<&str>, networks: &[Network]) -> String {
    match network {
        None => "endpoints whose network the input does not say".to_owned(),
        Some(id) => networks
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.name.clone())
            .or_else(|| id.rsplit('/').next().map(ToOwned::to_owned))
            .unwrap_or_else(|| id.to_owned()),
    }
}

fn view_header(network: Option<&str>, networks: &[Network]) -> String {
    let name = match network {
        Some(_) => network_label(network, networks),
        None => "unknown-network".to_owned(),
    };
    let mut out = String::new();
    let _ = writeln!(out, "\n[[view]]");
    let _ = writeln!(out, "name = \"{}\"", name.replace('"', ""));
    match network.and_then(|id| networks.iter().find(|n| n.id == id)) {
        Some(known) if !known.prefixes.is_empty() => {
            let prefixes: Vec<String> = known.prefixes.iter().map(|p| format!("\"{p}\"")).collect();
            let _ = writeln!(out, "clients = [{}]", prefixes.join(", "));
        }
        _ => {
            let id = network.unwrap_or("(not in the input)");
            let _ = writeln!(
                out,
                "# fill in the address space of virtual network {id}:\n\
                 #   az network vnet show --ids {id} --query addressSpace.addressPrefixes\n\
                 # (or give `az network vnet list` output to import beside the endpoints)"
            );
            let _ = writeln!(out, "clients = []");
        }
    }
    out
}

/// The tables of a rendered mapping, moved inside the `[[view]]` above.
fn nest_in_view(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        let nested = match line {
            "[[vault]]" => "[[view.vault]]",
            "[vault.backup]" => "[view.vault.backup]",
            "[[vault.storage]]" => "[[view.vault.storage]]",
            "[records]" => "[view.records]",
            other => other,
        };
        out.push_str(nested);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::azure_cli::read_all;
    use crate::load_str;

    const HUB: &str = "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworks/vnet-hub-we";
    const DR: &str =
        "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworks/vnet-dr-ne";

    fn endpoint(name: &str, vnet: &str, fab1: &str, blob: &str, shared: &str) -> String {
        format!(
            r#"{{ "name": "{name}", "subnet": {{ "id": "{vnet}/subnets/pe" }}, "customDnsConfigs": [
              {{ "fqdn": "1132794570626989392-ab-pod01-fab1.privatelink.we.backup.windowsazure.com", "ipAddresses": ["{fab1}"] }},
              {{ "fqdn": "weacct01pod01ecs114.privatelink.blob.core.windows.net", "ipAddresses": ["{blob}"] }},
              {{ "fqdn": "shared.privatelink.blob.core.windows.net", "ipAddresses": ["{shared}"] }} ] }}"#
        )
    }

    fn two_networks() -> Vec<Found> {
        let json = format!(
            "[{}, {}]",
            endpoint("pe-hub", HUB, "10.10.0.4", "10.10.0.12", "10.10.0.99"),
            endpoint("pe-dr", DR, "10.20.0.4", "10.20.0.12", "10.10.0.99"),
        );
        read_all("pe.json", &json).unwrap().found
    }

    #[test]
    fn a_second_network_with_other_addresses_becomes_a_view() {
        let vnets = format!(
            r#"[{{ "id": "{DR}", "name": "vnet-dr-ne", "addressSpace": {{ "addressPrefixes": ["10.20.0.0/16", "172.16.5.0/24"] }} }}]"#
        );
        let networks = read_all("vnet.json", &vnets).unwrap().networks;
        let text = render_with_networks(&two_networks(), &networks, &[]);
        assert!(
            text.contains(
                "[[view]]\nname = \"vnet-dr-ne\"\nclients = [\"10.20.0.0/16\", \"172.16.5.0/24\"]"
            ),
            "{text}"
        );
        let loaded = load_str("imported.toml", &text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
        let dr = loaded.views.get(0).unwrap();
        let a = |m: &crate::Mapping, name: &str| match m.lookup(name, crate::QueryType::A) {
            crate::Lookup::Answer { records, .. } => records.v4[0].to_string(),
            other => panic!("{other:?}"),
        };
        let fab1 = "1132794570626989392-ab-pod01-fab1.privatelink.we.backup.windowsazure.com";
        let blob = "weacct01pod01ecs114.privatelink.blob.core.windows.net";
        assert_eq!(a(&loaded.mapping, fab1), "10.10.0.4");
        assert_eq!(a(&dr.mapping, fab1), "10.20.0.4");
        assert_eq!(a(&dr.mapping, blob), "10.20.0.12");
        // The same everywhere: at the top level only, not repeated in the view.
        assert_eq!(
            text.matches("shared.privatelink.blob.core.windows.net")
                .count(),
            1,
            "{text}"
        );
        // The fixture's vault is incomplete (warned about); the view is clean.
        let about_views: Vec<_> = loaded
            .warnings
            .iter()
            .filter(|d| d.field.starts_with("view"))
            .collect();
        assert!(about_views.is_empty(), "{about_views:?}");
    }

    #[test]
    fn without_the_vnet_s_prefixes_the_view_says_what_to_fill_in() {
        let text = render_with_networks(&two_networks(), &[], &[]);
        assert!(
            text.contains(&format!(
                "# fill in the address space of virtual network {DR}"
            )),
            "{text}"
        );
        assert!(text.contains("name = \"vnet-dr-ne\"\n"), "{text}");
        let problems = match load_str("imported.toml", &text) {
            Err(crate::LoadError::Invalid { diagnostics, .. }) => diagnostics,
            other => panic!("expected check to refuse it: {other:?}"),
        };
        assert!(
            problems.iter().any(|d| d.field == "view[0].clients"
                && d.message.contains("view vnet-dr-ne has no client networks")),
            "{problems:?}"
        );
    }

    #[test]
    fn one_network_or_the_same_addresses_everywhere_need_no_view() {
        let same = format!(
            "[{}, {}]",
            endpoint("pe-hub", HUB, "10.10.0.4", "10.10.0.12", "10.10.0.99"),
            endpoint("pe-dr", DR, "10.10.0.4", "10.10.0.12", "10.10.0.99"),
        );
        let found = read_all("pe.json", &same).unwrap().found;
        assert_eq!(render_with_networks(&found, &[], &[]), render(&found, &[]));
        assert!(!render(&found, &[]).contains("[[view]]"));
    }
}
