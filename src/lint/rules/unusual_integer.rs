//! P5: a PORT, SHARD or DB_SHARD number that COSMOS accepts but that is probably not
//! what was meant: not plain digits, a leading 0 (octal), a port outside 1–65535, or a
//! negative shard.

use crate::formats::cosmos::values::{is_ruby_integer, ruby_integer};
use crate::lint::rules::invalid_integer::integer_params;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "unusual-integer",
    id: "P5",
    code: "berth::lint::unusual-integer",
    severity: Severity::Warning,
    summary: "PORT, SHARD or DB_SHARD not plain digits, octal, or out of range",
    docs: Docs {
        what: "Finds PORT, SHARD and DB_SHARD numbers written other than as plain decimal digits (hex, `0o`, `_`, a sign), with a leading 0, ports outside 1–65535 and negative shards.",
        why: "COSMOS reads them with Ruby's `Integer()`, which takes a leading 0 as octal (`010` is 8) and accepts hex and signs; the docs only allow plain digits. COSMOS does not check the port range, so a bad port only fails when the container starts.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT 08080\n  SHARD -1",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT 8080\n  SHARD 0",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for (line, number) in integer_params(c.plugin) {
        let v = number.value.as_str();
        // Refused numbers are invalid-integer's.
        if !is_ruby_integer(v) {
            continue;
        }
        let what = line.keyword.to_lowercase();
        let value = ruby_integer(v);
        let plain = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        let read_as = value.map_or_else(|| "a huge number".to_string(), |n| n.to_string());
        let p = if line.keyword == "PORT" && value.is_none_or(|n| !(1..=65535).contains(&n)) {
            c.problem(number.span, format!("port {read_as} is outside 1–65535"))
                .with_label(if plain { "not a valid port".to_string() } else { format!("`{v}` is {read_as}") })
                .with_help("COSMOS does not check the range, but no container can listen there; use a port from 1 to 65535")
        } else if line.keyword != "PORT" && value.is_some_and(|n| n < 0) {
            c.problem(number.span, format!("{what} {read_as} is negative"))
                .with_label("shards are numbered from 0")
                .with_help(format!("use {} 0 or a higher shard number", line.keyword))
        } else if plain && v.len() > 1 && v.starts_with('0') {
            let decimal = match v.trim_start_matches('0') {
                "" => "0",
                d => d,
            };
            let help = if decimal == read_as {
                format!("write `{read_as}`")
            } else {
                format!("write `{read_as}` if you meant octal, or `{decimal}` if you meant decimal")
            };
            c.problem(
                number.span,
                format!("{what} `{v}` starts with 0, so COSMOS reads it as octal {read_as}"),
            )
            .with_label(format!("Ruby reads this as {read_as}"))
            .with_help(help)
        } else if !plain {
            c.problem(
                number.span,
                format!("{what} `{v}` is not written as plain digits"),
            )
            .with_label(format!("COSMOS reads this as {read_as}"))
            .with_help(format!("the docs allow only digits here; write `{read_as}`"))
        } else {
            continue;
        };
        c.emit(p);
    }
}
