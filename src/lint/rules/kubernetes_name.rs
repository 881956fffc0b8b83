//! P11: a MICROSERVICE, INTERFACE or ROUTER name whose Kubernetes service name (COSMOS
//! Enterprise) is not a valid DNS label.

use crate::formats::cosmos::service_name;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "kubernetes-name",
    id: "P11",
    code: "berth::lint::kubernetes-name",
    severity: Severity::Warning,
    summary: "name whose Kubernetes service name is not a valid DNS label",
    docs: Docs {
        what: "Derives the Kubernetes service name COSMOS Enterprise gives a MICROSERVICE, INTERFACE or ROUTER (`default-user-<name>-service`: lowercased, `_` turned into `-`) and checks that it is a DNS label: at most 63 characters of `a-z`, `0-9` and `-`.",
        why: "On Kubernetes each microservice gets a Service with that name; a name with `.`, spaces or other characters, or a long one, cannot be created, so the microservice is unreachable. Docker installs are not affected.",
        example: "MICROSERVICE EXAMPLE api.v2\n  CMD ruby api.rb",
        instead: "MICROSERVICE EXAMPLE api-v2\n  CMD ruby api.rb",
    },
    check: Check::plugin(check),
};

/// The longest DNS label Kubernetes accepts.
const MAX_LABEL: usize = 63;

fn check(c: &mut Checker) {
    for block in c.plugin.blocks.iter().filter(|b| b.kind.is_deployed()) {
        let Some(name) = c.plugin.block_name(block) else {
            continue;
        };
        // As the Enterprise route code derives it (FORMATS.md §1.9); `--scope` is not known
        // to lint, so the default scope stands in.
        let service = format!(
            "{}-service",
            service_name("DEFAULT", block.kind, &name.value)
                .to_lowercase()
                .replace("__", "-")
                .replace('_', "-")
        );
        let allowed = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-';
        let mut bad: Vec<char> = Vec::new();
        for ch in service.chars().filter(|&ch| !allowed(ch)) {
            if !bad.contains(&ch) {
                bad.push(ch);
            }
        }
        let mut reasons = Vec::new();
        if !bad.is_empty() {
            let shown: Vec<String> = bad
                .iter()
                .map(|&ch| {
                    if ch == ' ' {
                        "space".to_string()
                    } else {
                        format!("`{ch}`")
                    }
                })
                .collect();
            reasons.push(format!("{} not allowed", shown.join(", ")));
        }
        if service.len() > MAX_LABEL {
            reasons.push(format!("{} characters, at most {MAX_LABEL}", service.len()));
        }
        if reasons.is_empty() {
            continue;
        }
        let room = MAX_LABEL.saturating_sub(service.len().saturating_sub(name.value.len()));
        let p = c
            .problem(
                name.span,
                format!(
                    "kubernetes service name for `{}` is not a valid DNS label: {}",
                    name.value,
                    reasons.join("; ")
                ),
            )
            .with_label(format!("gives Service `{service}`"))
            .with_help(format!(
                "only matters for COSMOS Enterprise on Kubernetes; use letters, digits, `-` and `_`, at most {room} characters"
            ));
        c.emit(p);
    }
}
