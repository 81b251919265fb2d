//! Large files read in pieces, and the fuzzers' regression inputs.

use super::*;

/// The fuzzers' regression inputs for the file and import parsers: each
/// must give a result or an error, never a panic.
#[test]
fn fuzz_regression_inputs_for_the_parsers() {
    let dir = |target: &str| {
        format!(
            "{}/../../tests/data/fuzz/{target}",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    let inputs = |target: &str| -> Vec<Vec<u8>> {
        let mut paths: Vec<_> = std::fs::read_dir(dir(target))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.sort();
        paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
    };
    let files = inputs("mapping_file");
    assert!(!files.is_empty());
    for data in files {
        if let Ok(text) = std::str::from_utf8(&data) {
            let _ = load_str("fuzz.toml", text);
        }
    }
    let imports = inputs("import");
    assert!(!imports.is_empty());
    for data in imports {
        let text = String::from_utf8_lossy(&data);
        let mut found = crate::import::azure_cli::read("fuzz.json", &text).unwrap_or_default();
        found.extend(crate::import::hosts::read("fuzz.hosts", &text));
        let _ = load_str("rendered.toml", &crate::import::render(&found, &[]));
    }
}

/// Reading a large file in pieces must give what reading it whole gives:
/// the same mapping and the same diagnostics, lines included.
#[test]
fn pieces_and_the_whole_file_agree() {
    let mut text = String::from("[server]\nallow = [\n  \"10.0.0.0/8\",\n]\n\n");
    for v in 0..30 {
        text.push_str(&format!(
            "[[vault]]\nname = \"v{v}\"\nid = \"{}\"\ngeo = \"{}\"\n[vault.backup]\nfab1 = \"10.1.{v}.1\"\n\n",
            1000 + v,
            if v == 7 { "wee" } else { "we" }
        ));
    }
    text.push_str("[records]\n");
    for i in 0..(2 * 2000 + 10) {
        text.push_str(&format!(
            "\"n{i}.privatelink.blob.core.windows.net\" = \"10.2.{}.{}\"\n",
            i / 250,
            i % 250 + 1
        ));
    }
    // The same name, spelt differently: a different TOML key.
    text.push_str("\"N4003.privatelink.blob.core.windows.net\" = \"10.9.9.9\"\n");
    let pieces = problems(&text);
    let whole = match crate::load_with("m.toml", &text, crate::file::read_unsplit) {
        Ok(_) => panic!("expected an invalid file"),
        Err(error) => diagnostics_of(error),
    };
    assert_eq!(pieces, whole);
    assert!(
        has(&pieces, "m.toml:58: vault[7].geo: unknown geo code \"wee\""),
        "{pieces:#?}"
    );
    assert!(
        has(
            &pieces,
            "m.toml:4227: records.\"N4003.privatelink.blob.core.windows.net\": n4003.privatelink.blob.core.windows.net is mapped to 10.9.9.9 here but to 10.2.16.4 at line 4220"
        ),
        "{pieces:#?}"
    );
    // A header-looking line inside a multi-line array cuts a piece short:
    // the file is then read whole, and that array is reported for what it is.
    let nested = problems(&text.replacen("allow = [\n", "allow = [\n[\"nested\"],\n", 1));
    assert!(
        has(&nested, "server.allow[0]: expected a string, found array"),
        "{nested:#?}"
    );
}

#[test]
fn a_key_twice_in_a_long_records_table_is_a_toml_error_as_in_a_short_one() {
    let mut text = String::from("[records]\n");
    for i in 0..2500 {
        text.push_str(&format!(
            "\"n{i}.privatelink.blob.core.windows.net\" = \"10.2.{}.{}\"\n",
            i / 250,
            i % 250 + 1
        ));
    }
    text.push_str("\"n3.privatelink.blob.core.windows.net\" = \"10.2.0.4\"\n");
    let list = problems(&text);
    assert!(
        has(&list, "m.toml:2502: syntax: duplicate key"),
        "{list:#?}"
    );
}

#[test]
fn a_table_defined_twice_is_reported_even_in_a_large_file() {
    let mut text = String::from("[server]\nwatch = true\n");
    for v in 0..5 {
        text.push_str(&format!(
            "[[vault]]\nname = \"v{v}\"\nid = \"{}\"\ngeo = \"we\"\n",
            1000 + v
        ));
    }
    text.push_str("[server]\nwatch = false\n");
    let list = problems(&text);
    assert!(list.iter().any(|l| l.contains(": syntax: ")), "{list:#?}");
}
