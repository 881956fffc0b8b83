//! Finding and reading a repository's inputs: berth.yaml, the Sesam env profile, and
//! every COSMOS plugin, Cumulocity manifest and Sesam config under the given paths
//! (DESIGN.md §1 discovery rules), from a folder on disk or a commit of a git
//! repository, over the `Files` interface; then compiling them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::ast::{PluginTree, TreeFile};
use crate::compile::cosmos::install::InstallOptions;
use crate::compile::sesam;
use crate::compile::{self, Compiled, Project, Source};
use crate::config::{self, Config, Mode};
use crate::failure::{Failure, Result};
use crate::parse::{examples, json};
use crate::problem::Problem;
use crate::repo::git::{GitError, GitTree};
use crate::repo::{Entry, Files};
use crate::source::{SourceFile, Span};

/// What to compile and how: the paths, the COSMOS install overrides, and where the
/// configuration is read from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    /// Files or folders; berth.yaml is read from the first folder.
    pub paths: Vec<PathBuf>,
    /// COSMOS VARIABLE overrides (`--var`), in the order given.
    pub vars: Vec<(String, String)>,
    /// What `ENV['NAME']` returns inside COSMOS ERB (`--erb-env`).
    pub env: Vec<(String, String)>,
    /// The COSMOS scope, over berth.yaml's.
    pub scope: Option<String>,
    /// A git repository (a path or a URL) to read instead of the folder; paths are then
    /// inside it.
    pub repo: Option<String>,
    /// The commit to read with `repo`.
    pub reference: Option<String>,
    /// With a `repo` URL: the mirror as last fetched.
    pub offline: bool,
    /// With an ssh:// `repo`: the private key to authenticate with.
    pub ssh_key: Option<PathBuf>,
    /// Containers or Swarm services, over berth.yaml's.
    pub engine: Option<Mode>,
    /// The project's name, over berth.yaml's.
    pub project: Option<String>,
}

/// A compiled repository, with the problems found while reading it.
pub struct Loaded {
    pub compiled: Compiled,
    /// How many input files were read.
    pub files: usize,
    /// berth.yaml (defaults when there is none or it has errors, which are reported).
    pub config: Config,
    /// The folder berth.yaml is read from; relative paths in it start here.
    pub root: PathBuf,
    /// The commit read, with `--repo`.
    pub git: Option<GitTree>,
}

impl Loaded {
    /// The commit read, with `--repo`.
    pub fn commit(&self) -> Option<&str> {
        self.git.as_ref().map(|g| g.commit.as_str())
    }

    /// When the paths hold nothing berth deploys from (a typo in a path, a wrong
    /// folder): what to say, and what to check.
    pub fn nothing_read(&self, inputs: &Inputs) -> Option<(String, &'static str)> {
        (self.files == 0).then(|| {
            let paths = match inputs.named_files().join(", ") {
                named if named.is_empty() => ".".to_string(),
                named => named,
            };
            let at = match &self.git {
                Some(tree) => format!(" at commit {}", &tree.commit[..tree.commit.len().min(12)]),
                None => String::new(),
            };
            (
                format!("no COSMOS plugin.txt, Cumulocity manifest or Sesam config under {paths}{at}"),
                "check the path; berth reads plugin.txt, cumulocity*.json and Sesam *.json (berth.yaml's discovery include/exclude may leave files out)",
            )
        })
    }
}

/// Reads and compiles everything `args` names: from the git repository it names, else
/// from `files` (the filesystem, or files in memory). `state_dir` holds the mirrors of
/// repositories read by URL.
pub fn load(
    args: &Inputs,
    files: &dyn Files,
    state_dir: Option<&Path>,
    warn: &dyn Fn(&str),
) -> Result<Loaded> {
    Ok(read(args, files, state_dir, warn)?.compile())
}

/// Reads and compiles everything `args` names in `files` (a folder, a commit, or files
/// in memory).
pub fn load_from(files: &dyn Files, args: &Inputs) -> Result<Loaded> {
    Ok(read_from(files, args)?.compile())
}

