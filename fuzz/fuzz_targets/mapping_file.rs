//! Any text as a mapping file: diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(loaded) = privatelink_mapping::load_str("fuzz.toml", text) {
            // Exercise what a loaded mapping offers.
            for zone in loaded.mapping.zones() {
                let _ = loaded.mapping.names_in(zone);
            }
        }
    }
});
