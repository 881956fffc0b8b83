//! Syntax → model, one front end per format, and `compile`, which runs them over a
//! whole repository: COSMOS plugins (with berth.yaml's VARIABLE overrides), Cumulocity
//! manifests and Sesam configs become one `Model`, with the checks that span files
//! (two services with one name, two services on one host port). Pure: the caller reads
//! the files.

pub mod cosmos;
pub mod cumulocity;
pub mod interpolate;
pub mod sesam;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::ast::{Plugin, PluginTree};
use crate::config::Config;
use crate::formats::Format;
use crate::model::{Model, Platform, Service};
use crate::parse::json::Json;
use crate::problem::Problem;
use crate::source::{SourceFile, Span};
use cosmos::install::{InstallOptions, install};

/// One input file, read and classified by the caller.
pub enum Source {
    Cosmos {
        file: Arc<SourceFile>,
        /// The plugin's folder relative to the repository root (`""` at the root), for
        /// berth.yaml's per-folder VARIABLE overrides.
        folder: String,
        tree: Option<PluginTree>,
    },
    Cumulocity {
        file: Arc<SourceFile>,
        image_archive: Option<String>,
    },
    Sesam {
        file: Arc<SourceFile>,
        /// The part of the file that holds the config: a JSON example in a README, which
        /// is checked but deploys nothing.
        range: Option<std::ops::Range<usize>>,
    },
}

impl Source {
    pub fn file(&self) -> &Arc<SourceFile> {
        match self {
            Source::Cosmos { file, .. } | Source::Cumulocity { file, .. } | Source::Sesam { file, .. } => {
                file
            }
        }
    }
}

/// A repository's inputs.
pub struct Project<'a> {
    pub config: &'a Config,
    pub sources: Vec<Source>,
    /// Sesam `$ENV` values: the env profile, with berth.yaml `env` over it; `None` when
    /// the repository has neither.
    pub sesam_env: Option<BTreeMap<String, serde_json::Value>>,
    /// Command-line overrides for COSMOS installs; they win over berth.yaml.
    pub cosmos: InstallOptions,
}

/// A JSON config entity past its schema (after placeholder or `$ENV` substitution), as
/// the document lint rules read it.
pub struct Entity {
    pub format: Format,
    pub file: Arc<SourceFile>,
    /// The parsed file, for spans; shared by the entities of one file.
    pub json: Arc<Json>,
    /// Where the entity sits in the file (`""`, or `/2` in an array).
    pub base: String,
    pub value: serde_json::Value,
    /// Where among `Compiled::problems` lint's problems about it go: after those found
    /// before it was valid, before those its lowering found.
    pub lint_at: usize,
}

/// A COSMOS plugin as installed, with the folder it sits in.
pub struct Installed {
    pub plugin: Plugin,
    pub tree: Option<PluginTree>,
    /// Where among `Compiled::problems` lint's problems about it go: after its install's.
    pub lint_at: usize,
}

/// What a repository compiles to.
pub struct Compiled {
    pub model: Model,
    /// The analysed COSMOS plugins: for lint and for `--emit lines`.
    pub plugins: Vec<Installed>,
    /// The valid JSON entities, for lint.
    pub entities: Vec<Entity>,
    /// Every problem in the order found; `sort_problems` orders them by file and
    /// position once lint's are in (`with_lint`).
    pub problems: Vec<Problem>,
}

