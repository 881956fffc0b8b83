//! C19: a top-level manifest key that is not documented.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "unknown-manifest-key",
    id: "C19",
    code: "berth::lint::unknown-manifest-key",
    severity: Severity::Warning,
    summary: "undocumented top-level manifest key",
    docs: Docs {
        what: "Finds top-level keys of a Cumulocity manifest that the manifest documentation does not list. `dockerBuildInfo` (added by the Java packager), `expose` and `price` (modelled by the Java SDK) and `requestResources` (the OpenAPI spelling, see C12) are known.",
        why: "The platform ignores keys it does not know, so a misspelt key (`readinesProbe`) silently drops its setting. Some internal keys exist, which is why this is a warning.",
        example: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"replica\": 2}",
        instead: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"replicas\": 2}",
    },
    check: Check::document(check),
};

/// FORMATS.md §2.2, plus the keys tools write or model.
const KNOWN: &[&str] = &[
    "apiVersion",
    "name",
    "contextPath",
    "version",
    "provider",
    "billingMode",
    "isolation",
    "scale",
    "replicas",
    "resources",
    "requestedResources",
    "requestResources",
    "settings",
    "settingsCategory",
    "requiredRoles",
    "roles",
    "livenessProbe",
    "readinessProbe",
    "extensions",
    "dockerBuildInfo",
    "expose",
    "price",
];

fn check(c: &mut DocChecker) {
    if c.doc.format == Format::Cumulocity {
        c.unknown_keys("", KNOWN, "a Cumulocity manifest");
    }
}
