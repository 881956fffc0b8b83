//! C17: a probe on a port other than 80, or a missing liveness or readiness probe.

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "manifest-probes",
    id: "C17",
    code: "berth::lint::manifest-probes",
    severity: Severity::Warning,
    summary: "probe on a port other than 80, or no liveness/readiness probe",
    docs: Docs {
        what: "Finds a Cumulocity manifest without a `livenessProbe` or without a `readinessProbe`, and probes whose `httpGet` or `tcpSocket` port is not 80.",
        why: "The platform talks to the service on port 80 only, so a probe elsewhere tests something clients never reach. Without a liveness probe a hung container counts as healthy forever; without a readiness probe clients get errors while it starts. The docs recommend both for production.",
        example: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"livenessProbe\": {\"httpGet\": {\"path\": \"/health\", \"port\": 8080}}}",
        instead: "{\"apiVersion\": \"2\", \"name\": \"example\", \"version\": \"1.0.0\", \"provider\": {\"name\": \"Example\"}, \"livenessProbe\": {\"httpGet\": {\"path\": \"/health\"}}, \"readinessProbe\": {\"httpGet\": {\"path\": \"/health\"}}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Cumulocity {
        return;
    }
    for (probe, without) in [
        ("livenessProbe", "a hung container counts as healthy"),
        ("readinessProbe", "clients get errors while it starts"),
    ] {
        if c.get(&format!("/{probe}")).is_none() {
            let p = c
                .problem(c.start_span(""), format!("the manifest has no `{probe}`"))
                .with_label(format!("without it {without}"))
                .with_help(format!(
                    "add `\"{probe}\": {{\"httpGet\": {{\"path\": \"/health\"}}}}` (the Java SDK serves /health)"
                ));
            c.emit(p);
            continue;
        }
        for action in ["httpGet", "tcpSocket"] {
            let pointer = format!("/{probe}/{action}/port");
            let Some(port) = c.get(&pointer).and_then(|v| v.as_i64()) else {
                continue;
            };
            if port == 80 {
                continue;
            }
            let p = c
                .problem(c.value_span(&pointer), format!("{probe} checks port {port}, not 80"))
                .with_label("the service is reached on port 80 only")
                .with_help("probe port 80, where the platform sends requests (or leave `port` out: it defaults to 80)");
            c.emit(p);
        }
    }
}