/// Compiles every source into one model.
pub fn compile(project: &Project) -> Compiled {
    let mut problems = Vec::new();
    let mut plugins = Vec::new();
    let mut entities = Vec::new();
    let mut services: Vec<Service> = Vec::new();
    let mut sesam_index = sesam::Index::default();
    for source in &project.sources {
        match source {
            Source::Cosmos { file, folder, tree } => {
                let options = cosmos_options(project, folder);
                let (plugin, mut found) = install(file, &options);
                problems.append(&mut found);
                let operator = cosmos::operator::environment(&project.config.cosmos);
                // COSMOS searches the whole text, comments included (P28).
                let needs_dependencies = plugin.file.text().contains("NEEDS_DEPENDENCIES")
                    || tree.as_ref().is_some_and(|t| t.needs_dependencies);
                // Lowering reads only valid lines, so it also runs on a plugin with
                // errors; the errors stop `compile` from being used for a plan.
                for mut s in cosmos::lower::lower(&plugin, &options) {
                    // A block without CONTAINER runs in the project's COSMOS image.
                    if s.image.is_none() {
                        s.image = project.config.cosmos.image.clone();
                    }
                    if let Platform::Cosmos(c) = &mut s.platform {
                        c.plugin = if folder.is_empty() {
                            ".".into()
                        } else {
                            folder.clone()
                        };
                        c.needs_dependencies = needs_dependencies;
                    }
                    cosmos::operator::start_with(&mut s, &operator, needs_dependencies);
                    if let Some(c) = s.cosmos_microservice() {
                        let c = c.clone();
                        let at = s.sources.get("disable_erb").map(|o| {
                            let start = plugin.file.offset(o.line, o.column);
                            (&plugin.file, Span::new(start, start + "DISABLE_ERB".len()))
                        });
                        problems.extend(cosmos::files::place(
                            &mut s,
                            &c,
                            tree.as_ref(),
                            &plugin.erb_locals,
                            &options.env,
                            at,
                        ));
                    }
                    services.push(s);
                }
                plugins.push(Installed {
                    plugin,
                    tree: tree.clone(),
                    lint_at: problems.len(),
                });
            }
            Source::Cumulocity { file, image_archive } => {
                let manifest = cumulocity::Manifest {
                    file,
                    image_archive: image_archive.clone(),
                };
                let (s, p, entity) = cumulocity::compile(&manifest, project.config);
                services.extend(s);
                entities.extend(entity.map(|e| e.after(problems.len())));
                problems.extend(p);
            }
            Source::Sesam { file, range } => {
                let (s, p, index, valid) =
                    sesam::compile_indexed(file, range.clone(), project.sesam_env.as_ref());
                let offset = problems.len();
                entities.extend(valid.into_iter().map(|e| e.after(offset)));
                // A README's examples are checked, but deploy nothing and wire nothing.
                if range.is_none() {
                    services.extend(s);
                    sesam_index.systems.extend(index.systems);
                    sesam_index.eager.extend(index.eager);
                    sesam_index.pipe_refs.extend(index.pipe_refs);
                }
                problems.extend(p);
            }
        }
    }
    let files: BTreeMap<&str, &Arc<SourceFile>> = project
        .sources
        .iter()
        .map(|s| (s.file().name(), s.file()))
        .collect();
    check_across_files(&services, &files, &mut problems);
    check_sesam_wiring(&sesam_index, &mut problems);
    services.sort_by(|a, b| a.name.cmp(&b.name));
    Compiled {
        model: Model { services },
        plugins,
        entities,
        problems,
    }
}

/// berth.yaml's COSMOS settings for one plugin folder, under the command line's.
fn cosmos_options(project: &Project, folder: &str) -> InstallOptions {
    let c = &project.config.cosmos;
    let mut variables = BTreeMap::new();
    for key in ["*", folder] {
        if let Some(vars) = c.variables.get(key) {
            variables.extend(vars.iter().map(|(k, v)| (k.clone(), v.0.clone())));
        }
    }
    variables.extend(project.cosmos.variables.clone());
    let mut env: BTreeMap<String, String> = c
        .erb_env
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_ref()?.0.clone())))
        .collect();
    env.extend(project.cosmos.env.clone());
    InstallOptions {
        variables,
        env,
        scope: project.cosmos.scope.clone().or_else(|| c.scope.clone()),
    }
}

