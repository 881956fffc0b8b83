//! P26: ERB code reading a name that no VARIABLE declares, that is not `scope`, and that
//! the template does not assign itself. Names only; method calls with arguments or a
//! receiver are not variable reads and `erb::free_identifiers` leaves them out.

use std::collections::BTreeSet;

use crate::lint::{Check, Checker, Docs, Rule, closest};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "undeclared-erb-variable",
    id: "P26",
    code: "berth::lint::undeclared-erb-variable",
    severity: Severity::Warning,
    summary: "ERB reads a name that no VARIABLE declares",
    docs: Docs {
        what: "Finds names that ERB code reads as variables where the plugin declares no VARIABLE of that name, the name is not `scope`, and the template does not assign it first. It checks every branch, including ones that do not run with the current values.",
        why: "While plugin.txt renders, the only local variables are the VARIABLEs and `scope`. Any other bare name is a call of a method that does not exist (unless plugin code loaded with `require` defines it), so Ruby raises NameError and the install fails, but only when that line runs: a branch taken only for some values (or only after an upgrade) fails later. `target_name` and `microservice_name` exist in target and microservice files, not in plugin.txt.",
        example: "VARIABLE example_port 8080\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT <%= exmple_port %>",
        instead: "VARIABLE example_port 8080\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT <%= example_port %>",
    },
    check: Check::plugin(check),
};

/// Kernel methods that templates call without arguments: bare, they read like names.
const KERNEL: &[&str] = &[
    "binding",
    "caller",
    "fail",
    "raise",
    "rand",
    "__dir__",
    "__method__",
];

fn check(c: &mut Checker) {
    let declared: BTreeSet<&str> = c.plugin.variables.iter().map(|v| v.name.value.as_str()).collect();
    let file = &c.plugin.file;
    let mut seen: BTreeSet<(&str, usize)> = BTreeSet::new();
    for (name, span) in &c.plugin.erb_free_identifiers {
        let name = name.as_str();
        if declared.contains(name)
            || name == "scope"
            || KERNEL.contains(&name)
            // `x?` and `x!` can only be methods.
            || name.ends_with(['?', '!'])
            || !seen.insert((name, file.line(span.start)))
        {
            continue;
        }
        let help = match name {
            "target_name" | "microservice_name" => format!(
                "`{name}` is set in target and microservice files, not while plugin.txt renders; declare a VARIABLE for the value"
            ),
            _ => match closest(name, declared.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => {
                    format!("declare it (`VARIABLE {name} <default>`), or assign it in a tag before this one")
                }
            },
        };
        let p = c
            .problem(*span, format!("`{name}` is not a declared VARIABLE"))
            .with_label("NameError when this runs")
            .with_help(help);
        c.emit(p);
    }
}
