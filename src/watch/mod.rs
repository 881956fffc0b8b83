//! The decisions of `berth watch`'s reconcile loop, apart from its clock and its I/O:
//! backoff, which errors wait for a change and which are retried, and which of a plan's
//! steps a reconcile may carry out under a drift mode; `reconciler` runs a reconcile with
//! them, `status` is what the watcher shows, `http` its endpoints on `--listen`. The loop
//! itself (triggers) is in `cli::watch`; it passes the time in, so all of this is
//! testable without waiting.
//!
//! The loop is level-triggered (STYLE.md habit 5): a reconcile never learns why it ran.
//! It compares what the repository says with what the engine runs and answers with
//! [`Next`]: run again after a while, or wait for the next trigger.

#[allow(clippy::disallowed_methods)] // the edge: the HTTP server on --listen
pub mod http;
pub mod metrics;
pub mod reconciler;
#[cfg(test)]
mod reconciler_tests;
pub mod status;
pub mod webhook;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::config::Drift;
use crate::plan::Step;

/// What the loop does after a reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Reconcile again after this long, or sooner if a trigger arrives.
    Requeue(Duration),
    /// Nothing to retry: wait for a trigger (or the interval's safety net).
    AwaitChange,
}

/// Why a reconcile did not converge, sorted by what makes it pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The repository's configuration is wrong (it does not compile, a secret has no
    /// value, a name is taken): retrying the same commit cannot help.
    Permanent(String),
    /// The engine, the remote, the lock or a step failed: it may pass by itself.
    Transient(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Permanent(m) | Failure::Transient(m) => m,
        }
    }
}

/// Exponential backoff: `first`, twice that, … up to `max`; `reset` starts over.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next;
        self.next = (delay * 2).min(self.max);
        Some(delay)
    }
}

/// Retries after a transient failure: 1 s, 2 s, 4 s … 5 min.
pub fn retry_backoff() -> Backoff {
    Backoff::new(Duration::from_secs(1), Duration::from_secs(300))
}

/// The wait before healing a service again after healing it: 10 s, 20 s … 10 min.
const HEAL_FIRST: Duration = Duration::from_secs(10);
const HEAL_MAX: Duration = Duration::from_secs(600);

/// How long a healed service stays in sync before its heal backoff starts over.
const HEAL_QUIET: Duration = Duration::from_secs(600);

/// One service's healing history.
#[derive(Debug, Clone)]
struct Heals {
    backoff: Backoff,
    /// When the service was last healed, and how many times in a row.
    last: Instant,
    count: u32,
    /// No heal before this.
    until: Instant,
}

/// What one reconcile may do with its plan.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    /// The steps to carry out.
    pub apply: Vec<Step>,
    /// Steps that undo changes made behind berth's back, found with the desired state
    /// unchanged since it last converged: healed (and also in `apply`) or only reported.
    pub drift: Vec<Step>,
    /// Services left drifted for now because they were healed shortly before
    /// (crash-looping or fought over): how many heals in a row, and when the next may be.
    pub held: Vec<Held>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub service: String,
    pub heals: u32,
    pub wait: Duration,
}

impl Decision {
    /// When the loop should look again because of a held service.
    pub fn requeue(&self) -> Option<Duration> {
        self.held.iter().map(|h| h.wait).min()
    }
}

/// What the loop remembers between reconciles.
#[derive(Debug, Default)]
pub struct Memory {
    /// The desired-state digest of the last reconcile that converged. Steps planned
    /// while the desired state still has this digest were caused by someone else.
    converged: Option<String>,
    heals: BTreeMap<String, Heals>,
}

impl Memory {
    /// Chooses what a reconcile carries out. A new desired state (a new commit, a new
    /// image behind a tag, or the first reconcile of this watcher) is applied whole, as
    /// `berth apply` would; with the desired state unchanged, every step is drift and
    /// `mode` decides: `heal` applies it (each service at most once per its heal
    /// backoff), `warn` reports it, `off` ignores it.
    pub fn decide(&mut self, steps: &[Step], desired: &str, mode: Drift, now: Instant) -> Decision {
        if self.converged.as_deref() != Some(desired) {
            return Decision {
                apply: steps.to_vec(),
                ..Decision::default()
            };
        }
        let mut decision = Decision::default();
        // A service that stayed in sync long enough starts its heal backoff over.
        self.heals.retain(|service, heals| {
            steps.iter().any(|s| &s.service == service) || now.duration_since(heals.last) < HEAL_QUIET
        });
        if mode == Drift::Off {
            return decision;
        }
        decision.drift = steps.to_vec();
        if mode == Drift::Warn {
            return decision;
        }
        let mut services: Vec<&str> = steps.iter().map(|s| s.service.as_str()).collect();
        services.dedup();
        for service in services {
            // A service never healed before may be healed now.
            let heals = self.heals.entry(service.to_string()).or_insert_with(|| Heals {
                backoff: Backoff::new(HEAL_FIRST, HEAL_MAX),
                last: now,
                count: 0,
                until: now,
            });
            if now < heals.until {
                decision.held.push(Held {
                    service: service.to_string(),
                    heals: heals.count,
                    wait: heals.until - now,
                });
                continue;
            }
            heals.last = now;
            heals.count += 1;
            heals.until = now + heals.backoff.next().unwrap_or(HEAL_MAX);
            decision
                .apply
                .extend(steps.iter().filter(|s| s.service == service).cloned());
        }
        decision
    }

