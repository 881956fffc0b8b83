//! The plan as people and programs read it: Terraform-style text (`+ ~ -/+ -`, a summary
//! line) and the JSON document of `schemas/plan.schema.json`. Secret values never appear:
//! specs hold keyed digests only, and the text shows `(secret NAME)` for them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Action, Plan, Step};
use crate::config::Mode;
use crate::diff::{Change, Provenance};
use crate::model::entry::HASH;

/// Above this many files, a created service's files are one line of the plan.
const FILES_SHOWN: usize = 10;

/// The version of the JSON document.
pub const FORMAT_VERSION: &str = "1";

/// A plan with what it is bound to, for `--format json` and `--out`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanView {
    pub format_version: String,
    pub project: String,
    /// The engine address the plan was made against.
    pub engine: String,
    /// Containers, or Swarm services.
    #[serde(default)]
    pub mode: crate::config::Mode,
    /// The digest of the desired state the plan was made from.
    pub desired_digest: String,
    /// The fingerprint of the engine state the plan was made against; `apply` of a saved
    /// plan refuses it when either has changed.
    pub observed_fingerprint: String,
    /// Attached mode: the fingerprint of what COSMOS's Redis held that the plan depends
    /// on; `apply` of a saved plan refuses it when it has changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_cosmos: Option<String>,
    pub summary: Summary,
    /// The project network to create first.
    pub network: Option<String>,
    /// The project network to remove last (the project was pruned to nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_network: Option<String>,
    pub steps: Vec<StepView>,
    /// Attached mode: the MICROSERVICE entries written to COSMOS's Redis before the
    /// steps, and removed after them.
    #[serde(default, skip_serializing_if = "EntriesView::is_empty")]
    pub cosmos_entries: EntriesView,
    /// Managed containers no longer desired, kept because prune is off.
    pub kept: Vec<String>,
    /// What forbids applying.
    pub errors: Vec<String>,
    /// What will run, but not as on the service's own platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the plan was made from, so that `berth apply FILE` can make it again and
    /// tell whether anything changed.
    pub inputs: Inputs,
}

/// The command-line inputs of a plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// Absolute paths of the files and folders read.
    pub paths: Vec<String>,
    pub vars: BTreeMap<String, String>,
    pub erb_env: BTreeMap<String, String>,
    pub scope: Option<String>,
    pub targets: Vec<String>,
    pub prune: bool,
    /// The git repository read (`--repo`), and the commit.
    pub repo: Option<String>,
    pub commit: Option<String>,
    /// `--engine`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<crate::config::Mode>,
    /// `--project`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// `--inspect-all`: applying the plan inspects every container again, or it would
    /// find the engine changed (what only an inspect shows).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inspect_all: bool,
}

/// The entries a plan writes to and removes from COSMOS's Redis, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntriesView {
    pub write: Vec<String>,
    pub remove: Vec<String>,
    /// Entries no longer desired but changed in Redis since berth wrote them: left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<String>,
}

impl EntriesView {
    fn is_empty(&self) -> bool {
        self.write.is_empty() && self.remove.is_empty() && self.left.is_empty()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub start: usize,
    pub stop: usize,
    pub remove: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepView {
    pub action: String,
    pub service: String,
    pub instance: u32,
    pub container: String,
    /// The existing container's ID (not for `create`).
    pub id: Option<String>,
    /// Where the service is declared, `file:line:column`.
    pub source: Option<String>,
    /// The spec hash the new or updated container will carry.
    pub hash: Option<String>,
    pub changes: Vec<ChangeView>,
    /// A `remove` of a container left over from an interrupted apply.
    pub leftover: bool,
    /// A Swarm service's version index when planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeView {
    pub path: String,
    pub from: Value,
    pub to: Value,
    pub in_place: bool,
    pub source: String,
    /// With a git source: the commit that last changed the line.
    pub commit: Option<Provenance>,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Remove => "remove",
        }
    }

    /// The action done: `created`, `replaced`.
    pub fn done(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Replace => "replaced",
            Action::Start => "started",
            Action::Stop => "stopped",
            Action::Remove => "removed",
        }
    }

    /// Terraform's sign for the action.
    fn sign(self) -> &'static str {
        match self {
            Action::Create => "  +",
            Action::Update | Action::Start | Action::Stop => "  ~",
            Action::Replace => "-/+",
            Action::Remove => "  -",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Action::Create => GREEN,
            Action::Update | Action::Start | Action::Stop => YELLOW,
            Action::Replace | Action::Remove => RED,
        }
    }
}

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl Summary {
    pub fn of(plan: &Plan) -> Summary {
        let mut s = Summary::default();
        for step in &plan.steps {
            *match step.action() {
                Action::Create => &mut s.create,
                Action::Update => &mut s.update,
                Action::Replace => &mut s.replace,
                Action::Start => &mut s.start,
                Action::Stop => &mut s.stop,
                Action::Remove => &mut s.remove,
            } += 1;
        }
        s
    }

    /// `Plan: 2 to create, 1 to update, 1 to replace, 0 to remove.`, with starts and
    /// stops named when there are any.
    pub fn line(&self) -> String {
        let mut line = format!(
            "Plan: {} to create, {} to update, {} to replace, {} to remove",
            self.create, self.update, self.replace, self.remove
        );
        for (n, what) in [(self.start, "start"), (self.stop, "stop")] {
            if n > 0 {
                let _ = write!(line, ", {n} to {what}");
            }
        }
        line + "."
    }
}

