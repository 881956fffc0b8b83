//! Rendering problems for people: miette's graphical report, in colour only on a
//! terminal and never under `NO_COLOR`.

use std::io::{ErrorKind, IsTerminal, Write};

use miette::IntoDiagnostic;

use miette::{GraphicalReportHandler, GraphicalTheme};

use crate::problem::Problem;

/// Whether stderr gets colour.
pub fn colour() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Whether stdout gets colour: a terminal, and no `NO_COLOR`.
pub fn colour_stdout() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Writes command output. A closed pipe (`berth ... | head`) ends output quietly, as
/// it does for other Unix tools.
pub fn stdout(text: &str) -> miette::Result<()> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other.into_diagnostic(),
    }
}

/// Pretty JSON of one of berth's own view types, with a final newline. Serialising
/// them cannot fail: they hold no maps with non-string keys.
pub fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default() + "\n"
}

/// One problem as miette draws it.
pub fn render(problem: &Problem, colour: bool) -> String {
    let theme = if colour {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    if handler.render_report(&mut out, problem).is_err() {
        // Rendering only fails on a span outside the text, which would be a bug; the
        // one-line form still tells the user what is wrong.
        out = problem.one_line();
    }
    out
}

/// A warning on stderr.
pub fn warn(line: &str) {
    eprintln!("warning: {line}");
}