    /// Records that the engine was seen matching `desired` (an empty plan). Until then,
    /// every reconcile applies the whole plan: an apply that failed is retried whole.
    /// Whether this is news, worth keeping.
    pub fn converged(&mut self, desired: &str) -> bool {
        let news = self.converged.as_deref() != Some(desired);
        self.converged = Some(desired.to_string());
        news
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // any instant will do as the tests' time zero
mod tests {
    use super::*;
    use crate::model::canonical::canonical;
    use crate::model::fixtures;
    use crate::plan::{Action, Existing, Work};

    fn step(service: &str, action: Action) -> Step {
        let on = Existing {
            id: "id".into(),
            version: None,
        };
        let spec = || canonical(&fixtures::service(service), "img", &fixtures::FakeDigests);
        let hash = String::from("h");
        let work = match action {
            Action::Create => Work::Create {
                spec: spec(),
                hash,
                start: true,
            },
            Action::Update => Work::Update {
                on,
                spec: spec(),
                hash,
            },
            Action::Replace => Work::Replace {
                on,
                spec: spec(),
                hash,
                start: true,
            },
            Action::Start => Work::Start { on },
            Action::Stop => Work::Stop { on },
            Action::Remove => Work::Remove { on, leftover: false },
        };
        Step {
            service: service.into(),
            instance: 0,
            name: format!("p-{service}"),
            work,
            changes: Vec::new(),
            origin: None,
        }
    }

    fn names(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.service.as_str()).collect()
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_starts_over_on_reset() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        let seconds: Vec<u64> = b.by_ref().take(5).map(|d| d.as_secs()).collect();
        assert_eq!(seconds, [1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.next(), Some(Duration::from_secs(1)));
    }

    #[test]
    fn a_new_desired_state_is_applied_whole_in_every_mode() {
        for mode in [Drift::Off, Drift::Warn, Drift::Heal] {
            let mut memory = Memory::default();
            let steps = [step("a", Action::Replace), step("b", Action::Start)];
            let d = memory.decide(&steps, "d1", mode, Instant::now());
            assert_eq!(names(&d.apply), ["a", "b"]);
            assert!(d.drift.is_empty());
            memory.converged("d1");
            let d = memory.decide(&steps, "d2", mode, Instant::now());
            assert_eq!(names(&d.apply), ["a", "b"], "{mode:?}");
        }
    }

    #[test]
    fn drift_is_healed_reported_or_ignored_by_mode() {
        let steps = [step("a", Action::Start)];
        let now = Instant::now();
        let mut heal = Memory::default();
        heal.converged("d");
        let d = heal.decide(&steps, "d", Drift::Heal, now);
        assert_eq!((names(&d.apply), names(&d.drift)), (vec!["a"], vec!["a"]));

        let mut warn = Memory::default();
        warn.converged("d");
        let d = warn.decide(&steps, "d", Drift::Warn, now);
        assert_eq!((names(&d.apply), names(&d.drift)), (vec![], vec!["a"]));

        let mut off = Memory::default();
        off.converged("d");
        assert_eq!(off.decide(&steps, "d", Drift::Off, now), Decision::default());
    }

    #[test]
    fn a_service_healed_again_and_again_is_held_with_a_growing_wait() {
        let steps = [step("loop", Action::Start), step("calm", Action::Start)];
        let mut memory = Memory::default();
        memory.converged("d");
        let t0 = Instant::now();
        let d = memory.decide(&steps, "d", Drift::Heal, t0);
        assert_eq!(names(&d.apply), ["loop", "calm"]);
        // Stopped again 3 s later: held until 10 s after the first heal.
        let d = memory.decide(&steps[..1], "d", Drift::Heal, t0 + Duration::from_secs(3));
        assert!(d.apply.is_empty());
        let expected = Held {
            service: "loop".into(),
            heals: 1,
            wait: Duration::from_secs(7),
        };
        assert_eq!(
            (d.held.clone(), d.requeue()),
            (vec![expected], Some(Duration::from_secs(7)))
        );
        // After the wait it is healed once more, and the next wait doubles.
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(
            names(&memory.decide(&steps[..1], "d", Drift::Heal, t1).apply),
            ["loop"]
        );
        let d = memory.decide(&steps[..1], "d", Drift::Heal, t1 + Duration::from_secs(1));
        assert_eq!((d.held[0].heals, d.held[0].wait), (2, Duration::from_secs(19)));
    }

    #[test]
    fn a_healed_service_that_stays_in_sync_starts_its_backoff_over() {
        let steps = [step("a", Action::Start)];
        let mut memory = Memory::default();
        memory.converged("d");
        let t0 = Instant::now();
        memory.decide(&steps, "d", Drift::Heal, t0);
        memory.decide(&steps, "d", Drift::Heal, t0 + Duration::from_secs(10));
        // In sync for longer than HEAL_QUIET: forgotten, so the next heal is immediate
        // and its hold short again.
        let later = t0 + Duration::from_secs(10) + HEAL_QUIET;
        assert!(memory.decide(&[], "d", Drift::Heal, later).apply.is_empty());
        assert_eq!(
            names(&memory.decide(&steps, "d", Drift::Heal, later).apply),
            ["a"]
        );
        let d = memory.decide(&steps, "d", Drift::Heal, later + Duration::from_secs(1));
        assert_eq!((d.held[0].heals, d.held[0].wait), (1, Duration::from_secs(9)));
    }

    #[test]
    fn until_the_engine_is_seen_converged_the_whole_plan_is_retried() {
        let steps = [step("a", Action::Replace)];
        let mut memory = Memory::default();
        memory.converged("d1");
        // d2 was applied but failed: it is not drift the next time either.
        for _ in 0..2 {
            let d = memory.decide(&steps, "d2", Drift::Warn, Instant::now());
            assert_eq!(names(&d.apply), ["a"]);
            assert!(d.drift.is_empty());
        }
    }
}