impl PlanView {
    pub fn new(
        plan: &Plan,
        project: &str,
        engine: &str,
        desired_digest: String,
        observed_fingerprint: String,
        inputs: Inputs,
    ) -> PlanView {
        PlanView {
            format_version: FORMAT_VERSION.to_string(),
            project: project.to_string(),
            engine: engine.to_string(),
            mode: plan.mode,
            desired_digest,
            observed_fingerprint,
            observed_cosmos: None,
            summary: Summary::of(plan),
            network: plan.network.clone(),
            remove_network: plan.remove_network.clone(),
            steps: plan.steps.iter().map(step_view).collect(),
            cosmos_entries: EntriesView {
                write: plan.entries.write.clone(),
                remove: plan.entries.remove.clone(),
                left: plan.entries.left.clone(),
            },
            kept: plan.kept.clone(),
            errors: plan.errors.iter().map(ToString::to_string).collect(),
            warnings: plan.warnings.iter().map(ToString::to_string).collect(),
            inputs,
        }
    }
}

fn step_view(step: &Step) -> StepView {
    StepView {
        action: step.action().name().to_string(),
        service: step.service.clone(),
        instance: step.instance,
        container: step.name.clone(),
        id: step.id().map(String::from),
        source: step.origin.as_ref().map(ToString::to_string),
        hash: step.spec().map(|(_, hash)| hash.to_string()),
        changes: step.changes.iter().map(change_view).collect(),
        leftover: step.leftover(),
        version: step.existing().and_then(|e| e.version),
    }
}

fn change_view(c: &Change) -> ChangeView {
    ChangeView {
        path: c.path.clone(),
        from: c.from.clone(),
        to: c.to.clone(),
        in_place: c.in_place,
        source: c.source.to_string(),
        commit: c.provenance.clone(),
    }
}

