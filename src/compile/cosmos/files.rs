//! A MICROSERVICE's files, as COSMOS runs them (RUNTIME.md R6, R7): every file of the
//! plugin's `microservices/<FOLDER>/`, rendered through ERB as the install renders it,
//! placed at `/tmp/<NAME>/`; the WORK_DIR they make the program start in, and the
//! program COSMOS makes executable.

use std::collections::BTreeMap;
use std::sync::Arc;

use regex::Regex;

use crate::ast::{PluginTree, TreeFile};
use crate::erb;
use crate::model::{CosmosService, File, Origin, Service};
use crate::problem::Problem;
use crate::source::{SourceFile, Span};

/// Where the wrapper COSMOS starts every microservice with runs (R1): a relative
/// WORK_DIR starts here when the microservice has no files.
pub const WRAPPER_DIR: &str = "/openc3/lib/openc3/microservices";

/// Where the files go: `Dir.tmpdir/<NAME>`.
pub fn folder_in_container(name: &str) -> String {
    format!("/tmp/{name}")
}

/// Gives a MICROSERVICE its files, its working folder and its executable, from the
/// plugin tree; ERB runs with the plugin's `locals` plus `microservice_name`, and `env`
/// for `ENV[...]`. Without a tree (a lone plugin.txt), only the working folder is set.
pub fn place(
    service: &mut Service,
    cosmos: &CosmosService,
    tree: Option<&PluginTree>,
    locals: &BTreeMap<String, String>,
    env: &BTreeMap<String, String>,
    disable_erb_at: Option<(&Arc<SourceFile>, Span)>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let found = tree
        .and_then(|t| t.microservices.get(&cosmos.folder))
        .map_or(&[][..], Vec::as_slice);
    let base = folder_in_container(&service.name);
    let disabled = disabled_erb(cosmos, disable_erb_at, &mut problems);
    let mut locals = locals.clone();
    locals.insert("microservice_name".into(), service.name.clone());
    let bindings = erb::Bindings { locals: &locals, env };
    let mut files = Vec::new();
    for file in found {
        let relative = format!("/microservices/{}/{}", cosmos.folder, file.path);
        let content = if renders(file, &relative, &disabled) {
            match render(file, &bindings) {
                Ok(text) => text,
                Err(mut found) => {
                    problems.append(&mut found);
                    continue;
                }
            }
        } else {
            file.bytes.clone()
        };
        let path = format!("{base}/{}", file.path);
        service.sources.insert(
            format!("files.{path}"),
            Origin {
                file: file.name.clone(),
                line: 1,
                column: 1,
            },
        );
        files.push(File::new(path, 0o644, content));
    }
    // Without the plugin's tree (a lone plugin.txt) what the folder holds is not known:
    // a relative WORK_DIR is left to the image's own working folder.
    if tree.is_none() {
        return problems;
    }
    // A relative WORK_DIR is joined to the files' folder only when there are files;
    // otherwise the program starts where the wrapper runs.
    let work_dir = service.working_dir.clone().unwrap_or_else(|| ".".into());
    let start = if found.is_empty() { WRAPPER_DIR } else { &base };
    let work_dir = join(start, &work_dir);
    // COSMOS tries `chmod 0777` on the program unless it is `ruby` (R7).
    if let Some(program) = service.command.first().filter(|p| *p != "ruby") {
        let program = join(&work_dir, program);
        if let Some(file) = files.iter_mut().find(|f| f.path == program) {
            file.mode = 0o777;
        }
    }
    service.working_dir = Some(work_dir);
    service.files = files;
    problems
}

/// DISABLE_ERB as COSMOS reads it after the block: none, every file (the bare form), or
/// the files whose path matches one of the patterns (unanchored).
enum Disabled {
    All,
    Patterns(Vec<Regex>),
}

fn disabled_erb(
    cosmos: &CosmosService,
    at: Option<(&Arc<SourceFile>, Span)>,
    problems: &mut Vec<Problem>,
) -> Disabled {
    let patterns = match &cosmos.disable_erb {
        None => return Disabled::Patterns(Vec::new()),
        Some(patterns) if patterns.is_empty() => return Disabled::All,
        Some(patterns) => patterns,
    };
    let mut read = Vec::new();
    for p in patterns {
        match Regex::new(p) {
            Ok(regex) => read.push(regex),
            Err(e) => {
                let mut problem = Problem::error(
                    "berth::compile::disable-erb-pattern",
                    format!("DISABLE_ERB `{p}` is not a regular expression berth can read: {e}"),
                )
                .with_help("COSMOS matches it with Ruby's Regexp against each file's path; write a pattern both read alike, such as `\\.html$`");
                if let Some((file, span)) = at {
                    problem = problem.at(file, span);
                }
                problems.push(problem);
            }
        }
    }
    Disabled::Patterns(read)
}

