//! Scheduled image pulls (Sesam's `pull_image_cron_expression`): cron expressions parsed
//! by croner (five fields as Vixie cron, or six with seconds first) and evaluated in UTC,
//! and which services are due at a given time. Pure: the time is passed in, as Unix
//! seconds; `berth watch` pulls what is due and plans as usual.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A cron expression, or why it is none.
pub fn parse(expression: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expression)
        .map_err(|e| e.to_string())
}

/// The first time `cron` matches strictly after `now`.
fn after(cron: &Cron, now: i64) -> Option<i64> {
    let now = DateTime::<Utc>::from_timestamp(now, 0)?;
    cron.find_next_occurrence(&now, false).ok().map(|t| t.timestamp())
}

/// Each scheduled service's expression and the next time it is due.
#[derive(Debug, Clone, Default)]
pub struct Pulls {
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    expression: String,
    cron: Cron,
    /// `None`: the expression never matches again.
    next: Option<i64>,
}

impl Pulls {
    /// Schedules exactly `schedules` (service → cron expression) from `now`: a service
    /// whose expression is unchanged keeps its next time, a new or changed one is due at
    /// its next match after `now`, and one no longer scheduled is forgotten. An
    /// expression that does not parse schedules nothing (compile reports it).
    pub fn set(&mut self, schedules: &BTreeMap<String, String>, now: i64) {
        self.entries
            .retain(|service, e| schedules.get(service) == Some(&e.expression));
        for (service, expression) in schedules {
            if self.entries.contains_key(service) {
                continue;
            }
            if let Ok(cron) = parse(expression) {
                let next = after(&cron, now);
                self.entries.insert(
                    service.clone(),
                    Entry {
                        expression: expression.clone(),
                        cron,
                        next,
                    },
                );
            }
        }
    }

    /// The services due at `now`, each then scheduled for its next match after `now`: a
    /// watcher that slept through several matches pulls once, not once per match.
    pub fn due(&mut self, now: i64) -> Vec<String> {
        let mut due = Vec::new();
        for (service, e) in &mut self.entries {
            if e.next.is_some_and(|t| t <= now) {
                due.push(service.clone());
                e.next = after(&e.cron, now);
            }
        }
        due
    }

    /// When the next service is due, if any is.
    pub fn next_due(&self) -> Option<i64> {
        self.entries.values().filter_map(|e| e.next).min()
    }
}

/// What a scheduled pull found behind the tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// Another image than the service runs: it is to be replaced.
    NewImage,
    SameImage,
}

impl Found {
    /// How a scheduled pull's image compares: with the image the service's containers
    /// run, else (none runs yet) with the one the tag named before the pull.
    pub fn of(running: Option<&str>, before: Option<&str>, after: Option<&str>) -> Found {
        let reference = running.or(before);
        if after.is_some() && after != reference {
            Found::NewImage
        } else {
            Found::SameImage
        }
    }

    /// Its name in /status and /metrics.
    pub fn name(self) -> &'static str {
        match self {
            Found::NewImage => "new_image",
            Found::SameImage => "same_image",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-04 03:00:00 UTC.
    const THREE_AM: i64 = 1_796_353_200;

    fn schedules(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(s, e)| (s.to_string(), e.to_string()))
            .collect()
    }

    #[test]
    fn a_new_image_is_one_the_service_does_not_run() {
        assert_eq!(Found::of(Some("a"), Some("a"), Some("b")), Found::NewImage);
        assert_eq!(Found::of(Some("a"), Some("a"), Some("a")), Found::SameImage);
        // The local tag was gone (an image prune): still the image the service runs.
        assert_eq!(Found::of(Some("a"), None, Some("a")), Found::SameImage);
        // The tag was moved by hand to what the service runs? Compared with the service.
        assert_eq!(Found::of(Some("a"), Some("b"), Some("b")), Found::NewImage);
        // Nothing runs yet: compared with the tag before the pull.
        assert_eq!(Found::of(None, Some("a"), Some("b")), Found::NewImage);
        assert_eq!(Found::of(None, None, None), Found::SameImage);
    }

    #[test]
    fn expressions() {
        assert!(parse("0 3 * * *").is_ok());
        assert!(parse("*/2 * * * * *").is_ok(), "seconds first, six fields");
        assert!(parse("@daily").is_ok());
        assert!(parse("61 * * * *").is_err());
        assert!(parse("every day").is_err());
        assert!(parse("0 3 * * * 2027").is_err(), "no years");
    }

    #[test]
    fn a_service_is_due_at_its_match_and_then_at_the_next() {
        let mut pulls = Pulls::default();
        pulls.set(&schedules(&[("web", "0 3 * * *")]), THREE_AM - 60);
        assert_eq!(pulls.next_due(), Some(THREE_AM));
        assert!(pulls.due(THREE_AM - 1).is_empty());
        assert_eq!(pulls.due(THREE_AM), ["web"]);
        assert!(pulls.due(THREE_AM).is_empty(), "once per match");
        assert_eq!(pulls.next_due(), Some(THREE_AM + 86_400));
        // Asleep for three days: one pull, then the next match after waking.
        assert_eq!(pulls.due(THREE_AM + 3 * 86_400 + 10), ["web"]);
        assert_eq!(pulls.next_due(), Some(THREE_AM + 4 * 86_400));
    }

    #[test]
    fn setting_again_keeps_unchanged_schedules_and_drops_removed_ones() {
        let mut pulls = Pulls::default();
        pulls.set(
            &schedules(&[("a", "0 3 * * *"), ("b", "*/10 * * * * *")]),
            THREE_AM - 60,
        );
        assert_eq!(pulls.next_due(), Some(THREE_AM - 50));
        // A later reconcile sets the same schedules: `a` keeps 03:00, not tomorrow's.
        pulls.set(
            &schedules(&[("a", "0 3 * * *"), ("b", "*/10 * * * * *")]),
            THREE_AM - 30,
        );
        assert_eq!(pulls.due(THREE_AM), ["a", "b"]);
        // `b` is gone, `a` changed: due at its new expression's next match.
        pulls.set(&schedules(&[("a", "30 3 * * *")]), THREE_AM + 5);
        assert_eq!(pulls.next_due(), Some(THREE_AM + 1800));
        pulls.set(&BTreeMap::new(), THREE_AM + 5);
        assert_eq!(pulls.next_due(), None);
    }
}
