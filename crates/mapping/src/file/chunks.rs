//! Splitting a large mapping file into pieces that parse on their own, so
//! that reading a 100,000-name file never holds the whole document tree:
//! the TOML parser needs about 35 times the file's size at its peak.
//!
//! A piece starts at each `[[vault]]` header and at each header whose first
//! key differs from the current piece's (`[server]`, `[records]`, …), and a
//! long `[records]` table is cut every [`RECORDS_PER_PIECE`] lines, each cut
//! piece getting a `[records]` header of its own. The split looks only at
//! lines, so it can cut inside a multi-line string or array; the piece that
//! was cut then fails to parse, and the caller parses the whole file instead
//! (which also reports any error with TOML's own message).

use std::borrow::Cow;

/// Lines of a `[records]` table per piece.
pub(crate) const RECORDS_PER_PIECE: usize = 2000;

const RECORDS_HEADER: &str = "[records]\n";

/// One piece of the file.
#[derive(Debug)]
pub(crate) struct Piece<'t> {
    /// Add to a span in `text` to get an offset in the file.
    pub(crate) base: usize,
    pub(crate) text: Cow<'t, str>,
    /// A `[records]` table continued from the previous piece: its header is ours.
    pub(crate) continued: bool,
}

/// The first key of a table header line (`server` for `[server]`,
/// `vault` for `[[vault.storage]]`), and whether it is `[[vault]]` itself.
fn header(line: &str) -> Option<(&str, bool)> {
    let line = line.trim();
    let inner = line.strip_prefix('[')?;
    let (inner, array) = match inner.strip_prefix('[') {
        Some(inner) => (inner.split("]]").next()?, true),
        None => (inner.split(']').next()?, false),
    };
    let inner = inner.trim();
    let root = inner.split('.').next()?.trim();
    Some((root, array && inner == "vault"))
}

/// The pieces of `text`, in order.
pub(crate) fn split(text: &str) -> Vec<Piece<'_>> {
    // (start offset, continued records table)
    let mut starts: Vec<(usize, bool)> = vec![(0, false)];
    let mut root: Option<&str> = None;
    let mut records_lines = 0;
    let mut in_records = false;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some((line_root, is_vault)) = header(line) {
            if is_vault || root != Some(line_root) {
                starts.push((offset, false));
                root = Some(line_root);
            }
            in_records = line.trim() == "[records]";
            records_lines = 0;
        } else if in_records {
            records_lines += 1;
            if records_lines >= RECORDS_PER_PIECE && !line.trim().is_empty() {
                starts.push((offset, true));
                records_lines = 0;
            }
        }
        offset += line.len();
    }
    starts.dedup_by_key(|(start, _)| *start);
    let mut pieces = Vec::with_capacity(starts.len());
    for (i, &(start, continued)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(text.len(), |(next, _)| *next);
        let slice = &text[start..end];
        if continued {
            pieces.push(Piece {
                base: start - RECORDS_HEADER.len(),
                text: Cow::Owned(format!("{RECORDS_HEADER}{slice}")),
                continued,
            });
        } else {
            pieces.push(Piece {
                base: start,
                text: Cow::Borrowed(slice),
                continued,
            });
        }
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_start_at_vaults_and_new_roots_and_keep_the_rest_together() {
        let text = "[server]\nlisten = []\n[forward]\nupstreams = []\n[[forward.rule]]\nsuffix = \"a\"\n[[vault]]\nname = \"a\"\n[vault.backup]\nfab1 = \"10.0.0.1\"\n[[vault.storage]]\naccount = \"x\"\n[[vault]]\nname = \"b\"\n[records]\n\"a.b\" = \"10.0.0.2\"\n";
        let pieces = split(text);
        let heads: Vec<&str> = pieces
            .iter()
            .map(|p| p.text.lines().next().unwrap_or(""))
            .collect();
        assert_eq!(
            heads,
            [
                "[server]",
                "[forward]",
                "[[vault]]",
                "[[vault]]",
                "[records]"
            ]
        );
        // Concatenated, the pieces are the file.
        let joined: String = pieces.iter().map(|p| p.text.as_ref()).collect();
        assert_eq!(joined, text);
        assert!(
            pieces
                .iter()
                .all(|p| &text[p.base..p.base + p.text.len()] == p.text.as_ref())
        );
    }

    #[test]
    fn long_records_tables_are_cut_with_a_header_of_their_own() {
        let mut text = String::from("[records]\n");
        for i in 0..(RECORDS_PER_PIECE * 2 + 5) {
            text.push_str(&format!(
                "\"n{i}.privatelink.blob.core.windows.net\" = \"10.0.0.1\"\n"
            ));
        }
        let pieces = split(&text);
        assert_eq!(pieces.len(), 3);
        assert!(pieces[1].continued && pieces[2].continued);
        for piece in &pieces[1..] {
            assert!(piece.text.starts_with("[records]\n"));
            let body = &piece.text[RECORDS_HEADER.len()..];
            assert_eq!(
                &text[piece.base + RECORDS_HEADER.len()..piece.base + piece.text.len()],
                body
            );
        }
    }
}