/// Whether the install renders a file: printable text (COSMOS's `is_printable?`), a name
/// without a leading `_`, and no DISABLE_ERB pattern matching its path. COSMOS matches
/// the absolute path where the gem was unpacked; berth matches
/// `/microservices/<FOLDER>/<path>`, its end.
fn renders(file: &TreeFile, relative: &str, disabled: &Disabled) -> bool {
    let name = file.path.rsplit('/').next().unwrap_or_default();
    let printable = file.bytes.iter().all(|b| matches!(b, 0x09..=0x0d | 0x20..=0x7e));
    printable
        && !name.starts_with('_')
        && match disabled {
            Disabled::All => false,
            Disabled::Patterns(patterns) => !patterns.iter().any(|p| p.is_match(relative)),
        }
}

/// The file through ERB; its problems at their place in it.
fn render(file: &TreeFile, bindings: &erb::Bindings) -> Result<Arc<[u8]>, Vec<Problem>> {
    // Printable text is ASCII, so it is UTF-8; without a tag ERB returns it as it is.
    let text = std::str::from_utf8(&file.bytes).unwrap_or_default();
    if !text.contains("<%") {
        return Ok(file.bytes.clone());
    }
    erb::render(text, bindings)
        .map(|r| Arc::from(r.text.into_bytes()))
        .map_err(|errors| {
            let source = SourceFile::new(file.name.clone(), text);
            errors
                .into_iter()
                .map(|e| {
                    let p = Problem::error(e.code, e.message).at(&source, Span::from(e.span));
                    match e.help {
                        Some(help) => p.with_help(help),
                        None => p,
                    }
                })
                .collect()
        })
}

