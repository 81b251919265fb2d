//! `az` CLI output (reference §6): `az network private-endpoint show|list`
//! (`customDnsConfigs`), `az network private-endpoint dns-zone-group
//! show|list` (`privateDnsZoneConfigs[].recordSets`) and `az network
//! private-dns record-set a list` (`aRecords`), with or without ARM's
//! `properties` wrapper. The shape is detected per object.

use std::net::IpAddr;

use serde_json::Value;

use super::{Found, ImportError, Input, Network};

/// The names in one file of `az` output.
pub fn read(file: &str, text: &str) -> Result<Vec<Found>, ImportError> {
    read_all(file, text).map(|input| input.found)
}

/// The names and the virtual networks (`az network vnet show|list`) in one
/// file of `az` output.
pub fn read_all(file: &str, text: &str) -> Result<Input, ImportError> {
    let json: Value = serde_json::from_str(text).map_err(|error| ImportError::Json {
        file: file.to_owned(),
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    })?;
    let objects: Vec<&Value> = match &json {
        Value::Array(items) => items.iter().collect(),
        object @ Value::Object(_) => vec![object],
        _ => {
            return Err(shape(file, "expected a JSON object or an array of objects"));
        }
    };
    let mut input = Input::default();
    for object in objects {
        let properties = object.get("properties").unwrap_or(object);
        if let Some(space) = properties.get("addressSpace") {
            input.networks.extend(network(object, space));
        } else if let Some(configs) = properties.get("customDnsConfigs") {
            endpoint(file, object, configs, &mut input);
        } else if let Some(configs) = properties.get("privateDnsZoneConfigs") {
            zone_group(file, object, configs, &mut input);
        } else if properties.get("aRecords").is_some() {
            record_set(file, object, properties, &mut input);
        } else {
            return Err(shape(
                file,
                "not a recognised az output: expected customDnsConfigs (private-endpoint show), \
                 privateDnsZoneConfigs (dns-zone-group show), aRecords (private-dns record-set a list) \
                 or addressSpace (vnet show)",
            ));
        }
    }
    Ok(input)
}