/// FORMATS.md S22, once the repository holds pipes (a repository of systems only says
/// nothing about their use): a pipe that uses a system no file declares is an error; a
/// microservice that starts eagerly but no pipe uses wastes a container.
fn check_sesam_wiring(index: &sesam::Index, problems: &mut Vec<Problem>) {
    if index.pipe_refs.is_empty() {
        return;
    }
    let declared: std::collections::BTreeSet<&str> =
        index.systems.iter().map(|(id, ..)| id.as_str()).collect();
    let used: std::collections::BTreeSet<&str> = index.pipe_refs.iter().map(|(id, ..)| id.as_str()).collect();
    for (system, file, span) in &index.pipe_refs {
        if !declared.contains(system.as_str()) {
            let mut p = Problem::error(
                "berth::sesam::unknown-system",
                format!("no system is called `{system}`"),
            )
            .at(file, *span)
            .with_label("used by this pipe");
            if let Some(close) = crate::problem::closest(system, declared.iter().copied()) {
                p = p.with_help(format!("did you mean `{close}`?"));
            }
            problems.push(p);
        }
    }
    for (id, file, span) in &index.eager {
        if !used.contains(id.as_str()) {
            problems.push(
                Problem::new(
                    "berth::sesam::unused-microservice",
                    crate::problem::Severity::Warning,
                    format!("no pipe uses the microservice `{id}`, yet it starts eagerly"),
                )
                .at(file, *span)
                .with_label("unused")
                .with_help("set `\"eager_load\": false` to start it only when a pipe needs it, or remove it"),
            );
        }
    }
}

impl Entity {
    /// The entity with its lint position moved past `offset` problems found before it.
    fn after(mut self, offset: usize) -> Entity {
        self.lint_at += offset;
        self
    }
}

impl Compiled {
    /// The problems with `linted` (each with its `lint_at`, in the order of `plugins`
    /// then `entities`) put where lint ran when it ran inside the front ends, then
    /// ordered by file and position: the same order, ties included, as ever.
    pub fn with_lint(mut self, linted: Vec<(usize, Vec<Problem>)>) -> Compiled {
        // From the last position back, so that earlier positions stay valid; of two at
        // one position, the later goes in first and ends up after the earlier. (Plugins
        // come before entities in `linted` whatever the sources' order, but a plugin's
        // problems and an entity's are in different files, which the sort keeps apart.)
        let mut linted = linted;
        linted.sort_by_key(|(at, _)| *at);
        for (at, found) in linted.into_iter().rev() {
            let at = at.min(self.problems.len());
            self.problems.splice(at..at, found);
        }
        sort_problems(&mut self.problems);
        self
    }
}

/// Sorts problems by file and position; problems at one place keep their order.
fn sort_problems(problems: &mut [Problem]) {
    problems.sort_by(|a, b| {
        let key = |p: &Problem| {
            (
                p.file.as_ref().map(|f| f.name().to_string()),
                p.span.map(|s| s.start),
            )
        };
        key(a).cmp(&key(b))
    });
}

/// Within one plugin.txt the `duplicate-name` lint rule reports a repeated name already.
fn both_cosmos_in_one_file(a: &Service, b: &Service) -> bool {
    let cosmos = |s: &Service| matches!(s.platform, crate::model::Platform::Cosmos(_));
    a.origin.file == b.origin.file && cosmos(a) && cosmos(b)
}

