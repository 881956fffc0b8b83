//! berth.yaml (any bytes) beside a small plugin: YAML with spans, its schema, and what it
//! changes in the plan (images, secrets, networks, policies).
#![no_main]

use berth::repo::memory::Memory;
use libfuzzer_sys::fuzz_target;

const PLUGIN: &str = "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT 7272\n";

fuzz_target!(|bytes: &[u8]| {
    berth_fuzz::plan(
        &Memory::new()
            .add_bytes("berth.yaml", bytes)
            .add("plugin.txt", PLUGIN),
    );
});
