//! What one query sees: the mapping and the settings that can change while
//! the server runs, swapped as a whole.
//!
//! Every request takes one [`Snapshot`] and answers from it to the end,
//! forward path included, so a reload can never mix two mapping versions in
//! one response. Readers never lock: the store is one `ArcSwap`.

use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::ArcSwap;
use hickory_proto::ProtoError;
use privatelink_mapping::{ForwardSettings, Loaded, Mapping, Zone};

use crate::access::AllowList;
use crate::answer::ZoneRecords;

/// An immutable, complete view of the served configuration.
#[derive(Debug)]
pub struct Snapshot {
    pub mapping: Mapping,
    pub forward: ForwardSettings,
    pub allow: AllowList,
    /// Increases by one with every mapping put in service.
    pub generation: u64,
    pub loaded_at: SystemTime,
    /// SOA/NS records per zone, in the order of `mapping.zones()`.
    zone_records: Vec<ZoneRecords>,
}

impl Snapshot {
    /// Prepares a loaded file for serving (builds each zone's SOA and NS once).
    pub fn new(loaded: Loaded, generation: u64) -> Result<Self, ProtoError> {
        let zone_records = loaded
            .mapping
            .zones()
            .iter()
            .map(ZoneRecords::new)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            mapping: loaded.mapping,
            forward: loaded.settings.forward,
            allow: AllowList::new(loaded.settings.server.allow),
            generation,
            loaded_at: SystemTime::now(),
            zone_records,
        })
    }

    /// The prepared records of a zone of this snapshot's mapping.
    pub(crate) fn zone_records(&self, zone: &Zone) -> Option<&ZoneRecords> {
        self.mapping
            .zones()
            .iter()
            .position(|candidate| std::ptr::eq(candidate, zone))
            .and_then(|i| self.zone_records.get(i))
    }
}

/// The served snapshot, replaceable at any time without blocking queries.
#[derive(Debug)]
pub struct MappingStore {
    current: ArcSwap<Snapshot>,
}

impl MappingStore {
    pub fn new(snapshot: Snapshot) -> Self {
        Self {
            current: ArcSwap::from_pointee(snapshot),
        }
    }

    /// The snapshot to answer one query from.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Puts `snapshot` in service and returns the one it replaces.
    pub fn replace(&self, snapshot: Snapshot) -> Arc<Snapshot> {
        self.current.swap(Arc::new(snapshot))
    }
}