/// Names and host ports are shared by the whole engine, whatever file declared them. A
/// clash is reported at both places, each naming the other, so that linting either file
/// alone (as pre-commit does) shows it.
fn check_across_files(
    services: &[Service],
    files: &BTreeMap<&str, &Arc<SourceFile>>,
    problems: &mut Vec<Problem>,
) {
    // The span of the token a service's origin points at.
    let place = |s: &Service| -> Option<(Arc<SourceFile>, Span)> {
        let file = files.get(s.origin.file.as_str())?;
        let start = file.offset(s.origin.line, s.origin.column);
        let end = file.text()[start..]
            .find(char::is_whitespace)
            .map_or(file.text().len(), |e| start + e);
        Some(((*file).clone(), Span::new(start, end)))
    };
    let mut both_places =
        |code: &'static str, message: String, label: &str, help: &str, pair: [&Service; 2]| {
            for (here, there) in [(pair[0], pair[1]), (pair[1], pair[0])] {
                if let Some((file, span)) = place(here) {
                    problems.push(
                        Problem::error(code, message.clone())
                            .at(&file, span)
                            .with_label(label.to_string())
                            .with_help(format!("the other one is at {}; {help}", there.origin)),
                    );
                }
            }
        };
    let mut names: BTreeMap<&str, &Service> = BTreeMap::new();
    let mut ports: BTreeMap<(u16, crate::model::Protocol), &Service> = BTreeMap::new();
    for s in services {
        match names.get(s.name.as_str()) {
            Some(first) if !both_cosmos_in_one_file(first, s) => both_places(
                "berth::compile::duplicate-service",
                format!("two services are named `{}`", s.name),
                "declared here",
                "service names are shared by every file of the repository",
                [first, s],
            ),
            Some(_) => {}
            None => {
                names.insert(&s.name, s);
            }
        }
        for port in &s.ports {
            let Some(host) = port.host else { continue };
            match ports.get(&(host, port.protocol)) {
                Some(other) if other.name != s.name => both_places(
                    "berth::compile::host-port-clash",
                    format!(
                        "`{}` and `{}` both publish host port {host}/{}",
                        other.name, s.name, port.protocol
                    ),
                    &format!("publishes host port {host}"),
                    "change one of the PORTs",
                    [other, s],
                ),
                Some(_) => {}
                None => {
                    ports.insert((host, port.protocol), s);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scalar;
    use crate::model::{Piece, Platform};

    /// A microservice's environment, set by everything that sets one, in COSMOS's order
    /// (RUNTIME.md R2, R3): the operator's, the block's ENV, OPENC3_MICROSERVICE_NAME,
    /// SECRET ENV, OPENC3_SCOPE; later wins.
    #[test]
    fn variables_are_set_in_the_operators_order() {
        let text = "MICROSERVICE BG bg\n  CMD run\n  ENV FROM_BLOCK block\n  ENV SHARED block\n  ENV OPENC3_MICROSERVICE_NAME mine\n  ENV OPENC3_SCOPE mine\n  SECRET ENV tok OPENC3_MICROSERVICE_NAME\n  SECRET ENV tok2 OPENC3_SCOPE\n";
        let mut config = Config::default();
        config.cosmos.env = [("SHARED", "operator"), ("OPERATOR_ONLY", "operator")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), Scalar(v.to_string())))
            .collect();
        let project = Project {
            config: &config,
            sources: vec![Source::Cosmos {
                file: SourceFile::new("plugin.txt", text),
                folder: String::new(),
                tree: None,
            }],
            sesam_env: None,
            cosmos: InstallOptions::default(),
        };
        let compiled = compile(&project);
        let s = &compiled.model.services[0];
        let env: BTreeMap<&str, String> = s.env.iter().map(|(k, v)| (k.as_str(), v.to_string())).collect();
        assert_eq!(env["OPERATOR_ONLY"], "operator");
        assert_eq!(env["SHARED"], "block", "the block's ENV over the operator's");
        assert_eq!(env["FROM_BLOCK"], "block");
        assert_eq!(env["OPENC3_SCOPE"], "DEFAULT", "the operator sets the scope last");
        // The name is set over ENV; the SECRET ENV for it comes after, and wins.
        assert_eq!(env["OPENC3_MICROSERVICE_NAME"], "DEFAULT__USER__BG");
        let delivered: Vec<&str> = s
            .secrets
            .iter()
            .filter_map(|x| match &x.delivery {
                crate::model::SecretDelivery::Env { variable } => Some(variable.as_str()),
                crate::model::SecretDelivery::File { .. } => None,
            })
            .collect();
        assert_eq!(
            delivered,
            ["OPENC3_MICROSERVICE_NAME"],
            "no secret for OPENC3_SCOPE"
        );
        let spec = crate::model::canonical::canonical(s, "img", &crate::model::fixtures::FakeDigests);
        assert_eq!(spec.env["OPENC3_MICROSERVICE_NAME"], "<secret:tok:d(tok)>");
        assert_eq!(spec.env["OPENC3_SCOPE"], "DEFAULT");
        // The entry in Redis holds the block's own ENV only, as the block wrote it.
        let Platform::Cosmos(c) = &s.platform else {
            unreachable!()
        };
        let names: Vec<&str> = c.env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            ["FROM_BLOCK", "SHARED", "OPENC3_MICROSERVICE_NAME", "OPENC3_SCOPE"]
        );
        assert!(matches!(c.env[0].1.0[0], Piece::Literal(_)));
    }
}
