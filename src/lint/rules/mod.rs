//! The registry: every lint rule, in FORMATS.md order. A tidy test checks that each file
//! here is listed, documented and has fixtures.

use crate::lint::Rule;

mod misplaced_modifier;
mod parameter_count;
mod unknown_keyword;

/// All rules.
pub static RULES: &[&Rule] = &[
    &unknown_keyword::RULE,
    &misplaced_modifier::RULE,
    &parameter_count::RULE,
];