/// A repository's inputs, read and not yet compiled: all a compile needs, owned, so
/// that it can run on a thread of its own while the engine is asked what it runs.
pub struct Read {
    /// berth.yaml (defaults when there is none or it has errors, which are reported).
    pub config: Config,
    /// The folder berth.yaml is read from; relative paths in it start here.
    pub root: PathBuf,
    /// The commit read, with `--repo`.
    pub git: Option<GitTree>,
    sources: Vec<Source>,
    sesam_env: Option<BTreeMap<String, serde_json::Value>>,
    cosmos: InstallOptions,
    problems: Vec<Problem>,
}

/// Reads everything `args` names, as `load` does, without compiling it.
pub fn read(args: &Inputs, files: &dyn Files, state_dir: Option<&Path>, warn: &dyn Fn(&str)) -> Result<Read> {
    match open_git(args, state_dir, warn)? {
        Some(tree) => {
            let read = read_from(&tree, args)?;
            Ok(Read {
                git: Some(tree),
                ..read
            })
        }
        None => read_from(files, args),
    }
}

/// Reads everything `args` names in `files`, as `load_from` does, without compiling it.
pub fn read_from(files: &dyn Files, args: &Inputs) -> Result<Read> {
    let root = root_of(files, &args.paths);
    let mut problems = Vec::new();
    let config_path = root.join("berth.yaml");
    let config = match read_source(files, &config_path, &display_name(&config_path), &mut problems)? {
        Some(file) => {
            let (config, mut found) = config::read(&file);
            problems.append(&mut found);
            config.unwrap_or_default()
        }
        None => Config::default(),
    };
    let sesam_env = sesam_env(files, &root, &config, &mut problems)?;
    let mut sources = Vec::new();
    let filter = Filter::new(files, &root, &config.discovery)?;
    for (path, kind) in discover(files, &args.paths, &filter)? {
        let name = display_name(&path);
        let Some(file) = read_source(files, &path, &name, &mut problems)? else {
            continue;
        };
        sources.push(match kind {
            Kind::Cosmos => Source::Cosmos {
                folder: relative_folder(&root, &path),
                tree: plugin_tree(files, &path)?,
                file,
            },
            Kind::Cumulocity => Source::Cumulocity {
                image_archive: path
                    .parent()
                    .map(|d| d.join("image.tar"))
                    .filter(|t| files.is_file(t))
                    .map(|t| display_name(&t)),
                file,
            },
            Kind::Sesam => Source::Sesam { file, range: None },
            Kind::Readme => {
                // Each Sesam example in the README is linted where it stands.
                let blocks = if name.ends_with(".rst") {
                    examples::rst_literal_blocks(file.text())
                } else {
                    examples::json_blocks(file.text())
                };
                for block in blocks {
                    if file.text()[block.clone()].contains(sesam::MICROSERVICE) {
                        sources.push(Source::Sesam {
                            file: file.clone(),
                            range: Some(block),
                        });
                    }
                }
                continue;
            }
        });
    }
    Ok(Read {
        config,
        root,
        git: None,
        sources,
        sesam_env,
        cosmos: InstallOptions {
            variables: args.vars.iter().cloned().collect(),
            env: args.env.iter().cloned().collect(),
            scope: args.scope.clone(),
        },
        problems,
    })
}

impl Read {
    /// Compiles and lints what was read.
    pub fn compile(self) -> Loaded {
        let Read {
            config,
            root,
            git,
            sources,
            sesam_env,
            cosmos,
            mut problems,
        } = self;
        let file_count = sources
            .iter()
            .map(|s| s.file().name())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let project = Project {
            config: &config,
            sources,
            sesam_env,
            cosmos,
        };
        let compiled = compile::compile(&project);
        // Lint after compile, over what it installed and validated.
        let linted = crate::lint::lint_compiled(&compiled);
        let mut compiled = compiled.with_lint(linted);
        problems.append(&mut compiled.problems);
        compiled.problems = problems;
        Loaded {
            compiled,
            files: file_count,
            config,
            root,
            git,
        }
    }
}

