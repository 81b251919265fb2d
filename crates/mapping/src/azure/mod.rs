//! Facts about Azure that the mapping needs: Backup geo codes, regions,
//! clouds, Backup service names and the Private Link zone catalogue.

pub mod backup;
pub mod geo;
pub mod zones;

pub use geo::{Cloud, Region};
pub use zones::{AZURE_ZONES, ZoneMatch, ZoneTemplate, azure_zone_for, public_twins};
