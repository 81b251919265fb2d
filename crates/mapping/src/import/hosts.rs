//! Hosts files: `ADDRESS NAME [NAME…]` lines; `#` starts a comment.

use std::net::IpAddr;

use super::{Found, private_form};

/// The Private Link names in a hosts file; other lines are skipped.
pub fn read(file: &str, text: &str) -> Vec<Found> {
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        for name in fields {
            if let Some((private, inserted)) = private_form(name) {
                found.push(Found {
                    name: private,
                    addrs: vec![addr],
                    endpoint: None,
                    shown_as: inserted.then(|| name.trim_end_matches('.').to_owned()),
                    file: file.to_owned(),
                    network: None,
                });
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_link_names_are_kept_and_the_rest_skipped() {
        let hosts = "127.0.0.1 localhost\n10.0.0.4 acct.privatelink.blob.core.windows.net acct.blob.core.windows.net # both\n\nnot-an-ip x.privatelink.blob.core.windows.net\n";
        let found = read("hosts", hosts);
        assert_eq!(found.len(), 2);
        assert!(
            found
                .iter()
                .all(|f| f.name == "acct.privatelink.blob.core.windows.net")
        );
        assert_eq!(
            found[1].shown_as.as_deref(),
            Some("acct.blob.core.windows.net")
        );
    }
}