/// The commit of `--repo` to read, if one is named.
fn open_git(args: &Inputs, state_dir: Option<&Path>, warn: &dyn Fn(&str)) -> Result<Option<GitTree>> {
    let Some(location) = &args.repo else {
        return Ok(None);
    };
    let mirrors = crate::store::state::dir(state_dir)?.join("mirrors");
    let (tree, warning) = GitTree::open(
        location,
        args.reference.as_deref(),
        &mirrors,
        args.offline,
        args.ssh_key.as_deref(),
    )
    .map_err(|e| {
            let help = match &e {
                GitError::Open { .. } => "--repo takes a local repository (bare or not) or a URL",
                GitError::Fetch { .. } => {
                    "check the URL; over ssh, the server's key must be in known_hosts and the key (--ssh-key, BERTH_SSH_KEY or the ssh agent) accepted; --offline uses the last fetch"
                }
                GitError::UnknownRef { .. } => "--ref takes a branch, tag or commit id (`git ls-remote` lists a remote's)",
                GitError::Read { .. } => "the repository may be damaged: `git fsck` checks it",
            };
            Failure::new(e.to_string()).with_help(help)
        })?;
    if let Some(warning) = warning {
        warn(&warning);
    }
    Ok(Some(tree))
}

impl Inputs {
    /// For a run on some files only (as pre-commit does): the repository around them,
    /// the nearest folder above the first one holding berth.yaml or .git, so that
    /// cross-file rules see every file. `None` when the paths include a folder or no
    /// such folder exists.
    pub fn enclosing_repository(&self, files: &dyn Files) -> Option<Inputs> {
        if self.paths.iter().any(|p| files.is_dir(p)) {
            return None;
        }
        // Relative paths are searched up to the current folder (an empty path), which is
        // where pre-commit runs; absolute ones up to the filesystem root.
        let start = self.paths.first()?.parent()?;
        start.ancestors().find_map(|dir| {
            let here = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            let is_root =
                files.is_file(&here.join("berth.yaml")) || files.entry(&here.join(".git")).is_some();
            // The named files come along explicitly: the discovery rules might not pick
            // them up by name (a file given on the command line is always read).
            is_root.then(|| Inputs {
                paths: std::iter::once(here.to_path_buf())
                    .chain(self.paths.iter().cloned())
                    .collect(),
                ..self.clone()
            })
        })
    }

    /// The engine mode: `--engine`, else berth.yaml's.
    pub fn mode(&self, config: &Config) -> Mode {
        self.engine.unwrap_or(config.engine.mode)
    }

    /// The inputs as a saved plan records them: paths on disk made absolute (from `cwd`,
    /// the folder berth runs in), and with --repo the commit that was read, so that
    /// applying the plan reads it again.
    pub fn to_view(
        &self,
        targets: &[String],
        prune: bool,
        inspect_all: bool,
        commit: Option<&str>,
        cwd: &Path,
    ) -> crate::plan::view::Inputs {
        let absolute = |p: &Path| absolute(cwd, p);
        let repo = self.repo.as_ref().map(|r| {
            if crate::repo::git::is_url(r) {
                r.clone()
            } else {
                absolute(Path::new(r)).display().to_string()
            }
        });
        crate::plan::view::Inputs {
            paths: self
                .paths
                .iter()
                .map(|p| if repo.is_some() { p.clone() } else { absolute(p) })
                .map(|p| p.display().to_string())
                .collect(),
            vars: self.vars.iter().cloned().collect(),
            erb_env: self.env.iter().cloned().collect(),
            scope: self.scope.clone(),
            targets: targets.to_vec(),
            prune,
            repo,
            commit: commit.map(String::from),
            engine: self.engine,
            project: self.project.clone(),
            inspect_all,
        }
    }

    /// The inputs a saved plan was made from.
    pub fn from_view(view: &crate::plan::view::Inputs) -> Inputs {
        Inputs {
            paths: view.paths.iter().map(PathBuf::from).collect(),
            vars: view.vars.clone().into_iter().collect(),
            env: view.erb_env.clone().into_iter().collect(),
            scope: view.scope.clone(),
            repo: view.repo.clone(),
            reference: view.commit.clone(),
            offline: false,
            ssh_key: None,
            engine: view.engine,
            project: view.project.clone(),
        }
    }

    /// The display names of the files named on the command line.
    pub fn named_files(&self) -> Vec<String> {
        self.paths.iter().map(|p| display_name(p)).collect()
    }
}

