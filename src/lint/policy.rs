//! Which problems a lint run reports, and how loudly: rule levels (`deny`, `warn`,
//! `allow`) from berth.yaml and the command line, and inline suppression comments
//! (`# berth:allow RULE` on the line, or on the line above, in formats that have `#`
//! comments: plugin.txt and berth.yaml). Pure: values in, values out.

use std::collections::BTreeMap;

use crate::lint::find_rule;
use crate::problem::{Problem, Severity};

/// A level a rule can be set to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Allow,
    Warn,
    Deny,
}

/// Rule levels by problem code.
#[derive(Debug, Clone, Default)]
pub struct Levels {
    by_code: BTreeMap<&'static str, Level>,
}

impl Levels {
    /// Sets every rule named in `rules` (names or ids) to `level`, over earlier settings,
    /// so command-line flags applied after berth.yaml's lists win.
    pub fn set(&mut self, rules: &[String], level: Level) -> Result<(), String> {
        for name in rules {
            let rule = find_rule(name).ok_or_else(|| format!("no lint rule is called `{name}`"))?;
            self.by_code.insert(rule.code, level);
        }
        Ok(())
    }

    /// berth.yaml's `lint` lists.
    pub fn from_config(lint: &crate::config::Lint) -> Result<Levels, String> {
        let mut levels = Levels::default();
        levels.set(&lint.allow, Level::Allow)?;
        levels.set(&lint.warn, Level::Warn)?;
        levels.set(&lint.deny, Level::Deny)?;
        Ok(levels)
    }

    /// The problems that remain, at their levels. Problems that are not lint rules'
    /// (a file that does not parse, a schema violation) keep theirs.
    pub fn apply(&self, problems: Vec<Problem>) -> Vec<Problem> {
        problems
            .into_iter()
            .filter_map(|mut p| {
                match self.by_code.get(p.code) {
                    Some(Level::Allow) => return None,
                    Some(Level::Warn) => p.severity = Severity::Warning,
                    Some(Level::Deny) => p.severity = Severity::Error,
                    None => {}
                }
                Some(p)
            })
            .filter(|p| !suppressed(p))
            .collect()
    }
}

/// Whether a `# berth:allow RULE` comment on the problem's line, or alone on the line
/// above it, names the problem's rule (by name or id).
pub fn suppressed(problem: &Problem) -> bool {
    let (Some(file), Some(span)) = (&problem.file, problem.span) else {
        return false;
    };
    let Some(rule) = problem.code.strip_prefix("berth::lint::").and_then(find_rule) else {
        return false;
    };
    let name = file.name();
    if name.ends_with(".json") || name.ends_with(".md") || name.ends_with(".rst") {
        return false; // no comments there
    }
    let text = file.text();
    let line = file.line(span.start);
    let line_text = |n: usize| text.lines().nth(n.checked_sub(1)?);
    let names_rule = |l: &str| allowed_in(l).any(|r| r == rule.name || r.eq_ignore_ascii_case(rule.id));
    line_text(line).is_some_and(names_rule)
        || line_text(line.wrapping_sub(1)).is_some_and(|l| l.trim_start().starts_with('#') && names_rule(l))
}

/// The rule names after `berth:allow` in a line's comment, comma or space separated.
fn allowed_in(line: &str) -> impl Iterator<Item = &str> {
    let after = line.find('#').and_then(|hash| {
        line[hash..]
            .find("berth:allow")
            .map(|i| &line[hash + i + "berth:allow".len()..])
    });
    after
        .into_iter()
        .flat_map(|rest| rest.split([',', ' ', '\t']))
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{SourceFile, Span};

    fn problem_at(text: &str, needle: &str, code: &'static str) -> Problem {
        let file = SourceFile::new("plugin.txt", text);
        let start = text.find(needle).unwrap();
        Problem::new(code, Severity::Warning, "m").at(&file, Span::new(start, start + needle.len()))
    }

    #[test]
    fn inline_comments_suppress_a_rule_on_their_line_or_the_next() {
        let text = "MICROSERVICE A a # berth:allow missing-cmd\n# berth:allow P14, P5\nMICROSERVICE B b\nMICROSERVICE C c\n";
        assert!(suppressed(&problem_at(text, "A a", "berth::lint::missing-cmd")));
        assert!(suppressed(&problem_at(text, "B b", "berth::lint::missing-cmd")));
        assert!(!suppressed(&problem_at(text, "C c", "berth::lint::missing-cmd")));
        assert!(!suppressed(&problem_at(
            text,
            "A a",
            "berth::lint::duplicate-name"
        )));
    }

    #[test]
    fn levels_change_severity_or_drop() {
        let text = "MICROSERVICE A a\n";
        let mut levels = Levels::default();
        levels.set(&["missing-cmd".into()], Level::Deny).unwrap();
        levels.set(&["P12".into()], Level::Allow).unwrap();
        let out = levels.apply(vec![
            problem_at(text, "A a", "berth::lint::missing-cmd"),
            problem_at(text, "A a", "berth::lint::duplicate-name"),
            problem_at(text, "A a", "berth::schema::violation"),
        ]);
        let got: Vec<(&str, Severity)> = out.iter().map(|p| (p.code, p.severity)).collect();
        assert_eq!(
            got,
            [
                ("berth::lint::missing-cmd", Severity::Error),
                ("berth::schema::violation", Severity::Warning)
            ]
        );
        assert!(levels.set(&["nope".into()], Level::Warn).is_err());
    }
}
