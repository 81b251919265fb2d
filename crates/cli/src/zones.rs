//! `zones`: the built-in catalogue of Azure Private Link zones.

use std::io::Write as _;

use privatelink_mapping::azure::Cloud;
use privatelink_mapping::azure::catalogue::{self, CatalogueRow};
use serde::Serialize;

use crate::args::{CloudArg, ZonesFormat};
use crate::{EXIT_IO, EXIT_OK};

#[derive(Serialize)]
struct ZoneRow<'a> {
    cloud: &'static str,
    zone: &'a str,
    twins: &'a [&'a str],
    status: &'static str,
    service: &'a str,
    subresources: &'a str,
}

impl<'a> From<&'a CatalogueRow> for ZoneRow<'a> {
    fn from(row: &'a CatalogueRow) -> Self {
        Self {
            cloud: row.cloud.as_str(),
            zone: row.zone,
            twins: &row.twins,
            status: row.status.as_str(),
            service: row.service,
            subresources: row.subresources,
        }
    }
}

pub(crate) fn run(cloud: Option<CloudArg>, format: ZonesFormat) -> u8 {
    let wanted = cloud.map(|cloud| match cloud {
        CloudArg::Public => Cloud::Public,
        CloudArg::Usgov => Cloud::UsGov,
        CloudArg::China => Cloud::China,
    });
    let rows: Vec<ZoneRow<'_>> = catalogue::rows()
        .iter()
        .filter(|row| wanted.is_none_or(|cloud| row.cloud == cloud))
        .map(ZoneRow::from)
        .collect();
    let text = match format {
        ZonesFormat::Json => match serde_json::to_string_pretty(&rows) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("privatelink-dns: {error}");
                return EXIT_IO;
            }
        },
        ZonesFormat::Table => table(&rows),
    };
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = std::io::stdout().write_all(text.as_bytes());
    EXIT_OK
}

fn table(rows: &[ZoneRow<'_>]) -> String {
    let width = rows.iter().map(|r| r.zone.len()).max().unwrap_or(0);
    let mut out = format!(
        "# {} zones from {} (page of {}, checked {})\n",
        rows.len(),
        catalogue::SOURCE_PAGE,
        catalogue::SOURCE_DATE,
        catalogue::CHECKED
    );
    for row in rows {
        let twins = if row.twins.is_empty() {
            "-".to_owned()
        } else {
            row.twins.join(",")
        };
        out.push_str(&format!(
            "{:<7} {:<width$} {:<10} {}  [{}]\n",
            row.cloud, row.zone, row.status, row.service, twins
        ));
    }
    out
}
