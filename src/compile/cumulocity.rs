//! The Cumulocity front end: a `cumulocity.json` manifest → services (FORMATS.md part 2,
//! DESIGN.md §1). Build placeholders (`@project.version@`) are filled from berth.yaml
//! `vars`; the result is checked against `schemas/cumulocity.schema.json`; then the
//! manifest's meaning is kept: the container listens on port 80, `resources` are limits
//! and `requestedResources` reservations, probes stay probes, `replicas` are instances,
//! PER_TENANT runs one instance set per tenant, and the platform's `C8Y_*` variables are
//! set from berth.yaml.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::compile::Entity;
use crate::compile::interpolate;
use crate::config::{CapabilityProfile, Config};
use crate::formats::Format;
use crate::formats::quantity::{cpu_millis, memory_bytes};
use crate::model::{
    Capabilities, CumulocityService, Origin, Platform, Port, Probe, ProbeAction, Protocol, PullPolicy,
    Service, Text,
};
use crate::parse::json::{self, Json};
use crate::problem::{Problem, Severity};
use crate::source::{SourceFile, Span};
use crate::validate::{Schema, validate};

/// One manifest and what sits beside it.
pub struct Manifest<'a> {
    pub file: &'a Arc<SourceFile>,
    /// Path of an `image.tar` in the manifest's folder, loaded instead of pulling.
    pub image_archive: Option<String>,
}

/// The manifest's services, every problem found, and the manifest as validated (for
/// lint), when it is valid.
pub fn compile(manifest: &Manifest, config: &Config) -> (Vec<Service>, Vec<Problem>, Option<Entity>) {
    let file = manifest.file;
    let mut problems = Vec::new();
    let doc = match json::parse(file.text()) {
        Ok(doc) => doc,
        Err(e) => return (Vec::new(), vec![e.into_problem(file)], None),
    };
    if !doc.value.is_object() {
        let p = Problem::error(
            "berth::cumulocity::not-an-object",
            "a manifest is one JSON object",
        )
        .at(file, doc.nearest_span(""))
        .with_help(
            "cumulocity.json holds `{ \"apiVersion\": \"2\", \"version\": ..., \"provider\": {...} }`",
        );
        return (Vec::new(), vec![p], None);
    }
    let value = substitute_placeholders(&doc, &config.vars, file, &mut problems);
    problems.extend(validate(Schema::Cumulocity, &value, &doc, "", file));
    if problems.iter().any(Problem::is_error) {
        return (Vec::new(), problems, None);
    }
    let lint_at = problems.len();
    let services = lower(&value, &doc, manifest, config, &mut problems);
    let entity = Entity {
        format: Format::Cumulocity,
        file: file.clone(),
        json: Arc::new(doc),
        base: String::new(),
        value,
        lint_at,
    };
    (services, problems, Some(entity))
}