/// The plan as Terraform would print it, with ANSI colour when `colour`. Its errors are
/// not part of it: they go to stderr.
pub fn human(plan: &Plan, colour: bool) -> String {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    if plan.is_empty() {
        if plan.errors.is_empty() {
            out.push_str(&paint(GREEN, "No changes."));
            out.push_str(" The engine matches the configuration.\n");
        }
        notes(&mut out, plan, &paint);
        return out;
    }
    out.push_str("berth will perform the following actions:\n\n");
    if let Some(network) = &plan.network {
        let _ = writeln!(out, "  # network {network} will be created");
        let _ = writeln!(out, "{} network \"{network}\"\n", paint(GREEN, "  +"));
    }
    for name in &plan.entries.write {
        let _ = writeln!(
            out,
            "  # COSMOS entry {name} will be written to Redis ({HASH}) before its container starts"
        );
        let _ = writeln!(out, "{} entry \"{name}\"\n", paint(GREEN, "  +"));
    }
    let (object, updated) = match plan.mode {
        Mode::Docker => ("container", "will be updated in place"),
        Mode::Swarm => (
            "service",
            "will be updated (rolling, start-first; Swarm rolls back on failure)",
        ),
    };
    for step in &plan.steps {
        let what = match step.action() {
            Action::Create => "will be created",
            Action::Update => updated,
            Action::Replace => "must be replaced",
            Action::Start => "will be started",
            Action::Stop => "will be stopped",
            Action::Remove if step.leftover() => "will be removed (left over from an interrupted apply)",
            Action::Remove => "will be removed (no longer in the configuration)",
        };
        let _ = writeln!(out, "  # {} {what}", paint(BOLD, &step.name));
        let from = step
            .origin
            .as_ref()
            .map(|o| format!(" ({o})"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {object} \"{}\" {{ service = \"{}\", instance = {} }}{from}",
            paint(step.action().colour(), step.action().sign()),
            step.name,
            step.service,
            step.instance
        );
        match step.action() {
            Action::Create => {
                let fields = step.spec().map(|(s, _)| s.fields()).unwrap_or_default();
                // A folder of many files (an app) is one line; a few are each shown.
                let files = fields.keys().filter(|p| p.starts_with("files.")).count();
                for (path, value) in &fields {
                    if is_unset(value) || files > FILES_SHOWN && path.starts_with("files.") {
                        continue;
                    }
                    let _ = writeln!(out, "      {} {path} = {}", paint(GREEN, "+"), shown(value));
                }
                if files > FILES_SHOWN {
                    let _ = writeln!(out, "      {} files = {files} files", paint(GREEN, "+"));
                }
            }
            Action::Start => {
                let _ = writeln!(out, "      {} state: stopped → running", paint(YELLOW, "~"));
            }
            Action::Stop => {
                let _ = writeln!(out, "      {} state: running → stopped", paint(YELLOW, "~"));
            }
            _ => {}
        }
        for c in &step.changes {
            let forces = if c.in_place || step.action() != Action::Replace {
                String::new()
            } else {
                paint(RED, " # forces replacement")
            };
            let commit = c.provenance.as_ref().map(|p| {
                // The address's domain is left out: enough to know who, not a mailing list.
                let user = p.email.split('@').next().unwrap_or_default();
                format!(
                    ", {} \"{}\", {} <{user}@…>",
                    &p.commit[..p.commit.len().min(7)],
                    p.summary,
                    p.author
                )
            });
            let _ = writeln!(
                out,
                "      {} {}: {} → {}{forces}  ({}{})",
                paint(YELLOW, "~"),
                c.path,
                shown(&c.from),
                shown(&c.to),
                c.source,
                commit.unwrap_or_default()
            );
        }
        out.push('\n');
    }
    for name in &plan.entries.remove {
        let _ = writeln!(
            out,
            "  # COSMOS entry {name} will be removed from Redis ({HASH}): no longer in the configuration"
        );
        let _ = writeln!(out, "{} entry \"{name}\"\n", paint(RED, "  -"));
    }
    if let Some(network) = &plan.remove_network {
        let _ = writeln!(
            out,
            "  # network {network} will be removed (no container of the project is left)"
        );
        let _ = writeln!(out, "{} network \"{network}\"\n", paint(RED, "  -"));
    }
    notes(&mut out, plan, &paint);
    let mut line = Summary::of(plan).line();
    if !plan.entries.is_empty() {
        line.pop();
        let _ = write!(
            line,
            "; COSMOS entries: {} to write, {} to remove.",
            plan.entries.write.len(),
            plan.entries.remove.len()
        );
    }
    let _ = writeln!(out, "{}", paint(BOLD, &line));
    out
}

/// What the plan says besides its steps: its warnings, and what it leaves alone.
fn notes(out: &mut String, plan: &Plan, paint: &dyn Fn(&str, &str) -> String) {
    for warning in &plan.warnings {
        let _ = writeln!(out, "{} {warning}\n", paint(YELLOW, "Warning:"));
    }
    if !plan.entries.left.is_empty() {
        let _ = writeln!(
            out,
            "Note: COSMOS entries no longer in the configuration but changed in Redis since berth wrote them, left there: {}\n",
            plan.entries.left.join(", ")
        );
    }
    if !plan.kept.is_empty() {
        let _ = writeln!(
            out,
            "Note: {} managed container(s) no longer in the configuration, kept because prune is off (--prune removes them): {}\n",
            plan.kept.len(),
            plan.kept.join(", ")
        );
    }
}

fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A value as JSON, with secret digests shown as `(secret NAME)` and digests of
/// plain-text credentials as `(sensitive)`.
fn shown(v: &Value) -> String {
    redact(&serde_json::to_string(v).unwrap_or_default())
}

fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail.find('>');
        match (end, tail.strip_prefix("<secret:"), tail.starts_with("<redacted:")) {
            (Some(end), Some(inner), _) => {
                // `<secret:NAME:DIGEST>`: the name stays, the digest goes.
                let name = inner[..end - "<secret:".len()]
                    .rsplit_once(':')
                    .map_or("", |(n, _)| n);
                let _ = write!(out, "(secret {name})");
                rest = &tail[end + 1..];
            }
            (Some(end), None, true) => {
                out.push_str("(sensitive)");
                rest = &tail[end + 1..];
            }
            _ => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_shown_by_name_only() {
        assert_eq!(
            redact(r#""a <secret:db_pass:0123abcd> b <redacted:ff00> <c>""#),
            r#""a (secret db_pass) b (sensitive) <c>""#
        );
    }

    #[test]
    fn the_summary_names_starts_and_stops_only_when_there_are_some() {
        let mut s = Summary {
            create: 2,
            update: 1,
            replace: 1,
            ..Summary::default()
        };
        assert_eq!(
            s.line(),
            "Plan: 2 to create, 1 to update, 1 to replace, 0 to remove."
        );
        s.start = 1;
        assert_eq!(
            s.line(),
            "Plan: 2 to create, 1 to update, 1 to replace, 0 to remove, 1 to start."
        );
    }
}
