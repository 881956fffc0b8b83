//! The Sesam front end: `system:microservice` entities → services (FORMATS.md part 3).
//! A file holds one entity or an array of them; other entities (pipes, other systems,
//! node metadata) are skipped with a note. `$ENV(name)` is filled from the env profile
//! and berth.yaml, `$SECRET(name)` stays a reference resolved only when applying; then
//! each entity is checked against `schemas/sesam-microservice.schema.json` and keeps
//! Sesam's meaning: `memory` is MB, `cpu_quota` is percent of one core summed over all
//! cores, `environment` values that are not strings are JSON-encoded, `hosts` are extra
//! hosts, `skip_pull` forbids pulling.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::compile::Entity;
use crate::compile::interpolate::{self, Part};
use crate::formats::Format;
use crate::model::{
    Origin, Platform, Port, Protocol, PullPolicy, RegistryAuth, Service, SesamService, looks_secret,
};
use crate::parse::json::{self, Json};
use crate::problem::{Problem, Severity};
use crate::source::{SourceFile, Span};
use crate::validate::{Schema, validate};

/// The entity type this front end deploys.
pub const MICROSERVICE: &str = "system:microservice";

/// What a Sesam file says about the node's wiring, for the checks that span files
/// (FORMATS.md S22): the systems it declares, and the systems its pipes use.
#[derive(Debug, Default)]
pub struct Index {
    /// Every system `_id` (microservices included), with where it is.
    pub systems: Vec<(String, Arc<SourceFile>, Span)>,
    /// Microservice systems that start eagerly (`eager_load`, default true).
    pub eager: Vec<(String, Arc<SourceFile>, Span)>,
    /// The `system` of every pipe's source, sink and transforms.
    pub pipe_refs: Vec<(String, Arc<SourceFile>, Span)>,
}

/// The services in one Sesam config file (or in the part `range` of it: a JSON example
/// in a README), every problem found, and the valid entities (for lint). `env` is `None` when the repository has no env
/// profile and berth.yaml sets no `env`: `$ENV` references then stay unresolved, with a
/// warning each, since nothing says what they should be.
pub fn compile(
    file: &Arc<SourceFile>,
    range: Option<std::ops::Range<usize>>,
    env: Option<&BTreeMap<String, Value>>,
) -> (Vec<Service>, Vec<Problem>, Vec<Entity>) {
    let (services, problems, _, entities) = compile_indexed(file, range, env);
    (services, problems, entities)
}

