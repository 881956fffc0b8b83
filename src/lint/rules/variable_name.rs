//! P24: a VARIABLE name that Ruby cannot bind as a local variable, so ERB fails.

use crate::formats::cosmos::{is_local_variable_name, is_reserved};
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "variable-name",
    id: "P24",
    code: "berth::lint::variable-name",
    severity: Severity::Error,
    summary: "VARIABLE name that is not a Ruby local variable name",
    docs: Docs {
        what: "Checks that every VARIABLE name is a Ruby local variable name: a lowercase letter or `_` first, then letters, digits and `_`.",
        why: "COSMOS accepts any name when it gathers VARIABLEs, but then binds each as a Ruby local variable for ERB, which fails with `wrong local variable name` for names such as `Port`, `api-key` or `2nd`.",
        example: "VARIABLE Api-Port 8080\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb",
        instead: "VARIABLE api_port 8080\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for variable in &c.plugin.variables {
        let name = &variable.name;
        let v = &name.value;
        if is_local_variable_name(v) {
            continue;
        }
        let first = v.chars().next();
        let label = match first {
            None => "an empty name".to_string(),
            Some(f) if f.is_uppercase() => "starts with an uppercase letter".to_string(),
            Some(f) if f.is_ascii_digit() => "starts with a digit".to_string(),
            Some(_) => match v.chars().find(|&ch| !(ch == '_' || ch.is_alphanumeric())) {
                Some(bad) => format!("`{bad}` is not allowed"),
                None => "not a Ruby identifier".to_string(),
            },
        };
        let help = if v.contains("<%") {
            "COSMOS reads VARIABLE lines before ERB runs, so the name is this literal text; write the name itself".to_string()
        } else {
            match suggestion(v) {
                Some(s) => format!("ERB fails with `wrong local variable name`; rename it to `{s}` and use that in the ERB tags"),
                None => "ERB fails with `wrong local variable name`; start with a lowercase letter or `_`, then use letters, digits and `_`".to_string(),
            }
        };
        let p = c
            .problem(
                name.span,
                format!("`{v}` is not a valid Ruby local variable name"),
            )
            .with_label(label)
            .with_help(help);
        c.emit(p);
    }
}

/// The name lowercased, with other characters turned into `_`, if that makes a usable name.
fn suggestion(name: &str) -> Option<String> {
    let mut s: String = name
        .chars()
        .map(|ch| if ch.is_alphanumeric() { ch } else { '_' })
        .collect::<String>()
        .to_lowercase();
    if s.starts_with(|ch: char| ch.is_ascii_digit()) {
        s.insert(0, '_');
    }
    let usable = s.chars().any(char::is_alphanumeric) && is_local_variable_name(&s) && !is_reserved(&s);
    usable.then_some(s)
}
