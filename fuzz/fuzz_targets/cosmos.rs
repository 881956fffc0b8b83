//! A whole COSMOS plugin.txt (any bytes): both install phases, lint, lowering and a plan
//! (berth.yaml gives the image COSMOS would run, so that a valid plugin is planned).
#![no_main]

use berth::repo::memory::Memory;
use libfuzzer_sys::fuzz_target;

const BERTH: &str = "cosmos:\n  image: \"app:1\"\n";

fuzz_target!(|bytes: &[u8]| {
    berth_fuzz::plan(
        &Memory::new()
            .add("berth.yaml", BERTH)
            .add_bytes("plugin.txt", bytes),
    );
});
