//! P34: a MICROSERVICE whose folder is missing from the plugin's `microservices/`.
//! Only checkable when the plugin.txt sits in a plugin tree.

use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "missing-microservice-folder",
    id: "P34",
    code: "berth::lint::missing-microservice-folder",
    severity: Severity::Warning,
    summary: "MICROSERVICE folder missing from the plugin tree",
    docs: Docs {
        what: "Checks, when the plugin.txt is in a plugin's folder, that every MICROSERVICE's folder (its first parameter) exists under `microservices/`. The name is case-sensitive.",
        why: "COSMOS uploads `microservices/<folder>/` for the microservice. Without it nothing is uploaded, a relative WORK_DIR no longer resolves, and the CMD's script is not found.",
        example: "# with only microservices/example/ in the plugin\nMICROSERVICE EXAMPLE example\n  CMD ruby example.rb",
        instead: "# with only microservices/example/ in the plugin\nMICROSERVICE example example\n  CMD ruby example.rb",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let Some(tree) = c.tree else {
        return;
    };
    for (_, folder, files) in c.microservice_folders() {
        let f = &folder.value;
        if files.is_some() {
            continue;
        }
        let same_but_case = tree.microservice_folders().find(|d| d.eq_ignore_ascii_case(f));
        let help = match same_but_case {
            Some(d) => {
                format!("folder names are case-sensitive: the plugin has `microservices/{d}/`; write `{d}`")
            }
            None if tree.microservices.is_empty() => {
                format!("create `microservices/{f}/` with the microservice's files")
            }
            None => {
                let have: Vec<String> = tree.microservice_folders().map(|d| format!("`{d}`")).collect();
                format!(
                    "create `microservices/{f}/`, or use one of the folders the plugin has: {}",
                    have.join(", ")
                )
            }
        };
        let p = c
            .problem(
                folder.span,
                format!("microservice folder `microservices/{f}/` is not in the plugin"),
            )
            .with_label("no such folder")
            .with_help(help);
        c.emit(p);
    }
}