/// `compile`, the file's `Index`, and its valid microservice entities (for lint).
pub fn compile_indexed(
    file: &Arc<SourceFile>,
    range: Option<std::ops::Range<usize>>,
    env: Option<&BTreeMap<String, Value>>,
) -> (Vec<Service>, Vec<Problem>, Index, Vec<Entity>) {
    let mut index = Index::default();
    let mut problems = Vec::new();
    let range = range.unwrap_or(0..file.text().len());
    let doc = match json::parse_at(&file.text()[range.clone()], range.start) {
        Ok(doc) => doc,
        Err(e) => return (Vec::new(), vec![e.into_problem(file)], index, Vec::new()),
    };
    let entities: Vec<(String, &Value)> = match &doc.value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("/{i}"), v))
            .collect(),
        v => vec![(String::new(), v)],
    };
    let holds_microservice = entities
        .iter()
        .any(|(_, e)| e.get("type").and_then(Value::as_str) == Some(MICROSERVICE));
    let mut services = Vec::new();
    let mut valid = Vec::new();
    for (base, entity) in entities {
        let Some(kind) = entity.get("type").and_then(Value::as_str) else {
            problems.push(
                Problem::error("berth::sesam::no-type", "a config entity needs a `type`")
                    .at(file, doc.nearest_span(&base))
                    .with_help("a microservice system is `{\"_id\": \"...\", \"type\": \"system:microservice\", ...}`"),
            );
            continue;
        };
        let id_span = doc.span(&format!("{base}/_id")).unwrap_or_default();
        if let Some(id) = entity.get("_id").and_then(Value::as_str)
            && kind.starts_with("system:")
        {
            index.systems.push((id.to_string(), file.clone(), id_span));
            let eager = entity.get("eager_load").and_then(Value::as_bool).unwrap_or(true);
            if kind == MICROSERVICE && eager {
                index.eager.push((id.to_string(), file.clone(), id_span));
            }
        }
        if kind == "pipe" {
            pipe_refs(entity, &base, &doc, file, &mut index);
        }
        if kind != MICROSERVICE {
            // A file of pipes or other systems only (read from `pipes/` or `systems/` for
            // the wiring) deploys nothing by nature; beside microservices, say so.
            if !holds_microservice {
                continue;
            }
            let id = entity.get("_id").and_then(Value::as_str).unwrap_or("?");
            problems.push(
                Problem::new(
                    "berth::sesam::not-deployed",
                    Severity::Info,
                    format!("`{id}` is a `{kind}`, not a microservice; berth does not deploy it"),
                )
                .at(file, doc.span(&format!("{base}/type")).unwrap_or_default()),
            );
            continue;
        }
        let before = problems.len();
        let filled = fill_env(entity, &base, &doc, env, file, &mut problems);
        problems.extend(validate(Schema::SesamMicroservice, &filled, &doc, &base, file));
        if problems[before..].iter().any(Problem::is_error) {
            continue;
        }
        let lint_at = problems.len();
        if let Some(s) = lower(&filled, &doc, &base, file, &mut problems) {
            services.push(s);
        }
        valid.push((base, filled, lint_at));
    }
    let json = Arc::new(doc);
    let entities = valid
        .into_iter()
        .map(|(base, value, lint_at)| Entity {
            format: Format::Sesam,
            file: file.clone(),
            json: json.clone(),
            base,
            value,
            lint_at,
        })
        .collect();
    (services, problems, index, entities)
}

/// The systems a pipe uses: its source's, its sink's and each transform's `system`.
fn pipe_refs(pipe: &Value, base: &str, doc: &Json, file: &Arc<SourceFile>, index: &mut Index) {
    let mut add = |pointer: String| {
        if let Some(system) = doc.value.pointer(&pointer).and_then(Value::as_str) {
            let span = doc.span(&pointer).unwrap_or_default();
            index.pipe_refs.push((system.to_string(), file.clone(), span));
        }
    };
    add(format!("{base}/source/system"));
    add(format!("{base}/sink/system"));
    match pipe.get("transform") {
        Some(Value::Array(ts)) => (0..ts.len()).for_each(|i| add(format!("{base}/transform/{i}/system"))),
        Some(_) => add(format!("{base}/transform/system")),
        None => {}
    }
}

