//! Which events berth sends and what they say (schemas/event.schema.json): an apply's,
//! rollback's or destroy's end from its journal entry, drift found or healed, a service
//! held or crash-looping, a configuration that does not compile; and the endpoints
//! berth.yaml's `notify` names, with their secrets' values. Sending is the edge's
//! (`crate::notify`). No event carries a secret's value: they hold names, steps,
//! outcomes and places in files.

use std::path::Path;

use crate::config::Config;
use crate::engine::Identity;
use crate::notify::{Endpoint, Event, ProblemAt};
use crate::problem::Problem;
use crate::store::journal;

/// The endpoints berth.yaml names; for each whose secret has no value, why it is left
/// out (an event is never sent unsigned to an endpoint that asked for a signature).
pub fn endpoints(config: &Config, root: &Path) -> (Vec<Endpoint>, Vec<String>) {
    let mut endpoints = Vec::new();
    let mut left_out = Vec::new();
    for (i, notify) in config.notify.iter().enumerate() {
        let secret = match &notify.secret {
            None => None,
            Some(reference) => {
                match super::secret_value(config, root, reference, &format!("notify[{i}].secret")) {
                    Ok(secret) => Some(secret),
                    Err(e) => {
                        left_out.push(format!("notifications to notify[{i}] are not sent: {e}"));
                        continue;
                    }
                }
            }
        };
        endpoints.push(Endpoint {
            url: notify.webhook.clone(),
            secret,
            events: notify.events.clone(),
        });
    }
    (endpoints, left_out)
}

/// Who sends, about what: the parts every event shares.
pub struct About<'a> {
    pub project: &'a str,
    pub engine: &'a str,
    pub commit: Option<&'a str>,
    pub by: Option<&'a str>,
    /// `apply`, `rollback`, `destroy` or `watch`.
    pub sender: &'static str,
    /// RFC 3339, UTC.
    pub time: String,
}

impl<'a> About<'a> {
    /// About the project, engine and commit a plan names.
    pub fn of(
        identity: &'a Identity,
        engine: &'a str,
        by: Option<&'a str>,
        sender: &'static str,
        time: String,
    ) -> About<'a> {
        About {
            project: &identity.project,
            engine,
            commit: identity.commit.as_deref(),
            by,
            sender,
            time,
        }
    }

    fn event(&self, event: &'static str, severity: &'static str, message: String) -> Event {
        Event {
            format_version: "1",
            id: String::new(),
            event,
            severity,
            time: self.time.clone(),
            project: self.project.to_string(),
            engine: self.engine.to_string(),
            commit: self.commit.map(String::from),
            by: self.by.map(String::from),
            sender: self.sender,
            message,
            outcome: None,
            changes: Vec::new(),
            services: Vec::new(),
            problems: Vec::new(),
            pin: None,
        }
    }
}

/// ` at commit abc1234`, when there is one.
fn short(commit: Option<&str>) -> String {
    commit
        .map(|c| format!(" at commit {}", journal::short(c)))
        .unwrap_or_default()
}

/// An apply, rollback or destroy that ran: `applied` or `incomplete`, each step's outcome,
/// and for a rollback the pin it set.
pub fn finished(
    about: &About<'_>,
    kind: &'static str,
    entry: &journal::Entry,
    pin: Option<journal::Pin>,
) -> Event {
    let (outcome, severity) = if entry.failed.is_empty() {
        ("applied", "info")
    } else {
        ("incomplete", "error")
    };
    let message = if entry.failed.is_empty() {
        format!(
            "{kind} of {}{}: {}",
            about.project,
            short(about.commit),
            entry.done
        )
    } else {
        format!(
            "{kind} of {}{} incomplete: {}; failed: {}",
            about.project,
            short(about.commit),
            entry.done,
            entry.failed.join("; ")
        )
    };
    let mut event = about.event(kind, severity, message);
    event.outcome = Some(outcome);
    event.changes = entry.changes.clone();
    event.pin = pin;
    event
}

/// An apply that could not run at all (the engine failed under it).
pub fn failed(about: &About<'_>, kind: &'static str, why: &str) -> Event {
    let message = format!("{kind} of {}{} failed: {why}", about.project, short(about.commit));
    let mut event = about.event(kind, "error", message);
    event.outcome = Some("failed");
    event
}

/// Drift found and left (`drift_found`), healed (`drift_healed`), services held after
/// healing again and again (`service_held`), or restarted by the engine again and again
/// (`crash_loop`).
pub fn services(about: &About<'_>, event: &'static str, services: Vec<String>, detail: &str) -> Event {
    let severity = if event == "drift_healed" {
        "info"
    } else {
        "warning"
    };
    let what = match event {
        "drift_found" => "drift found",
        "drift_healed" => "drift healed",
        "service_held" => "held after healing again and again",
        _ => "crash-looping",
    };
    let message = format!("{}: {what} in {}{detail}", about.project, services.join(", "));
    let mut event = about.event(event, severity, message);
    event.services = services;
    event
}

/// A configuration that does not compile, with every error's place.
pub fn invalid(about: &About<'_>, problems: &[Problem]) -> Event {
    let message = format!(
        "the configuration of {}{} has {} error(s); nothing was changed",
        about.project,
        short(about.commit),
        problems.len()
    );
    let mut event = about.event("invalid_configuration", "error", message);
    event.problems = problems
        .iter()
        .map(|p| {
            let at = p.location();
            ProblemAt {
                file: at.as_ref().map(|l| l.file.clone()).unwrap_or_default(),
                line: at.as_ref().map_or(0, |l| l.line),
                column: at.as_ref().map_or(0, |l| l.column),
                code: p.code.to_string(),
                message: p.message.clone(),
            }
        })
        .collect();
    event
}
