//! Text → syntax, one file per text format. Pure: no I/O, no keyword meaning.

pub mod examples;
pub mod json;
pub mod plugin_txt;
pub mod yaml;
