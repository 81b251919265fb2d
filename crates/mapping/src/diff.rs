//! What changed between two mappings, for reload logs.

use crate::mapping::Mapping;
use crate::name::DomainName;

/// Names and zones that a new mapping adds, removes or changes, each sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingDiff {
    pub added: Vec<DomainName>,
    pub removed: Vec<DomainName>,
    /// Names whose addresses differ.
    pub changed: Vec<DomainName>,
    pub zones_added: Vec<DomainName>,
    pub zones_removed: Vec<DomainName>,
}

impl MappingDiff {
    /// True when the two mappings serve the same names, addresses and zones.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.zones_added.is_empty()
            && self.zones_removed.is_empty()
    }
}

impl Mapping {
    /// How `newer` differs from `self`.
    pub fn diff(&self, newer: &Self) -> MappingDiff {
        let mut diff = MappingDiff::default();
        for (name, node) in self.nodes.iter().filter(|(_, n)| n.origin.is_some()) {
            match newer
                .nodes
                .get(name.as_str())
                .filter(|n| n.origin.is_some())
            {
                None => diff.removed.push(name.clone()),
                Some(new)
                    if !same_addresses(node.addresses.v4(), new.addresses.v4())
                        || !same_addresses(node.addresses.v6(), new.addresses.v6()) =>
                {
                    diff.changed.push(name.clone());
                }
                Some(_) => {}
            }
        }
        for (name, _) in newer.nodes.iter().filter(|(_, n)| n.origin.is_some()) {
            if self
                .nodes
                .get(name.as_str())
                .is_none_or(|n| n.origin.is_none())
            {
                diff.added.push(name.clone());
            }
        }
        for zone in &self.zones {
            if !newer.zone_by_apex.contains_key(&zone.apex) {
                diff.zones_removed.push(zone.apex.clone());
            }
        }
        for zone in &newer.zones {
            if !self.zone_by_apex.contains_key(&zone.apex) {
                diff.zones_added.push(zone.apex.clone());
            }
        }
        for list in [
            &mut diff.added,
            &mut diff.removed,
            &mut diff.changed,
            &mut diff.zones_added,
            &mut diff.zones_removed,
        ] {
            list.sort();
        }
        diff
    }
}

/// Same set of addresses, whatever the order.
fn same_addresses<T: Ord + Clone>(a: &[T], b: &[T]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort();
    b.sort();
    a == b
}

#[cfg(test)]
mod tests {
    use crate::load_str;

    fn names(list: &[crate::DomainName]) -> Vec<&str> {
        list.iter().map(crate::DomainName::as_str).collect()
    }

    #[test]
    fn added_removed_and_changed_names_and_zones() {
        let old = load_str(
            "old",
            r#"[records]
"keep.privatelink.blob.core.windows.net" = ["10.0.0.1", "10.0.0.2"]
"move.privatelink.blob.core.windows.net" = "10.0.0.3"
"gone.privatelink.queue.core.windows.net" = "10.0.0.4"
"#,
        )
        .unwrap()
        .mapping;
        let new = load_str(
            "new",
            r#"[records]
"keep.privatelink.blob.core.windows.net" = ["10.0.0.2", "10.0.0.1"]
"move.privatelink.blob.core.windows.net" = "10.0.0.30"
"new.privatelink.vaultcore.azure.net" = "10.0.0.5"
"#,
        )
        .unwrap()
        .mapping;
        let diff = old.diff(&new);
        assert_eq!(names(&diff.added), ["new.privatelink.vaultcore.azure.net"]);
        assert_eq!(
            names(&diff.removed),
            ["gone.privatelink.queue.core.windows.net"]
        );
        assert_eq!(
            names(&diff.changed),
            ["move.privatelink.blob.core.windows.net"]
        );
        assert_eq!(
            names(&diff.zones_added),
            ["privatelink.vaultcore.azure.net"]
        );
        assert_eq!(
            names(&diff.zones_removed),
            ["privatelink.queue.core.windows.net"]
        );
        assert!(old.diff(&old).is_empty());
    }
}
