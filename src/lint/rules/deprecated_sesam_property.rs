//! S7: the deprecated `docker.cpu_period` or `docker.cpuset_cpus`.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "deprecated-sesam-property",
    id: "S7",
    code: "berth::lint::deprecated-sesam-property",
    severity: Severity::Warning,
    summary: "deprecated docker.cpu_period or docker.cpuset_cpus",
    docs: Docs {
        what: "Finds the deprecated container properties `docker.cpu_period` and `docker.cpuset_cpus` in a Sesam microservice system.",
        why: "Sesam documents both as deprecated: the CPU period \"should not normally change\", and pinning cores fights the scheduler. `docker.cpu_quota` is the supported way to size CPU.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"cpu_period\": 100}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"cpu_quota\": 50}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    for key in ["cpu_period", "cpuset_cpus"] {
        let pointer = format!("/docker/{key}");
        if c.get(&pointer).is_none() {
            continue;
        }
        let p = c
            .problem(c.key_span(&pointer), format!("`docker.{key}` is deprecated"))
            .with_label("deprecated")
            .with_help("remove it; size the container's CPU with `docker.cpu_quota`");
        c.emit(p);
    }
}
