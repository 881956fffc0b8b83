//! A saved plan (any text) as `berth apply FILE` reads it back: recognised, parsed,
//! compared with itself and turned back into the inputs it was made from.
#![no_main]

use berth::ops::Environment;
use berth::ops::apply::{fresh, remade, saved_plan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Some(Ok(view)) = saved_plan(text) {
        assert!(fresh(&view, &view).is_ok(), "a plan is not stale against itself");
        let _ = remade(&view, &Environment::default());
    }
});
