//! Facts about Azure that the mapping needs: Backup geo codes, regions,
//! clouds, Backup and Site Recovery service names and the Private Link zone
//! catalogue.

pub mod backup;
pub mod catalogue;
pub mod geo;
pub mod site_recovery;
pub mod zones;

pub use catalogue::{CatalogueRow, Status};
pub use geo::{Cloud, Region};
pub use zones::{
    PublicZone, ZoneMatch, azure_zone_for, private_name_of_public, public_twins,
    public_zone_problem,
};
