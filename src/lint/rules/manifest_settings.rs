//! C13: manifest `settings` with a key given twice, or with the old format's `default` or
//! `valueSchema`.

use serde_json::Value;

use crate::lint::{Check, DocChecker, Docs, Format, Rule, repeats};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "manifest-settings",
    id: "C13",
    code: "berth::lint::manifest-settings",
    severity: Severity::Warning,
    summary: "setting key given twice, or old-format `default`/`valueSchema`",
    docs: Docs {
        what: "Finds entries of a Cumulocity manifest's `settings` whose `key` an earlier entry already has, and entries that still carry the old manifest format's `default` (now `defaultValue`) or `valueSchema` (dropped from the current docs).",
        why: "Each setting becomes one tenant option, so two entries with one key fight over it and only one default survives. `default` and `valueSchema` are not read by current platforms: a value written only there is lost.",
        example: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"settings\": [{\"key\": \"interval\", \"defaultValue\": \"10\"}, {\"key\": \"interval\", \"defaultValue\": \"20\", \"default\": \"20\"}]}",
        instead: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"settings\": [{\"key\": \"interval\", \"defaultValue\": \"10\"}, {\"key\": \"timeout\", \"defaultValue\": \"20\"}]}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Cumulocity {
        return;
    }
    let Some(Value::Array(settings)) = c.get("/settings") else {
        return;
    };
    let keys: Vec<(String, usize)> = settings
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((s.get("key")?.as_str()?.to_string(), i)))
        .collect();
    let old: Vec<(usize, &str)> = settings
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            ["default", "valueSchema"]
                .into_iter()
                .filter(move |k| s.get(k).is_some())
                .map(move |k| (i, k))
        })
        .collect();
    for (first, again) in repeats(keys.iter().map(|(k, i)| (k.as_str(), *i))) {
        let key = &keys.iter().find(|(_, i)| *i == again).expect("a listed key").0;
        let p = c
            .problem(
                c.value_span(&format!("/settings/{again}/key")),
                format!("setting `{key}` is defined twice"),
            )
            .with_label("defined again here")
            .with_related(
                c.value_span(&format!("/settings/{first}/key")),
                "first defined here",
            )
            .with_help("both become the same tenant option; keep one entry");
        c.emit(p);
    }
    for (i, key) in old {
        let (message, help) = if key == "default" {
            (
                "`default` is the old manifest format's name for `defaultValue`",
                "remove it; current platforms read only `defaultValue`",
            )
        } else {
            (
                "`valueSchema` belongs to the old manifest format",
                "remove it; current platforms treat every option value as a string",
            )
        };
        let p = c
            .problem(c.key_span(&format!("/settings/{i}/{key}")), message)
            .with_label("not read")
            .with_help(help);
        c.emit(p);
    }
}
