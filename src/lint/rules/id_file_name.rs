//! S3: a `systems/<x>.conf.json` file whose name differs from the system's `_id`.

use std::path::Path;

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "id-file-name",
    id: "S3",
    code: "berth::lint::id-file-name",
    severity: Severity::Warning,
    summary: "systems/<x>.conf.json where x is not the _id",
    docs: Docs {
        what: "Finds a Sesam system in `systems/<x>.conf.json` whose `_id` is not `<x>`. Only files under a `systems/` folder that hold one entity are checked.",
        why: "The sesam client derives an entity's id from its file name when it uploads and downloads the configuration, so a file named after another id is renamed, duplicated or overwritten on the next sync.",
        example: "{\"_id\": \"other\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam || !c.doc.base.is_empty() {
        return;
    }
    let path = Path::new(c.doc.file.name());
    let in_systems = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "systems");
    let Some(stem) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".conf.json"))
    else {
        return;
    };
    let Some(id) = c.get("/_id").and_then(|v| v.as_str()) else {
        return;
    };
    if !in_systems || stem == id {
        return;
    }
    let p = c
        .problem(
            c.value_span("/_id"),
            format!("the system `{id}` is in `{stem}.conf.json`"),
        )
        .with_label("the sesam client takes the id from the file name")
        .with_help(format!(
            "rename the file to `systems/{id}.conf.json`, or change the _id"
        ));
    c.emit(p);
}
