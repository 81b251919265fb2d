//! The names of a mapping, for lookup: every `(name, node)` pair in one
//! vector, and a hash table of positions into it. Generic over the node,
//! so that this table knows nothing of what a mapping stores. A `HashMap<DomainName,
//! Node>` would hold the same pairs in its own table, sized to a power of
//! two: for 100,000 names that table is 10 MB, and it has to exist next to
//! the declarations it is built from. Here the declarations' vector is
//! turned into the pairs in place and the index holds 4 bytes per slot.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use crate::name::DomainName;

#[derive(Clone)]
pub(crate) struct Nodes<Node> {
    entries: Vec<(DomainName, Node)>,
    /// Positions in `entries`, hashed by name.
    index: HashTable<u32>,
    hasher: RandomState,
}

impl<Node: std::fmt::Debug> std::fmt::Debug for Nodes<Node> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(name, node)| (name, node)))
            .finish()
    }
}

impl<Node> Default for Nodes<Node> {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::new(),
        }
    }
}

impl<Node> Nodes<Node> {
    /// Indexes `entries` where they are (no copy); a name given twice
    /// keeps its first node.
    pub(crate) fn new(mut entries: Vec<(DomainName, Node)>) -> Self {
        entries.shrink_to_fit();
        let hasher = RandomState::new();
        let mut index = HashTable::with_capacity(entries.len());
        let mut repeated = Vec::new();
        for (position, (name, _)) in entries.iter().enumerate() {
            let Ok(slot) = u32::try_from(position) else {
                repeated.push(position);
                continue;
            };
            let hash = Self::hash(&hasher, name.as_str());
            let same = |&at: &u32| entries[at as usize].0 == *name;
            if index.find(hash, same).is_some() {
                repeated.push(position);
                continue;
            }
            index.insert_unique(hash, slot, |&at| {
                Self::hash(&hasher, entries[at as usize].0.as_str())
            });
        }
        if repeated.is_empty() {
            return Self {
                entries,
                index,
                hasher,
            };
        }
        // Rare (the builder never repeats a name): drop the repeats, index again.
        let mut position = 0;
        entries.retain(|_| {
            let keep = repeated.binary_search(&position).is_err();
            position += 1;
            keep
        });
        Self::new(entries)
    }

    fn hash(hasher: &RandomState, name: &str) -> u64 {
        hasher.hash_one(name)
    }

    fn position(&self, name: &str) -> Option<usize> {
        let hash = Self::hash(&self.hasher, name);
        let &position = self.index.find(hash, |&at| {
            self.entries
                .get(at as usize)
                .is_some_and(|(entry, _)| entry.as_str() == name)
        })?;
        Some(position as usize)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Node> {
        self.entries.get(self.position(name)?).map(|(_, node)| node)
    }

    /// Adds `node` at `name` unless the name has one; false if it had.
    pub(crate) fn insert_if_absent(&mut self, name: DomainName, node: Node) -> bool {
        if self.position(name.as_str()).is_some() {
            return false;
        }
        let Ok(position) = u32::try_from(self.entries.len()) else {
            return false;
        };
        let hash = Self::hash(&self.hasher, name.as_str());
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index.insert_unique(hash, position, |&at| {
            entries
                .get(at as usize)
                .map_or(0, |(entry, _)| Self::hash(hasher, entry.as_str()))
        });
        self.entries.push((name, node));
        true
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&DomainName, &Node)> {
        self.entries.iter().map(|(name, node)| (name, node))
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Equal when they hold the same names with the same nodes, in any order.
impl<Node: PartialEq> PartialEq for Nodes<Node> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(name, node)| other.get(name.as_str()) == Some(node))
    }
}

impl<Node: Eq> Eq for Nodes<Node> {}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::mapping::{Addresses, Node, Origin};

    fn name(text: &str) -> DomainName {
        DomainName::parse(text).unwrap()
    }

    fn node(last: u8) -> Node {
        Node {
            zone: 0,
            line: 1,
            addresses: Addresses::One(Ipv4Addr::new(10, 0, 0, last)),
            origin: Some(Origin::Records),
        }
    }

    #[test]
    fn names_are_found_and_the_first_of_a_repeated_name_wins() {
        let mut nodes = Nodes::new(vec![
            (name("a.example.com"), node(1)),
            (name("b.example.com"), node(2)),
            (name("a.example.com"), node(3)),
        ]);
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes.get("a.example.com"), Some(&node(1)));
        assert_eq!(nodes.get("b.example.com"), Some(&node(2)));
        assert_eq!(nodes.get("c.example.com"), None);
        assert!(!nodes.insert_if_absent(name("b.example.com"), node(9)));
        assert!(nodes.insert_if_absent(name("c.example.com"), node(4)));
        assert_eq!(nodes.get("c.example.com"), Some(&node(4)));
        assert_eq!(nodes.iter().count(), 3);
    }

    #[test]
    fn equality_ignores_order() {
        let one = Nodes::new(vec![
            (name("a.example.com"), node(1)),
            (name("b.example.com"), node(2)),
        ]);
        let other = Nodes::new(vec![
            (name("b.example.com"), node(2)),
            (name("a.example.com"), node(1)),
        ]);
        assert_eq!(one, other);
        let different = Nodes::new(vec![
            (name("b.example.com"), node(2)),
            (name("a.example.com"), node(5)),
        ]);
        assert_ne!(one, different);
    }
}
