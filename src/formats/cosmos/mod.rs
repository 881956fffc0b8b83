//! What COSMOS itself defines about `plugin.txt`: its keyword table, how Ruby reads the
//! values, and which VARIABLE names it accepts. Data and small pure functions, read by
//! the parser's syntax tree, the front end and the lint rules alike.

pub mod keywords;
pub mod values;

use keywords::BlockKind;

/// The COSMOS name of a deployed block: `SCOPE__TYPE__NAME`, NAME upcased.
pub fn service_name(scope: &str, kind: BlockKind, name: &str) -> String {
    let kind = match kind {
        BlockKind::Interface => "INTERFACE",
        BlockKind::Router => "ROUTER",
        _ => "USER",
    };
    format!("{scope}__{kind}__{}", name.to_uppercase())
}

/// VARIABLE names COSMOS refuses (FORMATS.md §1.4).
pub fn is_reserved(name: &str) -> bool {
    matches!(name, "target_name" | "microservice_name" | "scope")
}

/// Whether Ruby's `local_variable_set` accepts `name`: a lowercase letter or `_` first
/// (non-ASCII lowercase letters count), then word characters.
pub fn is_local_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let first_ok = first == '_' || first.is_ascii_lowercase() || (!first.is_ascii() && !first.is_uppercase());
    first_ok && chars.all(|c| c == '_' || c.is_ascii_alphanumeric() || (!c.is_ascii() && c.is_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_local_variable_names() {
        for ok in ["a", "_target", "x_1", "ünï", "end"] {
            assert!(is_local_variable_name(ok), "{ok}");
        }
        for bad in ["", "A", "a-b", "1x", "<%="] {
            assert!(!is_local_variable_name(bad), "{bad}");
        }
    }
}
