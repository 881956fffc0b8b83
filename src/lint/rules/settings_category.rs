//! C14: a `settingsCategory` the docs or the Java packager do not allow.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "settings-category",
    id: "C14",
    code: "berth::lint::settings-category",
    severity: Severity::Warning,
    summary: "settingsCategory with characters the docs or the Java packager refuse",
    docs: Docs {
        what: "Finds a Cumulocity manifest whose `settingsCategory` has characters other than letters, digits and `.` (what the docs allow), or other than letters (what the Java Maven packager accepts).",
        why: "The category names the tenant options the service reads its settings from, and `credentials.` options are only decrypted for it. A category the platform or the packager refuses breaks the upload or leaves the settings unreadable.",
        example: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"settingsCategory\": \"my-service\"}",
        instead: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"settingsCategory\": \"myService\"}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Cumulocity {
        return;
    }
    let Some(category) = c.get("/settingsCategory").and_then(|v| v.as_str()) else {
        return;
    };
    let span = c.value_span("/settingsCategory");
    let p = if category.is_empty() || !category.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '.') {
        c.problem(
            span,
            format!("settingsCategory \"{category}\" has characters the docs do not allow"),
        )
        .with_label("only letters, digits and `.`")
        .with_help("use letters only, which both the docs and the Java packager accept")
    } else if !category.chars().all(|ch| ch.is_ascii_alphabetic()) {
        c.problem(
            span,
            format!("the Java packager rejects settingsCategory \"{category}\""),
        )
        .with_label("letters only for the Java packager")
        .with_help(
            "digits and `.` are fine for the docs, but a Java project fails to package; use letters only",
        )
    } else {
        return;
    };
    c.emit(p);
}
