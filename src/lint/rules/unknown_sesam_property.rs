//! S15: a property a microservice system or its `docker` object does not document.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "unknown-sesam-property",
    id: "S15",
    code: "berth::lint::unknown-sesam-property",
    severity: Severity::Warning,
    summary: "undocumented property of a microservice system or its docker",
    docs: Docs {
        what: "Finds properties of a Sesam microservice system, and of its `docker` object, that the Sesam docs do not list (for example `proxy`, which appears in examples but is not documented).",
        why: "Sesam ignores what it does not know, so a misspelt property (`docker.enviroment`) silently drops its setting.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"enviroment\": {\"LOG_LEVEL\": \"info\"}}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"environment\": {\"LOG_LEVEL\": \"info\"}}}",
    },
    check: Check::document(check),
};

/// FORMATS.md §3.2 and §3.3: every system's properties and the microservice's own.
const SYSTEM: &[&str] = &[
    "_id",
    "type",
    "name",
    "description",
    "comment",
    "metadata",
    "worker_threads",
    "permissions",
    "docker",
    "use_https",
    "verify_ssl",
    "username",
    "password",
    "authentication",
    "connect_timeout",
    "read_timeout",
    "eager_load",
    "retry_strategy",
    "$conditional_properties",
];

/// FORMATS.md §3.3: the `docker` object, deprecated properties included (S7 reports them).
const DOCKER: &[&str] = &[
    "image",
    "port",
    "environment",
    "username",
    "password",
    "memory",
    "cpu_quota",
    "hosts",
    "skip_pull",
    "pull_image_cron_expression",
    "cpu_period",
    "cpuset_cpus",
    "$conditional_properties",
];

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    c.unknown_keys("", SYSTEM, "a microservice system");
    c.unknown_keys("/docker", DOCKER, "`docker`");
}
