//! P27: `render` of a partial whose file name does not start with `_`, which COSMOS
//! refuses. Reads the first string literal of each `render` call in ERB code; a name
//! built at install time (a variable, interpolation) is not checked.

use crate::erb::TagKind;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;
use crate::source::Span;

pub static RULE: Rule = Rule {
    name: "render-partial-name",
    id: "P27",
    code: "berth::lint::render-partial-name",
    severity: Severity::Error,
    summary: "`render` of a partial whose file name does not start with `_`",
    docs: Docs {
        what: "Finds `render \"name\"` and `render('name', …)` calls in ERB whose file name (the part after the last `/`) does not start with `_`.",
        why: "COSMOS's `render` only inlines partials: it raises a ConfigParser error for any file whose name does not start with `_`, and the install fails. (berth does not render partials itself, so it also reports the call as unsupported.)",
        example: "<%= render \"targets.txt\" %>",
        instead: "<%= render \"_targets.txt\" %>",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let text = c.plugin.file.text();
    for tag in &c.plugin.erb_tags {
        if !matches!(tag.kind, TagKind::Code | TagKind::Output) {
            continue;
        }
        let Some(code) = text.get(tag.code_span.range()) else {
            continue;
        };
        for (at, name) in rendered_names(code) {
            let basename = name.rsplit('/').next().unwrap_or(name);
            if basename.starts_with('_') {
                continue;
            }
            let start = tag.code_span.start + at;
            let p = c
                .problem(
                    Span::new(start, start + name.len() + 2),
                    format!("COSMOS only renders partials whose name starts with `_`, not `{basename}`"),
                )
                .with_label("raises a ConfigParser error at install")
                .with_help(format!("rename the file to `_{basename}` and render that name"));
            c.emit(p);
        }
    }
}

/// The string literal each `render` call in `code` starts with: its offset (of the
/// opening quote) and its text. Skips strings and `#` comments, `x.render` and `:render`,
/// and literals with escapes or interpolation, whose value is not their text.
fn rendered_names(code: &str) -> Vec<(usize, &str)> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'') => i = string_end(bytes, i, q),
            b'#' => i = code[i..].find('\n').map_or(bytes.len(), |n| i + n),
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let after_dot_or_colon = code[..start].trim_end().ends_with(['.', ':']);
                if &code[start..i] == "render" && !after_dot_or_colon {
                    found.extend(first_literal(code, i));
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// `(name` or ` name` right after `render`: a plain string literal as the first argument.
fn first_literal(code: &str, from: usize) -> Option<(usize, &str)> {
    let rest = &code[from..];
    let args = rest.strip_prefix('(').unwrap_or(rest);
    if args.len() == rest.len() && !rest.starts_with([' ', '\t']) {
        return None; // `render_x`, `render=`...: not a call with arguments
    }
    let trimmed = args.trim_start_matches([' ', '\t']);
    let at = from + (rest.len() - trimmed.len());
    let quote = trimmed.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let body = &trimmed[1..];
    let end = body.find(quote)?;
    let name = &body[..end];
    if name.contains('\\') || (quote == '"' && name.contains("#{")) {
        return None;
    }
    Some((at, name))
}

/// Just past the string literal that opens with `q` at `start`, or the end of the code.
fn string_end(bytes: &[u8], start: usize, q: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == q => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::rendered_names;

    #[test]
    fn render_calls_and_their_first_literal() {
        fn names(code: &str) -> Vec<&str> {
            rendered_names(code).into_iter().map(|(_, n)| n).collect()
        }
        assert_eq!(names(" render \"a.txt\" "), ["a.txt"]);
        assert_eq!(names("render('dir/_b.txt', locals: {x: 1})"), ["dir/_b.txt"]);
        assert_eq!(names("x = 1; render 'c'; render \"d\""), ["c", "d"]);
        for none in [
            "'render \"a\"'",
            "# render 'a'",
            "obj.render 'a'",
            ":render",
            "render name",
            "render \"#{n}.txt\"",
            "render_all 'a'",
            "prerender 'a'",
        ] {
            assert!(names(none).is_empty(), "{none}");
        }
        assert_eq!(rendered_names(" render 'x'"), [(8, "x")]);
    }
}
