//! The catalogue of Azure Private Link zones, read from `catalogue.md`
//! (a Markdown table, so the data, its source and its date sit in one file
//! a reviewer can diff against Microsoft's page).

use std::sync::LazyLock;

use super::geo::Cloud;

/// The page the catalogue was checked against.
pub const SOURCE_PAGE: &str = "https://learn.microsoft.com/azure/private-link/private-endpoint-dns";
/// The page's own date (ms.date) of the copy read.
pub const SOURCE_DATE: &str = "2025-08-04";
/// When the rows were last checked (with the 2026 additions of issue 15).
pub const CHECKED: &str = "2026-12-04";

const TEXT: &str = include_str!("catalogue.md");

/// Whether Microsoft's page lists a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// On the page.
    Listed,
    /// Dropped from the page: still served, `check` warns.
    Deprecated,
    /// Not on the page but in use (the service column says why).
    Kept,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Listed => "listed",
            Self::Deprecated => "deprecated",
            Self::Kept => "kept",
        }
    }
}

/// One private DNS zone of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueRow {
    pub cloud: Cloud,
    /// The service and its resource type, as the page names them.
    pub service: &'static str,
    /// The private endpoint subresources (group ids), comma-separated.
    pub subresources: &'static str,
    /// The zone, possibly with placeholders (`{regionName}`, …).
    pub zone: &'static str,
    /// Public zones Azure CNAMEs into this zone, same placeholders.
    pub twins: Vec<&'static str>,
    pub status: Status,
    /// Line in `catalogue.md`, for messages about the data itself.
    pub line: usize,
}

/// Azure's placeholders and what each stands for.
pub const PLACEHOLDERS: &[&str] = &[
    "{regionCode}",
    "{regionName}",
    "{dnsPrefix}",
    "{partitionId}",
    "{subzone}",
];

static ROWS: LazyLock<Vec<CatalogueRow>> = LazyLock::new(|| {
    // The text is compiled in and a unit test requires every row to parse,
    // so a bad row can only be skipped, never reach a server.
    parse(TEXT).into_iter().filter_map(Result::ok).collect()
});

/// Every row, in file order.
pub fn rows() -> &'static [CatalogueRow] {
    &ROWS
}

/// Parses the table rows of `text`; one result per row.
fn parse(text: &'static str) -> Vec<Result<CatalogueRow, String>> {
    let mut in_table = false;
    let mut results = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if line.starts_with("| cloud") || line.starts_with("|---") {
            in_table = true;
            continue;
        }
        if in_table {
            results.push(parse_row(line, line_no).map_err(|e| format!("line {line_no}: {e}")));
        }
    }
    results
}

fn parse_row(line: &'static str, line_no: usize) -> Result<CatalogueRow, String> {
    let cells: Vec<&'static str> = line.trim_matches('|').split('|').map(str::trim).collect();
    let [cloud, service, subresources, zone, twins, status] = cells[..] else {
        return Err(format!("expected 6 cells, found {}", cells.len()));
    };
    let cloud = match cloud {
        "public" => Cloud::Public,
        "usgov" => Cloud::UsGov,
        "china" => Cloud::China,
        other => return Err(format!("unknown cloud {other:?}")),
    };
    let status = match status {
        "listed" => Status::Listed,
        "deprecated" => Status::Deprecated,
        "kept" => Status::Kept,
        other => return Err(format!("unknown status {other:?}")),
    };
    let twins: Vec<&'static str> = twins
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    for pattern in std::iter::once(zone).chain(twins.iter().copied()) {
        check_pattern(pattern)?;
    }
    Ok(CatalogueRow {
        cloud,
        service,
        subresources,
        zone,
        twins,
        status,
        line: line_no,
    })
}

/// A pattern is lower-case labels, each a DNS label or one placeholder.
fn check_pattern(pattern: &str) -> Result<(), String> {
    for label in pattern.split('.') {
        let ok = PLACEHOLDERS.contains(&label)
            || (!label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        if !ok {
            return Err(format!("{pattern:?}: bad label {label:?}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses() {
        let results = parse(TEXT);
        let errors: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(results.len(), rows().len());
        let count = |cloud| rows().iter().filter(|r| r.cloud == cloud).count();
        // Microsoft's page: ~95 commercial zones, ~45 Government, ~35 China.
        assert!(count(Cloud::Public) >= 90, "{}", count(Cloud::Public));
        assert!(count(Cloud::UsGov) >= 45, "{}", count(Cloud::UsGov));
        assert!(count(Cloud::China) >= 33, "{}", count(Cloud::China));
    }

    #[test]
    fn zones_are_unique_and_twins_carry_only_their_zones_placeholders() {
        let mut seen = std::collections::HashSet::new();
        for row in rows() {
            assert!(seen.insert(row.zone), "{} twice", row.zone);
            for twin in &row.twins {
                for label in twin.split('.').filter(|l| l.starts_with('{')) {
                    assert!(
                        row.zone.split('.').any(|z| z == label),
                        "{twin} uses {label}, which {} does not bind",
                        row.zone
                    );
                }
            }
        }
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let text = "| cloud | a | b | c | d | e |\n|---|\n| mars | s | r | privatelink.x.com | | listed |\n\
                    | public | s | r | privatelink.{oops}.com | | listed |\n| public | s | r | z | | maybe |\n";
        let errors: Vec<String> = parse(text).into_iter().filter_map(Result::err).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("line 3: unknown cloud"));
        assert!(errors[1].contains("{oops}"));
        assert!(errors[2].contains("unknown status"));
    }
}
