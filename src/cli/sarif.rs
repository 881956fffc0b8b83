//! `berth lint --format sarif`: SARIF 2.1.0, the format GitHub code scanning and other
//! CI tools read. Every registered rule is described (with its documentation), plus any
//! other problem code the run produced; each problem is a result with its location.

use serde_json::{Value, json};

use crate::lint::Rule;
use crate::lint::rules::RULES;
use crate::problem::{Problem, Severity};

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn describe_rule(rule: &Rule) -> Value {
    let d = &rule.docs;
    let markdown = format!(
        "{}\n\n**Why.** {}\n\n**Example**\n```\n{}\n```\n\n**Use instead**\n```\n{}\n```",
        d.what, d.why, d.example, d.instead
    );
    json!({
        "id": rule.code,
        "name": rule.name,
        "shortDescription": { "text": rule.summary },
        "fullDescription": { "text": d.what },
        "help": { "text": format!("{} {}", d.what, d.why), "markdown": markdown },
        "defaultConfiguration": { "level": level(rule.severity) },
        "properties": { "berthId": rule.id },
    })
}

/// The whole SARIF log for one run.
pub fn report(problems: &[Problem]) -> Value {
    let mut rules: Vec<Value> = RULES.iter().map(|r| describe_rule(r)).collect();
    let mut ids: Vec<String> = RULES.iter().map(|r| r.code.to_string()).collect();
    // Codes that are not lint rules (a file that does not parse, a schema violation).
    for p in problems {
        if !ids.iter().any(|i| i == p.code) {
            ids.push(p.code.to_string());
            rules.push(json!({
                "id": p.code,
                "shortDescription": { "text": p.code },
                "defaultConfiguration": { "level": level(p.severity) },
            }));
        }
    }
    let results: Vec<Value> = problems
        .iter()
        .map(|p| {
            let mut result = json!({
                "ruleId": p.code,
                "ruleIndex": ids.iter().position(|i| i == p.code),
                "level": level(p.severity),
                "message": { "text": match &p.help {
                    Some(help) => format!("{} ({help})", p.message),
                    None => p.message.clone(),
                } },
            });
            if let (Some(file), Some(span)) = (&p.file, p.span) {
                let (start_line, start_column) = file.line_col(span.start);
                let (end_line, end_column) = file.line_col(span.end);
                result["locations"] = json!([{
                    "physicalLocation": {
                        "artifactLocation": { "uri": file.name() },
                        "region": {
                            "startLine": start_line,
                            "startColumn": start_column,
                            "endLine": end_line,
                            "endColumn": end_column.max(start_column + usize::from(end_line == start_line)),
                        }
                    }
                }]);
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "berth",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://berth.dev",
                "rules": rules,
            } },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    })
}