/// A virtual network's id, name and address prefixes.
fn network(object: &Value, space: &Value) -> Option<Network> {
    let id = str_of(object, "id")?.to_ascii_lowercase();
    let name = str_of(object, "name")
        .map(ToOwned::to_owned)
        .or_else(|| id.rsplit('/').next().map(ToOwned::to_owned))?;
    let prefixes = space
        .get("addressPrefixes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(ToOwned::to_owned)
        .collect();
    Some(Network { id, name, prefixes })
}

/// The virtual network of a private endpoint: its subnet's id less
/// `/subnets/<name>`, lower case.
fn network_of(object: &Value) -> Option<String> {
    let properties = object.get("properties").unwrap_or(object);
    let subnet = str_of(properties.get("subnet")?, "id")?.to_ascii_lowercase();
    let at = subnet.find("/subnets/")?;
    Some(subnet[..at].to_owned())
}

fn shape(file: &str, message: &str) -> ImportError {
    ImportError::Shape {
        file: file.to_owned(),
        message: message.to_owned(),
    }
}

fn str_of<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

fn addresses(value: Option<&Value>) -> Vec<IpAddr> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    item.as_str()
                        .or_else(|| str_of(item, "ipv4Address"))
                        .and_then(|text| text.parse().ok())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The private endpoint named in an ARM id (`…/privateEndpoints/<name>/…`).
fn endpoint_in_id(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    parts.find(|part| part.eq_ignore_ascii_case("privateEndpoints"))?;
    parts.next().map(ToOwned::to_owned)
}

/// What the input says about the endpoint a name belongs to.
#[derive(Default, Clone)]
struct Context {
    endpoint: Option<String>,
    network: Option<String>,
    resource: Option<String>,
}

fn push(input: &mut Input, file: &str, fqdn: &str, addrs: Vec<IpAddr>, context: &Context) {
    match Found::from_input(fqdn, addrs, file) {
        Ok(found) => input.found.push(Found {
            endpoint: context.endpoint.clone(),
            resource: context.resource.clone(),
            network: context.network.clone(),
            ..found
        }),
        Err(skipped) => input.skipped.push(skipped),
    }
}

/// The resource a private endpoint connects to: the last segment of its
/// connections' `privateLinkServiceId` (a vault's name for Backup).
fn linked_resource(properties: &Value) -> Option<String> {
    [
        "privateLinkServiceConnections",
        "manualPrivateLinkServiceConnections",
    ]
    .iter()
    .filter_map(|key| properties.get(*key)?.as_array())
    .flatten()
    .find_map(|connection| {
        let connection = connection.get("properties").unwrap_or(connection);
        let id = str_of(connection, "privateLinkServiceId")?;
        id.rsplit('/')
            .find(|s| !s.is_empty())
            .map(ToOwned::to_owned)
    })
}

fn endpoint(file: &str, object: &Value, configs: &Value, input: &mut Input) {
    let properties = object.get("properties").unwrap_or(object);
    let context = Context {
        endpoint: str_of(object, "name").map(ToOwned::to_owned),
        network: network_of(object),
        resource: linked_resource(properties),
    };
    for config in configs.as_array().into_iter().flatten() {
        if let Some(fqdn) = str_of(config, "fqdn") {
            push(
                input,
                file,
                fqdn,
                addresses(config.get("ipAddresses")),
                &context,
            );
        }
    }
}

fn zone_group(file: &str, object: &Value, configs: &Value, input: &mut Input) {
    let context = Context {
        endpoint: str_of(object, "id").and_then(endpoint_in_id),
        ..Context::default()
    };
    for config in configs.as_array().into_iter().flatten() {
        let config = config.get("properties").unwrap_or(config);
        for set in config
            .get("recordSets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let set = set.get("properties").unwrap_or(set);
            if str_of(set, "recordType").is_some_and(|t| t != "A") {
                continue;
            }
            if let Some(fqdn) = str_of(set, "fqdn") {
                push(
                    input,
                    file,
                    fqdn,
                    addresses(set.get("ipAddresses")),
                    &context,
                );
            }
        }
    }
}

/// The endpoint Azure names in a record set's metadata
/// (`"creator": "created by private endpoint pe-rsv_ecs_blob with resource guid …"`).
fn endpoint_in_metadata(properties: &Value) -> Option<String> {
    let metadata = properties.get("metadata")?.as_object()?;
    metadata
        .values()
        .filter_map(Value::as_str)
        .find_map(|text| {
            let (_, rest) = text.split_once("private endpoint ")?;
            rest.split_whitespace().next().map(ToOwned::to_owned)
        })
}

fn record_set(file: &str, object: &Value, properties: &Value, input: &mut Input) {
    let fqdn = str_of(properties, "fqdn").or_else(|| str_of(object, "fqdn"));
    let context = Context {
        endpoint: endpoint_in_metadata(properties).or_else(|| endpoint_in_metadata(object)),
        ..Context::default()
    };
    if let Some(fqdn) = fqdn {
        push(
            input,
            file,
            fqdn,
            addresses(properties.get("aRecords")),
            &context,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_endpoint_show_with_and_without_properties() {
        let cli = r#"{ "name": "pe-rsv", "customDnsConfigs": [
            { "fqdn": "1234567890123456789-ab-pod01-rec2.privatelink.we.backup.windowsazure.com", "ipAddresses": ["10.10.10.4"] },
            { "fqdn": "1234567890123456789-ab-pod01-id1.we.backup.windowsazure.com", "ipAddresses": ["10.10.10.5"] } ] }"#;
        let found = read("pe.json", cli).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].endpoint.as_deref(), Some("pe-rsv"));
        assert_eq!(
            found[1].name,
            "1234567890123456789-ab-pod01-id1.privatelink.we.backup.windowsazure.com"
        );
        assert_eq!(
            found[1].shown_as.as_ref().map(|(shown, _)| shown.as_str()),
            Some("1234567890123456789-ab-pod01-id1.we.backup.windowsazure.com")
        );

        let arm = r#"[{ "name": "pe-kv", "properties": { "customDnsConfigs": [
            { "fqdn": "kv1.vaultcore.azure.net", "ipAddresses": ["10.1.0.9"] } ] } }]"#;
        let found = read("arm.json", arm).unwrap();
        assert_eq!(found[0].name, "kv1.privatelink.vaultcore.azure.net");
    }

    #[test]
    fn zone_groups_and_record_sets() {
        let group = r#"{ "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe-rsv/privateDnsZoneGroups/default",
          "name": "default", "privateDnsZoneConfigs": [ { "name": "privatelink-we-backup-windowsazure-com",
          "privateDnsZoneId": "/x/privateDnsZones/privatelink.we.backup.windowsazure.com",
          "recordSets": [ { "recordType": "A", "recordSetName": "1-ab-pod01-fab1",
            "fqdn": "1-ab-pod01-fab1.privatelink.we.backup.windowsazure.com", "ttl": 10, "ipAddresses": ["10.10.10.6"] } ] } ] }"#;
        let found = read("zg.json", group).unwrap();
        assert_eq!(found[0].endpoint.as_deref(), Some("pe-rsv"));
        assert_eq!(found[0].addrs, ["10.10.10.6".parse::<IpAddr>().unwrap()]);

        let sets = r#"[ { "name": "acct1", "type": "Microsoft.Network/privateDnsZones/A",
            "fqdn": "acct1.privatelink.blob.core.windows.net.", "ttl": 10, "isAutoRegistered": false,
            "aRecords": [ { "ipv4Address": "10.2.0.4" } ] } ]"#;
        let found = read("sets.json", sets).unwrap();
        assert_eq!(found[0].name, "acct1.privatelink.blob.core.windows.net");
    }

    #[test]
    fn bad_input_is_named_with_its_position() {
        let error = read("bad.json", "{\n  \"customDnsConfigs\": [,\n}")
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("bad.json:2:"), "{error}");
        let error = read("odd.json", r#"{ "hello": 1 }"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("odd.json: not a recognised az output"),
            "{error}"
        );
    }
}