/// `path` made absolute from `cwd` as `std::path::absolute` does on Unix, without
/// reading the current folder: `.` components and repeated separators go, `..` and a
/// trailing separator stay, links are not resolved.
fn absolute(cwd: &Path, path: &Path) -> PathBuf {
    let bytes = path.as_os_str().as_encoded_bytes();
    let mut components = path.strip_prefix(".").unwrap_or(path).components();
    let mut out = if !path.is_absolute() {
        cwd.to_path_buf()
    } else if bytes.starts_with(b"//") && !bytes.starts_with(b"///") {
        // POSIX leaves a leading `//` to the implementation: kept as it is.
        components.next();
        PathBuf::from("//")
    } else {
        PathBuf::new()
    };
    out.extend(components);
    if bytes.ends_with(b"/") {
        out.push("");
    }
    out
}

/// The repository root: the first path if it is a folder, else its folder.
fn root_of(files: &dyn Files, paths: &[PathBuf]) -> PathBuf {
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    if files.is_dir(&first) {
        first
    } else {
        first
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }
}

/// Reads a file if it exists. Invalid UTF-8 is reported and read as U+FFFD.
fn read_source(
    files: &dyn Files,
    path: &Path,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Result<Option<Arc<SourceFile>>> {
    if !files.is_file(path) {
        return Ok(None);
    }
    let bytes = files
        .read(path)
        .map_err(|e| Failure::caused(format!("cannot read {}", path.display()), e))?;
    let (file, invalid) = SourceFile::from_bytes(name, &bytes);
    if let Some(bad) = invalid {
        problems.push(invalid_utf8(&file, bad.byte_offset, bad.text_offset));
    }
    Ok(Some(file))
}

/// Sesam `$ENV` values: `<profile>-env.json` at the root, then berth.yaml's `env`.
fn sesam_env(
    files: &dyn Files,
    root: &Path,
    config: &Config,
    problems: &mut Vec<Problem>,
) -> Result<Option<BTreeMap<String, serde_json::Value>>> {
    if config.sesam.env_profile.is_none() && config.env.is_empty() {
        return Ok(None);
    }
    let mut env = BTreeMap::new();
    if let Some(profile) = &config.sesam.env_profile {
        let path = root.join(format!("{profile}-env.json"));
        let name = display_name(&path);
        match read_source(files, &path, &name, problems)? {
            None => problems.push(
                Problem::error(
                    "berth::sesam::no-env-profile",
                    format!("the env profile `{name}` does not exist"),
                )
                .with_help("create it next to berth.yaml, or change `sesam.env_profile`"),
            ),
            Some(file) => match json::parse(file.text()) {
                Ok(doc) => match doc.value {
                    serde_json::Value::Object(map) => env.extend(map),
                    _ => problems.push(
                        Problem::error(
                            "berth::sesam::env-profile",
                            "an env profile is one JSON object of name → value",
                        )
                        .at(&file, doc.nearest_span("")),
                    ),
                },
                Err(e) => problems.push(e.into_problem(&file)),
            },
        }
    }
    env.extend(config.env.clone());
    Ok(Some(env))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Cosmos,
    Cumulocity,
    Sesam,
    /// A README (Markdown or reStructuredText) named on the command line: its Sesam
    /// JSON examples.
    Readme,
}

/// berth.yaml's `discovery`: globs over paths relative to the repository root.
struct Filter<'a> {
    files: &'a dyn Files,
    root: PathBuf,
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl<'a> Filter<'a> {
    fn new(files: &'a dyn Files, root: &Path, discovery: &config::Discovery) -> Result<Filter<'a>> {
        let set = |globs: &[String]| -> Result<GlobSet> {
            let mut b = GlobSetBuilder::new();
            for g in globs {
                // `literal_separator`: `*` stays within one folder, as in .gitignore.
                let glob = GlobBuilder::new(g).literal_separator(true).build().map_err(|e| {
                    Failure::caused(format!("berth.yaml: discovery glob `{g}` is not valid"), e)
                })?;
                b.add(glob);
            }
            b.build().map_err(|e| Failure::new(e.to_string()))
        };
        Ok(Filter {
            files,
            root: root.to_path_buf(),
            include: (!discovery.include.is_empty())
                .then(|| set(&discovery.include))
                .transpose()?,
            exclude: set(&discovery.exclude)?,
        })
    }

    /// The format of a file met while walking, or `None` to leave it out. Included files
    /// that the name rules do not recognise are classified by content.
    fn kind(&self, path: &Path) -> Option<Kind> {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        if self.exclude.is_match(rel) {
            return None;
        }
        let files = self.files;
        match &self.include {
            None => classify(files, path),
            Some(include) if include.is_match(rel) => {
                classify(files, path).or_else(|| explicit_kind(files, path))
            }
            Some(_) => None,
        }
    }
}

/// Every input under `paths` with its format, sorted by path. Files named explicitly are
/// taken whatever their name (see `explicit_kind`); folders are walked with the
/// discovery rules and berth.yaml's `discovery` globs.
fn discover(files: &dyn Files, paths: &[PathBuf], filter: &Filter) -> Result<Vec<(PathBuf, Kind)>> {
    let mut found = Vec::new();
    for path in paths {
        match files.entry(path) {
            None => {
                return Err(Failure::new(format!(
                    "cannot read {}: no such file or folder",
                    path.display()
                )));
            }
            Some(Entry::Dir) => walk(files, path, filter, &mut found)?,
            Some(Entry::File) => {
                if let Some(kind) = classify(files, path).or_else(|| explicit_kind(files, path)) {
                    found.push((path.clone(), kind));
                }
            }
        }
    }
    // One file reached twice (by a walk and by name) is read once.
    found.sort_by_key(|(p, _)| display_name(p));
    found.dedup_by_key(|(p, _)| display_name(p));
    Ok(found)
}

fn walk(files: &dyn Files, dir: &Path, filter: &Filter, found: &mut Vec<(PathBuf, Kind)>) -> Result<()> {
    let entries = files
        .list(dir)
        .map_err(|e| Failure::caused(format!("cannot list {}", dir.display()), e))?;
    for (name, entry) in entries {
        let path = dir.join(&name);
        match entry {
            // Version-control and build folders never hold configuration.
            Entry::Dir if name != ".git" && name != "target" && name != "node_modules" => {
                walk(files, &path, filter, found)?;
            }
            Entry::Dir => {}
            Entry::File => {
                if let Some(kind) = filter.kind(&path) {
                    found.push((path, kind));
                }
            }
        }
    }
    Ok(())
}

/// The discovery rules of DESIGN.md §1, by file name (and, for other JSON, content).
fn classify(files: &dyn Files, path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    if name == "plugin.txt" {
        return Some(Kind::Cosmos);
    }
    if name.starts_with("cumulocity") && name.ends_with(".json") {
        return Some(Kind::Cumulocity);
    }
    let sesam_side_file = name == "node-metadata.conf.json" || name.ends_with("-env.json");
    // Sesam's layout: pipes and systems are read for the wiring (FORMATS.md S22).
    let folder = path.parent().and_then(Path::file_name);
    let in_layout = folder.is_some_and(|d| d == "pipes" || d == "systems");
    if in_layout && name.ends_with(".conf.json") {
        return Some(Kind::Sesam);
    }
    if name.ends_with(".json") && !sesam_side_file && mentions_microservice(files, path) {
        return Some(Kind::Sesam);
    }
    None
}

fn mentions_microservice(files: &dyn Files, path: &Path) -> bool {
    files
        .read(path)
        .is_ok_and(|b| b.windows(19).any(|w| w == b"system:microservice"))
}

/// The format of a file named on the command line that the discovery rules do not
/// recognise by name: a README is read for its Sesam JSON examples; a JSON file is a
/// Cumulocity manifest when its name says so, Sesam config when it holds a
/// `system:microservice`, and otherwise no input of berth's (pre-commit passes every
/// changed file); anything else is read as a plugin.txt. berth.yaml is the project file,
/// read as such.
fn explicit_kind(files: &dyn Files, path: &Path) -> Option<Kind> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name == "berth.yaml" {
        return None;
    }
    if name.ends_with(".md") || name.ends_with(".rst") {
        return Some(Kind::Readme);
    }
    // Judged by name first: a `.json` file is never read as a plugin.txt, whatever it
    // starts with (comments, a BOM).
    let json = name.ends_with(".json")
        || files.read(path).is_ok_and(|b| {
            b.iter()
                .find(|c| !c.is_ascii_whitespace())
                .is_some_and(|&c| c == b'{' || c == b'[')
        });
    match (json, name.contains("cumulocity")) {
        (true, true) => Some(Kind::Cumulocity),
        (true, false) => mentions_microservice(files, path).then_some(Kind::Sesam),
        (false, _) => Some(Kind::Cosmos),
    }
}

fn relative_folder(root: &Path, path: &Path) -> String {
    let dir = path.parent().unwrap_or(Path::new(""));
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    display_name(rel)
}

fn invalid_utf8(file: &Arc<SourceFile>, byte_offset: usize, text_offset: usize) -> Problem {
    let width = file.text()[text_offset..]
        .chars()
        .next()
        .map_or(0, char::len_utf8);
    Problem::error(
        "berth::parse::invalid-utf8",
        format!("the file is not valid UTF-8: invalid byte at offset {byte_offset}"),
    )
    .at(file, Span::new(text_offset, text_offset + width))
    .with_label("not UTF-8")
    .with_help("berth reads every input as UTF-8 (COSMOS aborts on this byte); save the file as UTF-8")
}

/// The folder around a `plugin.txt`, when it looks like a plugin gem's tree, with every
/// file under its `microservices/` (what COSMOS's install reads for a MICROSERVICE).
fn plugin_tree(files: &dyn Files, path: &Path) -> Result<Option<PluginTree>> {
    let Some(dir) = path.parent() else {
        return Ok(None);
    };
    let is_tree = ["microservices", "targets", "tools", "lib"]
        .iter()
        .any(|d| files.is_dir(&dir.join(d)))
        || files.list(dir).is_ok_and(|entries| {
            entries
                .iter()
                .any(|(name, _)| Path::new(name).extension().is_some_and(|x| x == "gemspec"))
        });
    if !is_tree {
        return Ok(None);
    }
    let root = dir.join("microservices");
    let mut microservices = BTreeMap::new();
    for (name, entry) in files.list(&root).unwrap_or_default() {
        if entry == Entry::Dir {
            let folder = root.join(&name);
            let mut found = Vec::new();
            tree_files(files, &folder, "", &mut found)?;
            found.sort_by(|a, b| a.path.cmp(&b.path));
            microservices.insert(name.to_string_lossy().into_owned(), found);
        }
    }
    let needs_dependencies = files.is_dir(&dir.join("lib"))
        || ["pyproject.toml", "requirements.txt"]
            .iter()
            .any(|f| files.is_file(&dir.join(f)));
    Ok(Some(PluginTree {
        microservices,
        needs_dependencies,
    }))
}

/// Every file under `dir` that COSMOS uploads, at any depth, by its path below the folder
/// that `prefix` leads to.
fn tree_files(files: &dyn Files, dir: &Path, prefix: &str, out: &mut Vec<TreeFile>) -> Result<()> {
    let unreadable = |path: &Path, e: std::io::Error| {
        Failure::new(format!("cannot read {}: {e}", display_name(path)))
            .with_help("a microservice's files are read with its plugin; check the file's permissions")
    };
    for (name, entry) in files.list(dir).map_err(|e| unreadable(dir, e))? {
        let name = name.to_string_lossy();
        // COSMOS's `Dir.glob("**/*")` passes over hidden files and folders (a
        // `.gitkeep` keeps a folder in git, yet uploads nothing).
        if name.starts_with('.') {
            continue;
        }
        let path = dir.join(&*name);
        let inner = format!("{prefix}{name}");
        match entry {
            Entry::Dir => tree_files(files, &path, &format!("{inner}/"), out)?,
            Entry::File => out.push(TreeFile {
                bytes: files.read(&path).map_err(|e| unreadable(&path, e))?.into(),
                name: display_name(&path),
                path: inner,
            }),
        }
    }
    Ok(())
}

/// Paths are shown as given, with `/` separators, so output is the same everywhere.
fn display_name(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::absolute;

    #[test]
    fn paths_are_made_absolute_as_the_standard_library_does() {
        let cwd = Path::new("/work/repo");
        for (path, expected) in [
            ("examples/fleet", "/work/repo/examples/fleet"),
            ("./examples//fleet/", "/work/repo/examples/fleet/"),
            (".", "/work/repo"),
            ("../other", "/work/repo/../other"),
            ("/srv/./fleet", "/srv/fleet"),
        ] {
            assert_eq!(absolute(cwd, Path::new(path)), Path::new(expected), "{path}");
        }
    }
}
