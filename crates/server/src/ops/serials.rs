//! SOA serials at start-up and at each reload: the rules of
//! [`privatelink_mapping::serial`] applied to the top level and to every
//! view (a view is matched with the one of the same name in service).

use std::path::Path;

use privatelink_mapping::settings::DeclaredSerial;
use privatelink_mapping::{DomainName, Loaded, Mapping, MappingDiff};
use tracing::warn;

use crate::store::Snapshot;

/// Gives the first mapping a server serves its serials: the declared one,
/// or with transfers on the clock, so that after a restart the zones look
/// newer to the secondaries than anything served before.
pub(crate) fn stamp_first(loaded: &mut Loaded) {
    let serial = match loaded.settings.server.serial {
        Some(declared) => declared.value,
        None if loaded.settings.server.transfers_enabled() => unix_now(),
        None => return,
    };
    loaded.mapping.stamp_serials(serial);
    for view in loaded.views.iter_mut() {
        view.mapping.stamp_serials(serial);
    }
}

/// Gives `loaded`, about to replace `current`, its serials. Returns the
/// apexes whose serial changed (to NOTIFY), or the error that refuses the
/// reload: a declared serial lower than one in service.
pub(crate) fn carry(
    loaded: &mut Loaded,
    current: &Snapshot,
    diff: &MappingDiff,
    file: &Path,
) -> Result<Vec<DomainName>, String> {
    let declared = loaded.settings.server.serial;
    if declared.is_none() && !loaded.settings.server.transfers_enabled() {
        return Ok(Vec::new());
    }
    let now = unix_now();
    let mut changed = Vec::new();
    let mut edited = Vec::new();
    let mut give = |mapping: &mut Mapping, previous: Option<(&Mapping, &MappingDiff)>| {
        match (declared, previous) {
            (Some(declared), Some((previous, diff))) => {
                if let Some((apex, served)) = mapping.zone_newer_than(previous, declared.value) {
                    return Err(lowered(file, declared, &apex, served));
                }
                let outcome = mapping.declare_serials(previous, diff, declared.value);
                changed.extend(outcome.changed);
                edited.extend(outcome.edited_without_new_serial);
            }
            (None, Some((previous, diff))) => {
                changed.extend(mapping.carry_serials(previous, diff, now));
            }
            (declared, None) => {
                mapping.stamp_serials(declared.map_or(now, |d| d.value));
                changed.extend(mapping.zones().iter().map(|zone| zone.apex.clone()));
            }
        }
        Ok(())
    };
    give(&mut loaded.mapping, Some((&current.mapping, diff)))?;
    for view in loaded.views.iter_mut() {
        let previous = current
            .views()
            .iter()
            .find(|served| served.view.as_deref() == Some(&*view.name));
        match previous {
            Some(previous) => {
                let view_diff = previous.mapping.diff(&view.mapping);
                give(&mut view.mapping, Some((&previous.mapping, &view_diff)))?;
            }
            None => give(&mut view.mapping, None)?,
        }
    }
    changed.sort();
    changed.dedup();
    if let Some(declared) = declared
        && !edited.is_empty()
    {
        edited.sort();
        edited.dedup();
        warn!(
            file = %file.display(),
            line = declared.line,
            field = "server.serial",
            serial = declared.value,
            zones = ?edited.iter().map(DomainName::as_str).collect::<Vec<_>>(),
            "zones changed but server.serial did not: served here, but secondaries keep their copy until the serial is raised"
        );
    }
    Ok(changed)
}

fn lowered(file: &Path, declared: DeclaredSerial, apex: &DomainName, served: u32) -> String {
    format!(
        "{}:{}: server.serial: {} is older than serial {served} of zone {apex} in service; secondaries would keep their copy (raise server.serial above {served}, e.g. to the output of `date +%s`)",
        file.display(),
        declared.line,
        declared.value,
    )
}

/// Seconds since the Unix epoch, as an SOA serial: modulo 2^32, which
/// RFC 1982 arithmetic carries past 2106.
fn unix_now() -> u32 {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    u32::try_from(seconds % (1 << 32)).unwrap_or(0)
}
