//! P23: a VARIABLE whose name COSMOS reserves.

use crate::formats::cosmos::is_reserved;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "reserved-variable",
    id: "P23",
    code: "berth::lint::reserved-variable",
    severity: Severity::Error,
    summary: "VARIABLE named target_name, microservice_name or scope",
    docs: Docs {
        what: "Finds VARIABLEs named `target_name`, `microservice_name` or `scope`.",
        why: "COSMOS binds these names itself (`scope` in plugin.txt, the other two in target and microservice files) and refuses the plugin with `VARIABLE name '…' is reserved`.",
        example: "VARIABLE target_name GPS\nTARGET GPS <%= target_name %>",
        instead: "VARIABLE gps_target_name GPS\nTARGET GPS <%= gps_target_name %>",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for variable in &c.plugin.variables {
        let name = &variable.name;
        if !is_reserved(&name.value) {
            continue;
        }
        let p = c
            .problem(name.span, format!("`{}` is a reserved variable name", name.value))
            .with_label("reserved by COSMOS")
            .with_help(format!(
                "COSMOS refuses the plugin (`VARIABLE name '{}' is reserved`); choose another name, such as `my_{}`, and use it in the ERB tags",
                name.value, name.value
            ));
        c.emit(p);
    }
}
