//! Hosts files: `ADDRESS NAME [NAME…]` lines; `#` starts a comment.

use std::net::IpAddr;

use super::{Found, Input, Skipped};

/// The Private Link names in a hosts file.
pub fn read(file: &str, text: &str) -> Vec<Found> {
    read_all(file, text).found
}

/// The Private Link names in a hosts file, and every other dotted name with
/// the reason it is not imported. Single-label names (`localhost`) are
/// not FQDNs and are passed over silently.
pub fn read_all(file: &str, text: &str) -> Input {
    let mut input = Input::default();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else {
            continue;
        };
        let at = format!("{file}:{}", index + 1);
        let Ok(addr) = first.parse::<IpAddr>() else {
            for name in fields.filter(|name| name.trim_end_matches('.').contains('.')) {
                input.skipped.push(Skipped {
                    fqdn: name.trim_end_matches('.').to_owned(),
                    file: at.clone(),
                    reason: format!("{first:?} is not an IP address"),
                });
            }
            continue;
        };
        for name in fields.filter(|name| name.trim_end_matches('.').contains('.')) {
            match Found::from_input(name, vec![addr], file) {
                Ok(found) => input.found.push(found),
                Err(skipped) => input.skipped.push(Skipped {
                    file: at.clone(),
                    ..skipped
                }),
            }
        }
    }
    input
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_link_names_are_kept_and_the_rest_reported() {
        let hosts = "127.0.0.1 localhost\n10.0.0.4 acct.privatelink.blob.core.windows.net acct.blob.core.windows.net # both\n\nnot-an-ip x.privatelink.blob.core.windows.net\n10.0.0.5 www.example.com\n";
        let input = read_all("hosts", hosts);
        assert_eq!(input.found.len(), 2);
        assert!(
            input
                .found
                .iter()
                .all(|f| f.name == "acct.privatelink.blob.core.windows.net")
        );
        assert_eq!(
            input.found[1].shown_as.as_ref().map(|(s, _)| s.as_str()),
            Some("acct.blob.core.windows.net")
        );
        let skipped: Vec<String> = input.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(
            skipped[0].starts_with("x.privatelink.blob.core.windows.net (hosts:4): \"not-an-ip\"")
        );
        assert!(
            skipped[1]
                .starts_with("www.example.com (hosts:5): not under an Azure Private Link zone")
        );
    }
}
