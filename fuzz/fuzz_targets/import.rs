//! Any bytes as `az` JSON or a hosts file: names or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use privatelink_mapping::import;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut found = Vec::new();
    if let Ok(names) = import::azure_cli::read("fuzz.json", &text) {
        found.extend(names);
    }
    found.extend(import::hosts::read("fuzz.hosts", &text));
    let rendered = import::render(&found, &[]);
    // What import writes must load: a panic-free round trip is the point.
    let _ = privatelink_mapping::load_str("rendered.toml", &rendered);
});
