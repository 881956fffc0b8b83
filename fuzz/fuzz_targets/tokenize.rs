//! The plugin.txt tokenizer (COSMOS's line splitting, quoting and comments) on any text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = berth::parse::plugin_txt::tokenize(text);
});
