//! B6: a memory limit or reservation below the 6 MiB the Docker engine allows.

use crate::diff::limits::MIN_MEMORY_BYTES;
use crate::formats::quantity::memory_bytes;
use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "memory-below-minimum",
    id: "B6",
    code: "berth::lint::memory-below-minimum",
    severity: Severity::Error,
    summary: "memory limit or request below the engine's 6 MiB",
    docs: Docs {
        what: "Finds a Cumulocity `resources.memory` or `requestedResources.memory`, or a Sesam `docker.memory` (in MB), below 6 MiB (6291456 bytes; note that Cumulocity's `6M` is 6000000 bytes, below it).",
        why: "The Docker engine refuses to create a container with less: \"Minimum memory limit allowed is 6MB\". `berth plan` refuses it too; lint says so before any engine is asked.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"memory\": 4}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"memory\": 64}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    let fields: &[&str] = match c.doc.format {
        Format::Cumulocity => &[
            "/resources/memory",
            "/requestedResources/memory",
            "/requestResources/memory",
        ],
        Format::Sesam => &["/docker/memory"],
    };
    for pointer in fields {
        let bytes = match c.get(pointer) {
            Some(v) if c.doc.format == Format::Sesam => v.as_u64().and_then(|mb| mb.checked_mul(1024 * 1024)),
            Some(v) => v.as_str().and_then(memory_bytes),
            None => None,
        };
        // Zero or less is resource-quota's to report.
        let Some(bytes) = bytes.filter(|b| (1..MIN_MEMORY_BYTES).contains(b)) else {
            continue;
        };
        let p = c
            .problem(
                c.value_span(pointer),
                format!("{bytes} bytes of memory is below the engine's minimum of 6 MiB ({MIN_MEMORY_BYTES} bytes)"),
            )
            .with_label("the engine refuses this")
            .with_help(match c.doc.format {
                Format::Sesam => "give the container at least 6 (MB); most services need 64 or more",
                Format::Cumulocity => "give the container at least 7M (or 6Mi); most services need 64M or more",
            });
        c.emit(p);
    }
}