/// `File.join(base, path)` for a relative path, with `.` steps and trailing separators
/// dropped, as the engine wants a working folder; an absolute path stays.
pub fn join(base: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let mut out = base.trim_end_matches('/').to_string();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        out.push('/');
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::cosmos::install::{InstallOptions, install};
    use crate::model::Platform;

    fn tree(files: &[(&str, &[u8])]) -> PluginTree {
        let files = files
            .iter()
            .map(|(path, bytes)| TreeFile {
                path: path.to_string(),
                name: format!("p/microservices/BG/{path}"),
                bytes: Arc::from(*bytes),
            })
            .collect();
        PluginTree {
            microservices: [("BG".to_string(), files)].into(),
            needs_dependencies: false,
        }
    }

    /// The one service of `plugin_txt`, placed with `tree`; the problems found.
    fn placed(plugin_txt: &str, tree: Option<&PluginTree>) -> (Service, Vec<Problem>) {
        let file = SourceFile::new("p/plugin.txt", plugin_txt);
        let options = InstallOptions::default();
        let (plugin, problems) = install(&file, &options);
        assert!(problems.is_empty(), "{problems:?}");
        let mut service = crate::compile::cosmos::lower::lower(&plugin, &options).remove(0);
        let Platform::Cosmos(cosmos) = service.platform.clone() else {
            unreachable!()
        };
        let env = [("SITE".to_string(), "lab".to_string())].into();
        let problems = place(&mut service, &cosmos, tree, &plugin.erb_locals, &env, None);
        (service, problems)
    }

    fn content<'a>(s: &'a Service, path: &str) -> (&'a str, u32) {
        let f = s.files.iter().find(|f| f.path == path).expect(path);
        (std::str::from_utf8(&f.content.0).unwrap_or("<binary>"), f.mode)
    }

    #[test]
    fn files_are_rendered_as_the_install_renders_them() {
        let block = "VARIABLE period 30\nMICROSERVICE BG bg\n  CMD ./run.sh\n  DISABLE_ERB \\.tmpl$\n";
        let tree = tree(&[
            (
                "run.sh",
                b"echo <%= microservice_name %> <%= period %> <%= scope %> <%= ENV['SITE'] %>",
            ),
            ("_raw.txt", b"<%= period %>"),
            ("page.tmpl", b"<%= period %>"),
            ("lib/util.py", b"# <%= period %>\nP = <%= period.to_i * 2 %>\n"),
            ("data.bin", b"\x00<%= period %>"),
            ("caf\u{e9}.txt", b"<%= period %> \xc3\xa9"),
        ]);
        let (s, problems) = placed(block, Some(&tree));
        assert!(problems.is_empty(), "{problems:?}");
        let base = "/tmp/DEFAULT__USER__BG";
        assert_eq!(
            content(&s, &format!("{base}/run.sh")),
            ("echo DEFAULT__USER__BG 30 DEFAULT lab", 0o777),
            "rendered, and made executable as the program"
        );
        assert_eq!(content(&s, &format!("{base}/_raw.txt")).0, "<%= period %>");
        assert_eq!(content(&s, &format!("{base}/page.tmpl")).0, "<%= period %>");
        // comment_erb: ERB in a whole-line comment becomes an ERB comment.
        assert_eq!(
            content(&s, &format!("{base}/lib/util.py")),
            ("# \nP = 60\n", 0o644)
        );
        assert_eq!(content(&s, &format!("{base}/data.bin")).0, "\0<%= period %>");
        // Not ASCII, so not printable to COSMOS: kept as it is.
        assert_eq!(
            content(&s, &format!("{base}/caf\u{e9}.txt")).0,
            "<%= period %> \u{e9}"
        );
        assert_eq!(s.working_dir.as_deref(), Some(base));
        assert_eq!(
            s.sources[&format!("files.{base}/lib/util.py")].file,
            "p/microservices/BG/lib/util.py"
        );
    }

    #[test]
    fn work_dir_is_joined_to_the_files_only_when_there_are_some() {
        let block = "MICROSERVICE BG bg\n  WORK_DIR ./src\n  CMD python app.py\n";
        let with = tree(&[("src/app.py", b"print(1)")]);
        let (s, _) = placed(block, Some(&with));
        assert_eq!(s.working_dir.as_deref(), Some("/tmp/DEFAULT__USER__BG/src"));
        assert_eq!(
            s.files[0].mode, 0o644,
            "the program is the interpreter, not the script"
        );
        let (s, _) = placed(block, Some(&tree(&[])));
        assert_eq!(
            s.working_dir.as_deref(),
            Some("/openc3/lib/openc3/microservices/src")
        );
        let (s, _) = placed(block, None);
        assert!(s.files.is_empty());
        assert_eq!(
            s.working_dir.as_deref(),
            Some("./src"),
            "left to the image without a tree"
        );
        let (s, _) = placed("MICROSERVICE BG bg\n  WORK_DIR /srv\n  CMD x\n", Some(&with));
        assert_eq!(s.working_dir.as_deref(), Some("/srv"));
    }

    #[test]
    fn erb_problems_are_reported_in_their_own_file() {
        let tree = tree(&[("ok.txt", b"fine"), ("bad.py", b"a\nb = <%= nope( %>\n")]);
        let (s, problems) = placed("MICROSERVICE BG bg\n  CMD python bad.py\n", Some(&tree));
        assert!(!problems.is_empty());
        for p in &problems {
            let file = p.file.as_ref().expect("a file");
            assert_eq!(file.name(), "p/microservices/BG/bad.py");
            assert_eq!(file.line_col(p.span.expect("a span").start).0, 2, "{p:?}");
        }
        assert_eq!(s.files.len(), 1, "the file that failed is not placed");
    }

    #[test]
    fn a_disable_erb_pattern_berth_cannot_read_is_an_error() {
        let tree = tree(&[("a.txt", b"<%= 1 %>")]);
        let (_, problems) = placed("MICROSERVICE BG bg\n  CMD x\n  DISABLE_ERB (\n", Some(&tree));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code, "berth::compile::disable-erb-pattern");
    }

    #[test]
    fn joins_as_file_join_then_cleans() {
        assert_eq!(join("/tmp/A", "."), "/tmp/A");
        assert_eq!(join("/tmp/A", "./src/"), "/tmp/A/src");
        assert_eq!(join("/tmp/A", "/srv"), "/srv");
        assert_eq!(join("/tmp/A/", "b//c"), "/tmp/A/b/c");
    }
}
