//! P4: a PORT, SHARD or DB_SHARD number that Ruby's `Integer()` refuses.

use crate::ast::Plugin;
use crate::formats::cosmos::values::is_ruby_integer;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::parse::plugin_txt::{LogicalLine, Token};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "invalid-integer",
    id: "P4",
    code: "berth::lint::invalid-integer",
    severity: Severity::Error,
    summary: "PORT, SHARD or DB_SHARD that is not an integer",
    docs: Docs {
        what: "Checks that the number of every PORT, SHARD and DB_SHARD is something Ruby's `Integer()` accepts.",
        why: "COSMOS converts these with `Integer()` while installing and refuses the plugin otherwise (`Port must be an integer`). A leading `0` makes Ruby read the number as octal, so `08` and `09` fail too.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT 80a",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT 8080",
    },
    check: Check::plugin(check),
};

/// The modifiers whose first parameter COSMOS reads with `Integer()`.
const INTEGER_MODIFIERS: [&str; 3] = ["PORT", "SHARD", "DB_SHARD"];

/// Every PORT, SHARD and DB_SHARD line with its number, in file order.
pub fn integer_params(plugin: &Plugin) -> Vec<(&LogicalLine, &Token)> {
    let mut found: Vec<(&LogicalLine, &Token)> = INTEGER_MODIFIERS
        .iter()
        .flat_map(|kw| plugin.modifier_lines(kw))
        .filter_map(|(_, line)| Some((line, line.params.first()?)))
        .collect();
    found.sort_by_key(|(_, t)| t.span.start);
    found
}

fn check(c: &mut Checker) {
    for (line, number) in integer_params(c.plugin) {
        if is_ruby_integer(&number.value) {
            continue;
        }
        let v = &number.value;
        let digits = v.trim_start_matches(['+', '-']);
        let help = if digits.len() > 1
            && digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit())
        {
            format!(
                "a leading 0 makes Ruby read `{v}` as octal, where 8 and 9 are not digits; write it without the 0"
            )
        } else {
            format!(
                "give {} a whole number such as `{}`",
                line.keyword,
                example(&line.keyword)
            )
        };
        let p = c
            .problem(
                number.span,
                format!("{} `{v}` is not an integer", line.keyword.to_lowercase()),
            )
            .with_label("Ruby's `Integer()` refuses this")
            .with_help(help);
        c.emit(p);
    }
}

fn example(keyword: &str) -> &'static str {
    if keyword == "PORT" { "8080" } else { "0" }
}
