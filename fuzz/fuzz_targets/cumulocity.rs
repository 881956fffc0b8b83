//! A Cumulocity manifest (any bytes): JSON with spans, placeholders, schema, lowering and
//! a plan.
#![no_main]

use berth::repo::memory::Memory;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    berth_fuzz::plan(&Memory::new().add_bytes("cumulocity.json", bytes));
});