/// Replaces `@name@` build placeholders in every string from `vars`. One left over is
/// an error where it matters (it would become part of an image tag or a limit), so it is
/// reported at its span with the `vars` entry that would fill it.
fn substitute_placeholders(
    doc: &Json,
    vars: &BTreeMap<String, String>,
    file: &Arc<SourceFile>,
    problems: &mut Vec<Problem>,
) -> Value {
    fn walk(
        v: &Value,
        pointer: String,
        doc: &Json,
        vars: &BTreeMap<String, String>,
        file: &Arc<SourceFile>,
        problems: &mut Vec<Problem>,
    ) -> Value {
        match v {
            Value::String(s) => Value::String(fill(s, &pointer, doc, vars, file, problems)),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| walk(x, format!("{pointer}/{i}"), doc, vars, file, problems))
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, x)| {
                        let child = json::child(&pointer, k);
                        (k.clone(), walk(x, child, doc, vars, file, problems))
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    walk(&doc.value, String::new(), doc, vars, file, problems)
}

fn fill(
    s: &str,
    pointer: &str,
    doc: &Json,
    vars: &BTreeMap<String, String>,
    file: &Arc<SourceFile>,
    problems: &mut Vec<Problem>,
) -> String {
    let mut out = String::new();
    let mut rest = s;
    let mut offset = 0;
    while let Some(start) = rest.find('@') {
        let after = &rest[start + 1..];
        let Some(len) = after.find('@') else { break };
        let name = &after[..len];
        let is_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        out.push_str(&rest[..start]);
        if !is_name {
            out.push('@');
            rest = after;
            offset += start + 1;
            continue;
        }
        match vars.get(name) {
            Some(value) => out.push_str(value),
            None => {
                out.push_str(&rest[start..start + len + 2]);
                let token = doc.span(pointer).unwrap_or_else(|| doc.nearest_span(pointer));
                let range = offset + start..offset + start + len + 2;
                // Normal in a Maven project's sources, so not an error; but berth
                // cannot know the value, and an image tag or limit built from it is wrong.
                problems.push(
                    Problem::new(
                        "berth::cumulocity::placeholder",
                        Severity::Warning,
                        format!("unexpanded build placeholder `@{name}@`: berth would use it literally"),
                    )
                    .at(file, interpolate::span_in_token(file.text(), token, s, &range))
                    .with_label("filled in by the build tool, not by the platform")
                    .with_help(format!("set it in berth.yaml: `vars: {{ \"{name}\": \"...\" }}`")),
                );
            }
        }
        rest = &after[len + 1..];
        offset += start + len + 2;
    }
    out.push_str(rest);
    out
}

/// The platform's defaults when a manifest gives none (FORMATS.md §2.2).
const DEFAULT_CPU_LIMIT: u64 = 500;
const DEFAULT_MEMORY_LIMIT: u64 = 512_000_000;
/// `DEFAULT_MEMORY_LIMIT` as the platform writes it, for `MEMORY_LIMIT`.
const DEFAULT_MEMORY_LIMIT_TEXT: &str = "512M";
const DEFAULT_CPU_REQUEST: u64 = 250;
const DEFAULT_MEMORY_REQUEST: u64 = 256_000_000;

fn lower(
    m: &Value,
    doc: &Json,
    manifest: &Manifest,
    config: &Config,
    problems: &mut Vec<Problem>,
) -> Vec<Service> {
    let file = manifest.file;
    let str_at = |key: &str| m.get(key).and_then(Value::as_str);
    let name = match str_at("name") {
        Some(n) => n.to_string(),
        None => {
            let derived = name_from_path(file.name());
            problems.push(
                Problem::new(
                    "berth::cumulocity::name-from-folder",
                    Severity::Info,
                    format!("the manifest has no `name`; using `{derived}` from its folder"),
                )
                .at(file, {
                    let whole = doc.nearest_span("");
                    Span::new(whole.start, whole.start + 1)
                })
                .with_help("add `\"name\": \"...\"` to fix the service name"),
            );
            derived
        }
    };
    let version = str_at("version").unwrap_or_default().to_string();
    let key = format!("{name}:{version}");
    let origin = origin(file, doc.span("").unwrap_or_default());
    let isolation = str_at("isolation").unwrap_or("MULTI_TENANT").to_string();
    let autoscale = str_at("scale") == Some("AUTO");
    let roles = |k: &str| -> Vec<String> {
        m.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
            .unwrap_or_default()
    };
    let mut base = Service::new(
        name.clone(),
        origin.clone(),
        Platform::Cumulocity(CumulocityService {
            manifest_name: name.clone(),
            version: version.clone(),
            api_version: str_at("apiVersion").unwrap_or_default().to_string(),
            isolation: isolation.clone(),
            tenant: None,
            context_path: str_at("contextPath").map(String::from),
            required_roles: roles("requiredRoles"),
            roles: roles("roles"),
            autoscale,
        }),
    );
    base.image = Some(config.cumulocity.images.get(&key).cloned().unwrap_or(key.clone()));
    if let Some(archive) = &manifest.image_archive
        && !config.cumulocity.images.contains_key(&key)
    {
        base.pull.archive = Some(archive.clone());
        base.pull.policy = PullPolicy::Never;
    }
    base.ports.push(Port {
        number: 80,
        protocol: Protocol::Tcp,
        host: None,
    });
    let res = |section: &str, field: &str| {
        m.get(section)
            .or_else(|| {
                (section == "requestedResources")
                    .then(|| m.get("requestResources"))
                    .flatten()
            })
            .and_then(|r| r.get(field))
            .and_then(Value::as_str)
    };
    // Limits, else the platform's defaults; requests, else the platform's defaults
    // clamped to the limits: under Kubernetes a request never exceeds its limit.
    let cpu_limit = res("resources", "cpu").and_then(cpu_millis);
    let memory_limit = res("resources", "memory").and_then(memory_bytes);
    let cpu_limit = cpu_limit.unwrap_or(DEFAULT_CPU_LIMIT);
    let memory_limit_bytes = memory_limit.unwrap_or(DEFAULT_MEMORY_LIMIT);
    base.resources.cpu_limit_millis = Some(cpu_limit);
    base.resources.memory_limit_bytes = Some(memory_limit_bytes);
    base.resources.cpu_reservation_millis = Some(
        res("requestedResources", "cpu")
            .and_then(cpu_millis)
            .unwrap_or(DEFAULT_CPU_REQUEST.min(cpu_limit)),
    );
    base.resources.memory_reservation_bytes = Some(
        res("requestedResources", "memory")
            .and_then(memory_bytes)
            .unwrap_or(DEFAULT_MEMORY_REQUEST.min(memory_limit_bytes)),
    );
    let requests = if m.get("requestedResources").is_none() && m.get("requestResources").is_some() {
        "requestResources"
    } else {
        "requestedResources"
    };
    for (field, pointer) in [
        ("cpu_limit_millis", "/resources/cpu".to_string()),
        ("memory_limit_bytes", "/resources/memory".to_string()),
        ("cpu_reservation_millis", format!("/{requests}/cpu")),
        ("memory_reservation_bytes", format!("/{requests}/memory")),
    ] {
        base.sources
            .insert(format!("resources.{field}"), origin_at(file, doc, &pointer));
    }
    base.replicas = m.get("replicas").and_then(Value::as_u64).map_or(1, |r| r as u32);
    if autoscale {
        problems.push(
            Problem::new(
                "berth::cumulocity::autoscale",
                Severity::Warning,
                format!(
                    "`scale: AUTO` needs an orchestrator; berth runs a fixed {} instance{}",
                    base.replicas,
                    if base.replicas == 1 { "" } else { "s" }
                ),
            )
            .at(file, doc.span("/scale").unwrap_or_default())
            .with_label("one Docker engine does not scale on CPU load")
            .with_help("set `replicas` to the number of instances you want; it is the minimum under AUTO"),
        );
    }
    base.probes.liveness = m.get("livenessProbe").and_then(probe);
    base.probes.readiness = m.get("readinessProbe").and_then(probe);
    for (field, key) in [
        ("probes.liveness", "livenessProbe"),
        ("probes.readiness", "readinessProbe"),
    ] {
        if m.get(key).is_some() {
            base.sources
                .insert(field.into(), origin_at(file, doc, &format!("/{key}")));
        }
    }
    let roles_label = |v: &[String]| v.join(",");
    if let Platform::Cumulocity(c) = &base.platform {
        base.labels
            .insert("cumulocity.required-roles".into(), roles_label(&c.required_roles));
        base.labels
            .insert("cumulocity.roles".into(), roles_label(&c.roles));
    }
    let c8y = &config.cumulocity;
    let mut env = |k: &str, v: Text| {
        base.env.insert(k.to_string(), v);
    };
    env("APPLICATION_NAME", Text::literal(&name));
    env("SERVER_PORT", Text::literal("80"));
    env("MICROSERVICE_SUBSCRIPTION_ENABLED", Text::literal("true"));
    env("C8Y_MICROSERVICE_ISOLATION", Text::literal(&isolation));
    env("LOG4J_FORMAT_MSG_NO_LOOKUPS", Text::literal("true"));
    // Always set, and always the limit the container gets: the manifest's when it is
    // one berth reads, else the platform's default.
    let memory_limit_text = match memory_limit {
        Some(_) => res("resources", "memory").unwrap_or_default().to_string(),
        None => DEFAULT_MEMORY_LIMIT_TEXT.to_string(),
    };
    env("MEMORY_LIMIT", Text::literal(memory_limit_text));
    for (var, value) in [
        ("C8Y_BASEURL", &c8y.base_url),
        ("C8Y_BOOTSTRAP_TENANT", &c8y.bootstrap_tenant),
        ("C8Y_BOOTSTRAP_USER", &c8y.bootstrap_user),
        ("C8Y_BOOTSTRAP_PASSWORD", &c8y.bootstrap_password),
    ] {
        if let Some(v) = value {
            env(var, interpolate::credential(var, v));
        }
    }
    // What the platform takes from its own settings (RUNTIME.md §2 C1), from berth.yaml.
    let key = c8y
        .application_keys
        .get(&name)
        .cloned()
        .unwrap_or_else(|| format!("{name}-key"));
    env("APPLICATION_KEY", Text::literal(key));
    env(
        "C8Y_BOOTSTRAP_REGISTER",
        Text::literal(c8y.bootstrap_register.to_string()),
    );
    for (var, value) in [
        ("C8Y_BASEURL_MQTT", &c8y.mqtt_url),
        ("C8Y_BASEURL_PULSAR", &c8y.pulsar_url),
        ("TZ", &c8y.timezone),
        ("PROXY_HTTP_NON_PROXY_HOSTS", &c8y.proxy.non_proxy_hosts),
    ] {
        if let Some(v) = value {
            env(var, Text::literal(v));
        }
    }
    for (protocol, proxy) in [
        ("HTTP", &c8y.proxy.http),
        ("HTTPS", &c8y.proxy.https),
        ("SOCKS", &c8y.proxy.socks),
    ] {
        if let Some(p) = proxy {
            env(&format!("PROXY_{protocol}_HOST"), Text::literal(&p.host));
            env(
                &format!("PROXY_{protocol}_PORT"),
                Text::literal(p.port.to_string()),
            );
        }
    }
    if c8y.capabilities == CapabilityProfile::Platform {
        base.capabilities = Capabilities {
            drop: vec!["ALL".into()],
            add: vec!["NET_BIND_SERVICE".into()],
        };
    }
    base.sources
        .insert("image".into(), origin_at(file, doc, "/version"));
    base.sources
        .insert("replicas".into(), origin_at(file, doc, "/replicas"));
    base.sources
        .insert("resources".into(), origin_at(file, doc, "/resources"));

    if isolation != "PER_TENANT" {
        return vec![base];
    }
    if c8y.tenants.is_empty() {
        problems.push(
            Problem::new(
                "berth::cumulocity::no-tenants",
                Severity::Warning,
                format!("`{name}` is PER_TENANT, but berth.yaml lists no tenants: nothing will run"),
            )
            .at(file, doc.span("/isolation").unwrap_or_default())
            .with_help("list the tenants under `cumulocity.tenants` in berth.yaml"),
        );
        return Vec::new();
    }
    c8y.tenants
        .iter()
        .map(|t| {
            let mut s = base.clone();
            s.name = format!("{name}@{}", t.id);
            if let Platform::Cumulocity(c) = &mut s.platform {
                c.tenant = Some(t.id.clone());
            }
            s.env.insert("C8Y_TENANT".into(), Text::literal(&t.id));
            s.env.insert("C8Y_USER".into(), interpolate::secret_text(&t.user));
            s.env.insert(
                "C8Y_PASSWORD".into(),
                interpolate::credential("C8Y_PASSWORD", &t.password),
            );
            s
        })
        .collect()
}

fn probe(p: &Value) -> Option<Probe> {
    // The schema bounds ports and thresholds; saturate rather than wrap all the same.
    let int = |k: &str, default: u32| {
        p.get(k)
            .and_then(Value::as_u64)
            .map_or(default, |v| u32::try_from(v).unwrap_or(u32::MAX))
    };
    let port = |o: &Value| {
        o.get("port")
            .and_then(Value::as_u64)
            .map_or(80, |v| u16::try_from(v).unwrap_or(80))
    };
    let action = if let Some(h) = p.get("httpGet") {
        ProbeAction::Http {
            path: h.get("path").and_then(Value::as_str).unwrap_or("/").to_string(),
            port: port(h),
            https: h.get("scheme").and_then(Value::as_str) == Some("HTTPS"),
            headers: h
                .get("headers")
                .and_then(Value::as_array)
                .map(|hs| {
                    hs.iter()
                        .filter_map(|x| {
                            Some((
                                x.get("name")?.as_str()?.to_string(),
                                x.get("value")?.as_str()?.to_string(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    } else if let Some(t) = p.get("tcpSocket") {
        ProbeAction::Tcp { port: port(t) }
    } else {
        let command = p.get("exec")?.get("command")?.as_array()?;
        ProbeAction::Exec {
            command: command
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect(),
        }
    };
    Some(Probe {
        action,
        initial_delay_seconds: int("initialDelaySeconds", 0),
        period_seconds: int("periodSeconds", 10),
        timeout_seconds: int("timeoutSeconds", 1),
        success_threshold: int("successThreshold", 1),
        failure_threshold: int("failureThreshold", 3),
    })
}

fn origin(file: &SourceFile, span: Span) -> Origin {
    let (line, column) = file.line_col(span.start);
    Origin {
        file: file.name().to_string(),
        line,
        column,
    }
}

fn origin_at(file: &SourceFile, doc: &Json, pointer: &str) -> Origin {
    origin(
        file,
        doc.key_span(pointer).unwrap_or_else(|| doc.nearest_span(pointer)),
    )
}

/// A service name from the manifest's path when the manifest has none: the nearest
/// folder that is not part of the Maven layout, made a valid name (`[a-z0-9-]`, ≤ 23).
pub fn name_from_path(path: &str) -> String {
    let skip = ["configuration", "main", "src", "resources", "docker", "."];
    let folder = path
        .rsplit('/')
        .skip(1)
        .find(|f| !f.is_empty() && !skip.contains(f))
        .unwrap_or("microservice");
    let mut name: String = folder
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.truncate(23);
    name.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_maven_layouts() {
        assert_eq!(
            name_from_path("tracker-agent/src/main/configuration/cumulocity.json"),
            "tracker-agent"
        );
        assert_eq!(name_from_path("My_Service/cumulocity.json"), "my-service");
    }

    fn compile_str(text: &str, config: &Config) -> (Vec<Service>, Vec<Problem>) {
        let file = SourceFile::new("svc/cumulocity.json", text);
        let manifest = Manifest {
            file: &file,
            image_archive: None,
        };
        // As the driver does: lint over what compiled.
        let (services, mut problems, entity) = compile(&manifest, config);
        problems.extend(entity.iter().flat_map(crate::lint::lint_entity));
        (services, problems)
    }

    #[test]
    fn a_manifest_lowers_with_platform_meaning() {
        let text = r#"{"apiVersion": "2", "name": "hello", "version": "@project.version@",
            "provider": {"name": "me"}, "isolation": "PER_TENANT", "replicas": 2,
            "resources": {"cpu": "1", "memory": "1G"},
            "livenessProbe": {"httpGet": {"path": "/health"}, "periodSeconds": 5},
            "readinessProbe": {"httpGet": {"path": "/health"}}}"#;
        let mut config = Config::default();
        let (services, problems) = compile_str(text, &config);
        assert!(services.is_empty(), "PER_TENANT and no tenants: nothing runs");
        let codes: Vec<&str> = problems.iter().map(|p| p.code).collect();
        assert_eq!(
            codes,
            ["berth::cumulocity::placeholder", "berth::cumulocity::no-tenants"]
        );
        assert_eq!(&text[problems[0].span.unwrap().range()], "@project.version@");

        config.vars.insert("project.version".into(), "1.2.3".into());
        config.cumulocity.tenants = vec![crate::config::Tenant {
            id: "t1".into(),
            user: "svc".into(),
            password: "$SECRET(t1-pw)".into(),
        }];
        let (services, problems) = compile_str(text, &config);
        assert!(problems.is_empty(), "{problems:?}");
        let s = &services[0];
        assert_eq!(s.name, "hello@t1");
        assert_eq!(s.image.as_deref(), Some("hello:1.2.3"));
        assert_eq!(s.replicas, 2);
        assert_eq!(s.resources.cpu_limit_millis, Some(1000));
        assert_eq!(s.resources.memory_reservation_bytes, Some(256_000_000));
        assert_eq!(s.env["C8Y_PASSWORD"].to_string(), "<secret:t1-pw>");
        let live = s.probes.liveness.as_ref().unwrap();
        assert_eq!(live.period_seconds, 5);
        assert!(matches!(&live.action, ProbeAction::Http { port: 80, path, .. } if path == "/health"));
    }

    #[test]
    fn default_requests_never_exceed_the_limits_and_memory_limit_is_what_the_container_gets() {
        let config = Config::default();
        let resources = |manifest: &str| {
            let (services, problems) = compile_str(manifest, &config);
            assert!(!problems.iter().any(Problem::is_error), "{problems:?}");
            let s = &services[0];
            (s.resources.clone(), s.env["MEMORY_LIMIT"].to_string())
        };
        let (r, limit) = resources(
            r#"{"apiVersion": "2", "name": "a", "version": "1.0.0", "provider": {"name": "me"}, "resources": {"cpu": "0.1", "memory": "128M"}}"#,
        );
        assert_eq!(
            (r.cpu_reservation_millis, r.memory_reservation_bytes),
            (Some(100), Some(128_000_000))
        );
        assert_eq!(limit, "128M");
        let (r, limit) =
            resources(r#"{"apiVersion": "2", "name": "a", "version": "1.0.0", "provider": {"name": "me"}}"#);
        assert_eq!(
            (r.cpu_limit_millis, r.memory_limit_bytes),
            (Some(500), Some(512_000_000))
        );
        assert_eq!(
            (r.cpu_reservation_millis, r.memory_reservation_bytes),
            (Some(250), Some(256_000_000))
        );
        assert_eq!(limit, "512M");
        // A request given explicitly stays as written: above its limit, lint (and the
        // plan) refuse it.
        let (services, problems) = compile_str(
            r#"{"apiVersion": "2", "name": "a", "version": "1.0.0", "provider": {"name": "me"}, "resources": {"memory": "128M"}, "requestedResources": {"memory": "200M"}}"#,
            &config,
        );
        let errors: Vec<&str> = problems.iter().filter(|p| p.is_error()).map(|p| p.code).collect();
        assert_eq!(errors, ["berth::lint::requests-exceed-limits"]);
        let r = &services[0].resources;
        assert_eq!(r.memory_reservation_bytes, Some(200_000_000));
    }
}
