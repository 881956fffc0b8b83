//! C11: requested resources above the resource limits.

use crate::formats::quantity::{cpu_millis, memory_bytes};
use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "requests-exceed-limits",
    id: "C11",
    code: "berth::lint::requests-exceed-limits",
    severity: Severity::Error,
    summary: "requested cpu or memory above the limit",
    docs: Docs {
        what: "Finds a Cumulocity manifest whose `requestedResources` (or `requestResources`) `cpu` or `memory` is greater than the matching `resources` limit. A limit that is not written is the platform default: cpu 500m, memory 512M.",
        why: "A request is what the service is guaranteed; it cannot exceed what it is allowed to use. Kubernetes refuses such a pod, and the Docker engine refuses such a container (\"Minimum memory limit can not be less than memory reservation limit\"), so `berth plan` refuses it too. A request that is not written is the platform default clamped to the limit, which never exceeds it.",
        example: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"resources\": {\"memory\": \"512M\"}, \"requestedResources\": {\"memory\": \"1G\"}}",
        instead: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"resources\": {\"memory\": \"1G\"}, \"requestedResources\": {\"memory\": \"1G\"}}",
    },
    check: Check::document(check),
};

/// Reads a quantity in its smallest unit (millicores, bytes).
type Parse = fn(&str) -> Option<u64>;

/// What each resource is called, how to read it, and the platform's default limit.
const RESOURCES: [(&str, Parse, &str); 2] = [("cpu", cpu_millis, "500m"), ("memory", memory_bytes, "512M")];

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Cumulocity {
        return;
    }
    for field in ["requestedResources", "requestResources"] {
        for (resource, parse, default) in RESOURCES {
            let request = format!("/{field}/{resource}");
            let limit = format!("/resources/{resource}");
            let Some(wanted) = c.get(&request).and_then(|v| v.as_str()) else {
                continue;
            };
            let allowed = c.get(&limit).and_then(|v| v.as_str());
            let (Some(w), Some(a)) = (parse(wanted), parse(allowed.unwrap_or(default))) else {
                continue;
            };
            if w <= a {
                continue;
            }
            let mut p = c
                .problem(
                    c.value_span(&request),
                    format!(
                        "requested {resource} {wanted} is more than the limit {}",
                        allowed.unwrap_or(default)
                    ),
                )
                .with_label("requested here");
            p = match allowed {
                Some(_) => p.with_related(c.value_span(&limit), "limit here"),
                None => p.with_help(format!(
                    "the limit is the platform default {default}; set `resources.{resource}` at least as high, or request less"
                )),
            };
            c.emit(p);
        }
    }
}