/// Replaces every `$ENV(name)` (an unknown name is an error at its span). A string that
/// is exactly one reference takes the variable's JSON value, keeping its type; several
/// references, or text around one, make a string. `$SECRET` references are kept.
fn fill_env(
    v: &Value,
    pointer: &str,
    doc: &Json,
    env: Option<&BTreeMap<String, Value>>,
    file: &Arc<SourceFile>,
    problems: &mut Vec<Problem>,
) -> Value {
    match v {
        Value::String(s) => {
            let token = doc.span(pointer).unwrap_or_else(|| doc.nearest_span(pointer));
            let parts = match interpolate::split(s) {
                Ok(parts) => parts,
                Err(e) => {
                    problems.push(
                        Problem::error("berth::sesam::malformed-reference", e.message)
                            .at(file, interpolate::span_in_token(file.text(), token, s, &e.span))
                            .with_help(
                                "write `$ENV(name)` or `$SECRET(name)`, side by side but never nested",
                            ),
                    );
                    return v.clone();
                }
            };
            if let [Part::Env { name, span }] = parts.as_slice() {
                return lookup(
                    name,
                    interpolate::span_in_token(file.text(), token, s, span),
                    env,
                    file,
                    problems,
                )
                .cloned()
                .unwrap_or_else(|| v.clone());
            }
            let mut out = String::new();
            for part in &parts {
                match part {
                    Part::Literal(l) => out.push_str(l),
                    Part::Secret { span, .. } => out.push_str(&s[span.clone()]),
                    Part::Env { name, span } => match lookup(
                        name,
                        interpolate::span_in_token(file.text(), token, s, span),
                        env,
                        file,
                        problems,
                    ) {
                        Some(Value::String(text)) => out.push_str(text),
                        Some(other) => out.push_str(&other.to_string()),
                        None => out.push_str(&s[span.clone()]),
                    },
                }
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| fill_env(x, &format!("{pointer}/{i}"), doc, env, file, problems))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, x)| {
                    let child = json::child(pointer, k);
                    (k.clone(), fill_env(x, &child, doc, env, file, problems))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn lookup<'e>(
    name: &str,
    at: Span,
    env: Option<&'e BTreeMap<String, Value>>,
    file: &Arc<SourceFile>,
    problems: &mut Vec<Problem>,
) -> Option<&'e Value> {
    let Some(env) = env else {
        problems.push(
            Problem::new(
                "berth::sesam::unresolved-env",
                Severity::Warning,
                format!("`$ENV({name})` cannot be resolved: the repository has no env profile"),
            )
            .at(file, at)
            .with_label("kept as written")
            .with_help("set `sesam.env_profile` (reads `<profile>-env.json`) or `env:` in berth.yaml"),
        );
        return None;
    };
    let found = env.get(name);
    if found.is_none() {
        problems.push(
            Problem::error("berth::sesam::unknown-env", format!("`$ENV({name})` is not set"))
                .at(file, at)
                .with_label("no such environment variable")
                .with_help(format!(
                    "define `{name}` in the env profile (`<profile>-env.json`) or under `env:` in berth.yaml"
                )),
        );
    }
    found
}

/// MB as Docker counts them.
const MB: u64 = 1024 * 1024;

fn lower(
    e: &Value,
    doc: &Json,
    base: &str,
    file: &Arc<SourceFile>,
    problems: &mut Vec<Problem>,
) -> Option<Service> {
    let Some(docker) = e.get("docker") else {
        // Allowed by the schema only with `$conditional_properties`, which would choose
        // the docker settings from an env value; berth does not evaluate those.
        problems.push(
            Problem::new(
                "berth::sesam::conditional-properties",
                Severity::Warning,
                "this entity takes its `docker` settings from `$conditional_properties`, which berth does not evaluate: it is not deployed",
            )
            .at(file, doc.nearest_span(base))
            .with_help("write the `docker` object for the environment you deploy to"),
        );
        return None;
    };
    let id = e.get("_id")?.as_str()?.to_string();
    let at = |p: &str| {
        let pointer = format!("{base}{p}");
        doc.key_span(&pointer)
            .unwrap_or_else(|| doc.nearest_span(&pointer))
    };
    let origin = |span: Span| {
        let (line, column) = file.line_col(span.start);
        Origin {
            file: file.name().to_string(),
            line,
            column,
        }
    };
    let int = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64);
    let boolean = |v: &Value, k: &str, default: bool| v.get(k).and_then(Value::as_bool).unwrap_or(default);
    let image = docker.get("image")?.as_str()?;
    if image.contains("$SECRET(") {
        problems.push(
            Problem::error(
                "berth::sesam::secret-in-image",
                "an image name cannot come from a secret",
            )
            .at(file, at("/docker/image"))
            .with_help("use `$ENV(name)` for a configurable image; secrets are for credentials"),
        );
        return None;
    }
    let mut s = Service::new(
        id.clone(),
        origin(at("/_id")),
        Platform::Sesam(SesamService {
            id: id.clone(),
            use_https: boolean(e, "use_https", false),
            verify_ssl: boolean(e, "verify_ssl", false),
            eager_load: boolean(e, "eager_load", true),
            connect_timeout_seconds: int(e, "connect_timeout").unwrap_or(60),
            read_timeout_seconds: int(e, "read_timeout").unwrap_or(1800),
            authentication: e.get("authentication").and_then(Value::as_str).map(String::from),
        }),
    );
    s.image = Some(image.to_string());
    s.sources.insert("image".into(), origin(at("/docker/image")));
    // An unresolved `$ENV` port leaves the port unknown; the warning already says so.
    if let Some(port) = int(docker, "port")
        .and_then(|p| u16::try_from(p).ok())
        .filter(|&p| p > 0)
    {
        s.ports.push(Port {
            number: port,
            protocol: Protocol::Tcp,
            host: None,
        });
    }
    if let Some(vars) = docker.get("environment").and_then(Value::as_object) {
        for (k, v) in vars {
            // Sesam passes strings as they are and JSON-encodes everything else, after
            // filling in the secrets inside it.
            let value = match v {
                Value::String(x) => interpolate::secret_text(x),
                other => interpolate::secret_text(&other.to_string()).in_json(),
            };
            // A value named like a secret but written in plain text is never shown.
            let value = if looks_secret(k) { value.sensitive() } else { value };
            s.sources.insert(
                format!("env.{k}"),
                origin(at(&json::child("/docker/environment", k))),
            );
            s.env.insert(k.clone(), value);
        }
    }
    // Out-of-range values (negative, or beyond what the engine can express) are the
    // resource-quota rule's to report; the service keeps Sesam's default then.
    let memory_mb = docker.get("memory").map_or(Some(128), Value::as_u64);
    s.resources.memory_limit_bytes = memory_mb.and_then(|mb| mb.checked_mul(MB)).or(Some(128 * MB));
    // cpu_quota is percent of one core, summed over all cores: 100 = one core.
    let quota = docker.get("cpu_quota").map_or(Some(25), Value::as_u64);
    s.resources.cpu_limit_millis = quota.and_then(|q| q.checked_mul(10)).or(Some(250));
    s.resources.cpuset = docker
        .get("cpuset_cpus")
        .and_then(Value::as_str)
        .map(String::from);
    s.sources.insert("resources".into(), origin(at("/docker")));
    for (key, path) in [
        ("memory", "resources.memory_limit_bytes"),
        ("cpu_quota", "resources.cpu_limit_millis"),
        ("cpuset_cpus", "resources.cpuset"),
    ] {
        if docker.get(key).is_some() {
            s.sources
                .insert(path.into(), origin(at(&format!("/docker/{key}"))));
        }
    }
    if let Some(hosts) = docker.get("hosts").and_then(Value::as_object) {
        s.extra_hosts = hosts
            .iter()
            .filter_map(|(h, ip)| Some((h.clone(), ip.as_str()?.to_string())))
            .collect();
    }
    s.pull.policy = if boolean(docker, "skip_pull", false) {
        PullPolicy::Never
    } else {
        // "pull on every container restart"
        PullPolicy::Always
    };
    s.pull.schedule = docker
        .get("pull_image_cron_expression")
        .and_then(Value::as_str)
        .map(String::from);
    if let Some(expression) = &s.pull.schedule {
        let pointer = format!("{base}/docker/pull_image_cron_expression");
        s.sources.insert(
            "pull.schedule".into(),
            origin(at("/docker/pull_image_cron_expression")),
        );
        if let Err(why) = crate::schedule::parse(expression) {
            problems.push(
                Problem::error("berth::sesam::cron", format!("`{expression}` is no cron expression berth can follow: {why}"))
                    .at(file, doc.span(&pointer).unwrap_or_else(|| doc.nearest_span(&pointer)))
                    .with_label("not a cron expression")
                    .with_help("five fields (minute hour day-of-month month day-of-week, as `0 3 * * *`), or six with seconds first; evaluated in UTC"),
            );
        }
    }
    if let (Some(u), Some(p)) = (
        docker.get("username").and_then(Value::as_str),
        docker.get("password").and_then(Value::as_str),
    ) {
        s.pull.auth = Some(RegistryAuth {
            username: interpolate::secret_text(u),
            password: interpolate::secret_text(p).sensitive(),
        });
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile_str(text: &str, env: &[(&str, Value)]) -> (Vec<Service>, Vec<Problem>) {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        // As the driver does: lint over what compiled.
        let (services, mut problems, entities) =
            compile(&SourceFile::new("systems/ms.conf.json", text), None, Some(&env));
        problems.extend(entities.iter().flat_map(crate::lint::lint_entity));
        (services, problems)
    }

    #[test]
    fn an_entity_lowers_with_sesam_meaning() {
        let text = r#"{"_id": "ms", "type": "system:microservice",
          "docker": {"image": "sesam/ms:1.0", "port": "$ENV(ms-port)", "memory": 512, "cpu_quota": 50,
            "environment": {"URL": "http://$ENV(host):80", "TOKEN": "$SECRET(tok)", "CAP": 10, "CFG": {"a": true}},
            "hosts": {"db.local": "10.0.0.5"}, "skip_pull": true}}"#;
        let (services, problems) = compile_str(text, &[("ms-port", Value::from(5000)), ("host", "h".into())]);
        // Only the notes that CAP and CFG reach the container as JSON text.
        let codes: Vec<&str> = problems.iter().map(|p| p.code).collect();
        assert_eq!(codes, ["berth::lint::json-encoded-env"; 2], "{problems:?}");
        let s = &services[0];
        assert_eq!(s.name, "ms");
        assert_eq!(s.ports[0].number, 5000);
        assert_eq!(s.env["URL"].to_string(), "http://h:80");
        assert_eq!(s.env["TOKEN"].to_string(), "<secret:tok>");
        assert_eq!(s.env["CAP"].to_string(), "10");
        assert_eq!(s.env["CFG"].to_string(), r#"{"a":true}"#);
        // A secret inside a JSON-encoded value stays a reference, marked for JSON escaping.
        assert!(
            services[0]
                .env
                .values()
                .all(|t| !t.to_string().contains("$SECRET"))
        );
        assert_eq!(s.resources.memory_limit_bytes, Some(512 * MB));
        assert_eq!(s.resources.cpu_limit_millis, Some(500));
        assert_eq!(s.extra_hosts["db.local"], "10.0.0.5");
        assert_eq!(s.pull.policy, PullPolicy::Never);
    }

    #[test]
    fn an_unknown_env_name_is_an_error_at_its_span() {
        let text = r#"[{"_id": "p", "type": "pipe"}, {"_id": "ms", "type": "system:microservice",
          "docker": {"image": "a:1", "port": 80, "environment": {"X": "pre-$ENV(nope)-post"}}}]"#;
        let (services, problems) = compile_str(text, &[]);
        assert!(services.is_empty());
        let codes: Vec<&str> = problems.iter().map(|p| p.code).collect();
        // Beside a microservice, the pipe is noted as not deployed.
        assert_eq!(codes, ["berth::sesam::not-deployed", "berth::sesam::unknown-env"]);
        assert_eq!(&text[problems[1].span.unwrap().range()], "$ENV(nope)");
    }

    #[test]
    fn schema_errors_in_an_array_point_into_the_right_entity() {
        let text = r#"[{"_id": "aa", "type": "system:microservice", "docker": {"image": "a:1", "port": 80}},
          {"_id": "bb", "type": "system:microservice", "docker": {"image": "b:1", "port": true}}]"#;
        let (services, problems) = compile_str(text, &[]);
        assert_eq!(services.len(), 1);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(&text[problems[0].span.unwrap().range()], "true");
    }
}
