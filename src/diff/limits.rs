//! What the engine will refuse, found before anything is applied: a plan is a promise,
//! so every request the engine would answer with an error is a refusal at the line that
//! causes it (RUNTIME.md §4). Pure: the engine's limits and the host ports in use are
//! read by the edge into `LiveState` and passed in.

use std::fmt;

use crate::config::Mode;
use crate::live::LiveState;
use crate::model::canonical::Spec;
use crate::model::{Origin, Service};

use super::source_of;

/// The engine's smallest memory limit and reservation: 6 MiB (moby
/// `daemon/daemon_unix.go`, `linuxMinMemory`).
pub const MIN_MEMORY_BYTES: u64 = 6 * 1024 * 1024;

/// The smallest CPU limit the engine takes: 0.01 CPU.
pub const MIN_CPU_MILLIS: u64 = 10;

/// Swarm's longest service name (a DNS label).
const MAX_SWARM_NAME: usize = 63;

/// Something the engine would refuse, or that cannot be applied for another reason: a
/// plan that holds one is never applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The service it concerns, when one does (`--target` keeps only those named).
    pub service: Option<String>,
    pub message: String,
    /// The line that causes it.
    pub at: Option<Origin>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Refusal {
    pub fn new(service: &str, at: Origin, message: impl Into<String>, help: impl Into<String>) -> Refusal {
        Refusal {
            service: Some(service.to_string()),
            message: message.into(),
            at: Some(at),
            help: Some(help.into()),
        }
    }
}

/// `file:line:col: message; help`: one line, for logs and the plan's JSON.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "; {help}")?;
        }
        Ok(())
    }
}

/// Why the engine would refuse to run `service` as `spec` under the object name `name`.
pub fn refusals(service: &Service, spec: &Spec, name: &str, live: &LiveState, mode: Mode) -> Vec<Refusal> {
    let mut out = Vec::new();
    let refuse = |path: &str, message: String, help: &str| {
        Refusal::new(&service.name, source_of(service, path), message, help)
    };
    if let Some(problem) = name_problem(name, mode) {
        out.push(refuse(
            "name",
            format!(
                "`{}` cannot be named `{name}` on the engine: {problem}",
                service.name
            ),
            "set a shorter or plainer `project:` in berth.yaml, or rename the service",
        ));
    }
    if let Some(problem) = reference_problem(&spec.image) {
        let help = match problem {
            ReferenceProblem::Env => {
                "give it a value: berth.yaml `env`, or the `<profile>-env.json` of berth.yaml's sesam.env_profile"
            }
            ReferenceProblem::Placeholder => {
                "give the placeholder a value in berth.yaml `vars`, as the build would"
            }
            ReferenceProblem::Malformed(_) => {
                "write it as [registry[:port]/]repository[:tag][@digest], the repository in lower case"
            }
        };
        out.push(refuse(
            "image",
            format!("`{}`: the image `{}` {problem}", service.name, spec.image),
            help,
        ));
    }
    out.extend(resource_refusals(service, spec, live, mode));
    out.extend(port_refusals(service, spec, live, mode));
    out
}

fn resource_refusals(service: &Service, spec: &Spec, live: &LiveState, mode: Mode) -> Vec<Refusal> {
    let mut out = Vec::new();
    let r = &spec.resources;
    let refuse = |path: &str, message: String, help: String| {
        Refusal::new(&service.name, source_of(service, path), message, help)
    };
    let cpus = live.engine.as_ref().and_then(|e| e.cpu_millis);
    let cpu_path = "resources.cpu_limit_millis";
    match (r.cpu_limit_millis, cpus) {
        (Some(m), _) if m < MIN_CPU_MILLIS => out.push(refuse(
            cpu_path,
            format!(
                "`{}`: a CPU limit of {} is below the engine's minimum of 0.01 CPU",
                service.name,
                cpu(m)
            ),
            "raise the limit to at least 10m (0.01 CPU)".into(),
        )),
        (Some(m), Some(n)) if m > n => out.push(refuse(
            cpu_path,
            format!(
                "`{}`: a CPU limit of {} is more than the engine has ({} CPUs)",
                service.name,
                cpu(m),
                cpu(n)
            ),
            format!(
                "limit it to at most {} CPUs, or run it on a larger engine",
                cpu(n)
            ),
        )),
        _ => {}
    }
    for (path, bytes, what) in [
        (
            "resources.memory_limit_bytes",
            r.memory_limit_bytes,
            "memory limit",
        ),
        (
            "resources.memory_reservation_bytes",
            r.memory_reservation_bytes,
            "memory reservation",
        ),
    ] {
        if let Some(b) = bytes.filter(|b| *b < MIN_MEMORY_BYTES) {
            out.push(refuse(
                path,
                format!(
                    "`{}`: a {what} of {} is below the engine's minimum of 6 MiB",
                    service.name,
                    mib(b)
                ),
                format!("raise the {what} to at least 6 MiB"),
            ));
        }
    }
    if let (Some(limit), Some(reservation)) = (r.memory_limit_bytes, r.memory_reservation_bytes)
        && reservation > limit
    {
        out.push(refuse(
            "resources.memory_reservation_bytes",
            format!(
                "`{}`: the memory reservation ({}) is above the memory limit ({})",
                service.name,
                mib(reservation),
                mib(limit)
            ),
            "lower the reservation (requestedResources) or raise the limit (resources)".into(),
        ));
    }
    let highest = r.cpuset.as_deref().map(cpuset_max);
    if let (Some(set), Some(None)) = (&r.cpuset, highest) {
        out.push(refuse(
            "resources.cpuset",
            format!("`{}`: cpuset `{set}` is not a list of CPUs", service.name),
            "name CPUs as a comma-separated list of numbers and ranges: `0-3`, `0,2`".into(),
        ));
    }
    if let (Some(set), Some(Some(cpu)), Some(n)) = (&r.cpuset, highest, cpus)
        && (cpu + 1) * 1000 > n
        && mode == Mode::Docker
    {
        out.push(refuse(
            "resources.cpuset",
            format!(
                "`{}`: cpuset `{set}` names CPU {cpu}, which the engine does not have ({} CPUs)",
                service.name,
                cpu_count(n)
            ),
            format!("name CPUs 0 to {}", cpu_count(n).saturating_sub(1)),
        ));
    }
    // A swarm schedules a task only on a node that can give what it reserves.
    if mode == Mode::Swarm
        && let Some(e) = &live.engine
    {
        // Swarm services have capabilities from API 1.41 (Docker 20.10) on.
        if !spec.capabilities.is_default() && api_below(&e.api_version, (1, 41)) {
            out.push(refuse(
                "capabilities",
                format!(
                    "`{}`: its capabilities cannot be set on a Swarm service through API {} (they need 1.41, Docker 20.10)",
                    service.name, e.api_version
                ),
                "upgrade the engine, or keep Docker's default capabilities (berth.yaml cumulocity.capabilities: docker)".into(),
            ));
        }
        if let (Some(m), Some(n)) = (r.cpu_reservation_millis, e.cpu_millis)
            && m > n
        {
            out.push(refuse(
                "resources.cpu_reservation_millis",
                format!(
                    "`{}`: it reserves {} CPUs, more than any ready node has ({})",
                    service.name,
                    cpu(m),
                    cpu(n)
                ),
                "lower the reservation, or add a larger node".into(),
            ));
        }
        if let (Some(b), Some(total)) = (r.memory_reservation_bytes, e.memory_bytes)
            && b > total
        {
            out.push(refuse(
                "resources.memory_reservation_bytes",
                format!(
                    "`{}`: it reserves {} of memory, more than any ready node has ({})",
                    service.name,
                    mib(b),
                    mib(total)
                ),
                "lower the reservation, or add a larger node".into(),
            ));
        }
    }
    out
}

/// Host ports another container (or Swarm service) publishes (only the service's own may
/// keep its port: a replace frees it first), or (on a local engine) another process
/// holds; and on one engine a host port that several instances would each publish (a
/// swarm's routing mesh balances one port over all replicas).
fn port_refusals(service: &Service, spec: &Spec, live: &LiveState, mode: Mode) -> Vec<Refusal> {
    let own = |id: &str| {
        live.containers
            .iter()
            .any(|c| c.id == id && c.owner.as_ref().is_some_and(|o| o.service == service.name))
    };
    let mut out = Vec::new();
    for (i, port) in spec.ports.iter().enumerate() {
        let Some(host) = port.host else { continue };
        // The spec's ports are sorted; the model's order names the line.
        let path = format!(
            "ports[{}]",
            service.ports.iter().position(|p| p == port).unwrap_or(i)
        );
        let holder = live
            .published
            .iter()
            .find(|p| p.port == host && p.protocol == port.protocol && !own(&p.id));
        let object = match mode {
            Mode::Docker => "container",
            Mode::Swarm => "Swarm service",
        };
        let message = if service.replicas > 1 && mode == Mode::Docker {
            format!(
                "`{}` runs {} instances, and each would publish host port {host}/{}: only one can",
                service.name, service.replicas, port.protocol
            )
        } else if let Some(holder) = holder {
            format!(
                "`{}`: host port {host}/{} is already published by {object} `{}`",
                service.name, port.protocol, holder.name
            )
        } else if live.bound.contains(&(host, port.protocol)) {
            format!(
                "`{}`: host port {host}/{} is already in use by another process on the engine's host",
                service.name, port.protocol
            )
        } else {
            continue;
        };
        out.push(Refusal::new(
            &service.name,
            source_of(service, &path),
            message,
            "publish it on another host port, or free the port",
        ));
    }
    out
}

/// Why the engine would refuse `name` for a container or a Swarm service.
fn name_problem(name: &str, mode: Mode) -> Option<String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    match mode {
        // moby `daemon/names` `RestrictedNameChars`: [a-zA-Z0-9][a-zA-Z0-9_.-]+
        Mode::Docker => {
            let rest_ok = name.len() >= 2
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            (!first_ok || !rest_ok)
                .then(|| "a container name starts with a letter or digit and holds only letters, digits, `_`, `.` and `-`".into())
        }
        // swarmkit `validateServiceName`: a DNS label, `^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$`.
        Mode::Swarm => {
            let plain = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-".contains(c));
            let ends_ok = name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
            if name.len() > MAX_SWARM_NAME {
                Some(format!(
                    "a Swarm service name has at most {MAX_SWARM_NAME} characters, and this one has {}",
                    name.len()
                ))
            } else if !first_ok || !ends_ok || !plain {
                Some("a Swarm service name starts and ends with a letter or digit and holds only letters, digits, `_` and `-`".into())
            } else {
                None
            }
        }
    }
}

/// Why an image reference is none the engine takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceProblem {
    /// An unresolved Sesam `$ENV(...)`.
    Env,
    /// An unresolved Cumulocity `@placeholder@`.
    Placeholder,
    /// Against distribution's reference grammar, saying where.
    Malformed(String),
}

impl fmt::Display for ReferenceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReferenceProblem::Env => f.write_str("still holds an unresolved $ENV(...)"),
            ReferenceProblem::Placeholder => f.write_str("still holds an unresolved @placeholder@"),
            ReferenceProblem::Malformed(why) => f.write_str(why),
        }
    }
}

/// The longest repository name the engine takes (distribution's `NameTotalLengthMax`).
const MAX_REFERENCE_NAME: usize = 255;

/// Why `reference` is no image reference the engine takes, by distribution's grammar
/// (`distribution/reference`: `[domain[:port]/]path[:tag][@digest]`, each path component
/// lower-case alphanumerics joined by `.`, `_`, `__` or dashes), or why it is none yet.
pub fn reference_problem(reference: &str) -> Option<ReferenceProblem> {
    let malformed = |why: String| Some(ReferenceProblem::Malformed(why));
    if reference.contains("$ENV(") {
        return Some(ReferenceProblem::Env);
    }
    let at_signs = reference.matches('@').count();
    if at_signs >= 2 || (at_signs == 1 && !reference.contains("@sha256:") && !reference.contains("@sha512:"))
    {
        return Some(ReferenceProblem::Placeholder);
    }
    let (name, digest) = match reference.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest {
        let (algorithm, hex) = digest.split_once(':').unwrap_or_default();
        let length = if algorithm == "sha256" { 64 } else { 128 };
        if hex.len() != length
            || !hex
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return malformed(format!("has a malformed digest `{digest}`"));
        }
    }
    // The tag follows the last `:` after the last `/` (a registry's port comes before it).
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if let Some(tag) = tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return malformed(format!(
                "has an invalid tag `{tag}`: letters, digits, `_`, `.` and `-`, at most 128"
            ));
        }
    }
    if path.len() > MAX_REFERENCE_NAME {
        return malformed(format!("has a name longer than {MAX_REFERENCE_NAME} characters"));
    }
    let mut components: Vec<&str> = path.split('/').collect();
    // The first of several components is a registry when it looks like a host: a dot, a
    // port, `localhost`, or upper case (distribution's `splitDockerDomain`).
    let first = components[0];
    if components.len() > 1
        && (first.contains(['.', ':'])
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()))
    {
        if !domain_ok(first) {
            return malformed(format!(
                "has `{first}` as its registry, which is no host name[:port]"
            ));
        }
        components.remove(0);
    }
    for component in components {
        if component.is_empty() {
            return malformed("has an empty path component".into());
        }
        if component.chars().any(|c| c.is_ascii_uppercase()) {
            return malformed(format!(
                "has `{component}` in its repository name, which must be lower case"
            ));
        }
        if !path_component_ok(component) {
            return malformed(format!(
                "has `{component}` in its repository name: lower-case letters and digits, joined by one `.`, one or two `_`, or dashes"
            ));
        }
    }
    None
}

/// A path component: `[a-z0-9]+` runs joined by `.`, `_`, `__` or one or more `-`.
fn path_component_ok(component: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    component.starts_with(alnum)
        && component.ends_with(alnum)
        && component
            .split(alnum)
            .all(|sep| matches!(sep, "" | "." | "_" | "__") || sep.chars().all(|c| c == '-'))
}

/// A registry: host-name labels (`[A-Za-z0-9]`, inner dashes) joined by dots, and an
/// optional numeric port.
fn domain_ok(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.starts_with(|c: char| c.is_ascii_alphanumeric())
            && l.ends_with(|c: char| c.is_ascii_alphanumeric())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    host.split('.').all(label_ok)
        && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Whether API version `version` (`1.40`) is below `wanted`; an unreadable one is not.
fn api_below(version: &str, wanted: (u32, u32)) -> bool {
    let mut parts = version.split('.').map(str::parse::<u32>);
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) < wanted,
        _ => false,
    }
}

/// The highest CPU a cpuset (`0-3`, `0,4`) names; `None` when it is no list of CPU
/// numbers and ranges.
fn cpuset_max(set: &str) -> Option<u64> {
    let mut highest = None;
    for item in set.split(',') {
        let (low, high) = item.split_once('-').unwrap_or((item, item));
        let (low, high): (u64, u64) = (low.parse().ok()?, high.parse().ok()?);
        if low > high {
            return None;
        }
        highest = highest.max(Some(high));
    }
    highest
}

fn cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        (millis / 1000).to_string()
    } else {
        format!("{}", millis as f64 / 1000.0)
    }
}

fn cpu_count(millis: u64) -> u64 {
    millis / 1000
}

fn mib(bytes: u64) -> String {
    if bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1_000_000 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{Container, EngineFacts, HostPort, RunState};
    use crate::model::canonical::canonical;
    use crate::model::fixtures::{FakeDigests, service};
    use crate::model::{Port, Protocol};

    /// A two-CPU, 1 GiB engine.
    fn engine() -> LiveState {
        LiveState {
            engine: Some(EngineFacts {
                cpu_millis: Some(2000),
                memory_bytes: Some(1 << 30),
                api_version: "1.47".into(),
            }),
            ..LiveState::default()
        }
    }

    /// The refusals of `s` on `live`, each as `path-line: message`, with the line that
    /// `at` names (every field's source is set to its own line below).
    fn check(s: &Service, live: &LiveState, mode: Mode) -> Vec<String> {
        let spec = canonical(s, "none", &FakeDigests);
        refusals(s, &spec, "p-a-0", live, mode)
            .iter()
            .map(|r| format!("{}: {}", r.at.as_ref().unwrap().line, r.message))
            .collect()
    }

    fn sourced(mut s: Service) -> Service {
        for (line, path) in [
            "image",
            "resources.cpu_limit_millis",
            "resources.memory_limit_bytes",
            "resources.memory_reservation_bytes",
            "ports[0]",
            "resources.cpuset",
            "resources.cpu_reservation_millis",
        ]
        .iter()
        .enumerate()
        {
            s.sources.insert(
                path.to_string(),
                Origin {
                    file: "f".into(),
                    line: line + 10,
                    column: 3,
                },
            );
        }
        s
    }

    #[test]
    fn what_the_engine_refuses_is_refused_at_its_line() {
        let live = engine();
        let ok = sourced(service("a"));
        assert_eq!(check(&ok, &live, Mode::Docker), Vec::<String>::new());

        let mut cpu = ok.clone();
        cpu.resources.cpu_limit_millis = Some(4000);
        assert_eq!(
            check(&cpu, &live, Mode::Docker),
            ["11: `a`: a CPU limit of 4 is more than the engine has (2 CPUs)"]
        );
        cpu.resources.cpu_limit_millis = Some(5);
        assert_eq!(
            check(&cpu, &live, Mode::Docker),
            ["11: `a`: a CPU limit of 0.005 is below the engine's minimum of 0.01 CPU"]
        );
        cpu.resources.cpu_limit_millis = Some(2000);
        assert_eq!(check(&cpu, &live, Mode::Docker), Vec::<String>::new());

        let mut memory = ok.clone();
        memory.resources.memory_limit_bytes = Some(4_000_000);
        assert_eq!(
            check(&memory, &live, Mode::Docker),
            ["12: `a`: a memory limit of 3.8 MiB is below the engine's minimum of 6 MiB"]
        );
        memory.resources.memory_limit_bytes = Some(128 << 20);
        memory.resources.memory_reservation_bytes = Some(256 << 20);
        assert_eq!(
            check(&memory, &live, Mode::Docker),
            ["13: `a`: the memory reservation (256 MiB) is above the memory limit (128 MiB)"]
        );

        let mut cpuset = ok.clone();
        cpuset.resources.cpuset = Some("0-3".into());
        assert_eq!(
            check(&cpuset, &live, Mode::Docker),
            ["15: `a`: cpuset `0-3` names CPU 3, which the engine does not have (2 CPUs)"]
        );

        let mut image = ok.clone();
        image.image = Some("$ENV(watcher-image)".into());
        assert_eq!(
            check(&image, &live, Mode::Docker),
            ["10: `a`: the image `$ENV(watcher-image)` still holds an unresolved $ENV(...)"]
        );
    }

    #[test]
    fn a_host_port_held_by_another_container_or_process_is_refused() {
        let mut s = sourced(service("a"));
        s.ports = vec![Port {
            number: 80,
            protocol: Protocol::Tcp,
            host: Some(8080),
        }];
        let mut live = engine();
        live.published = vec![HostPort {
            port: 8080,
            protocol: Protocol::Tcp,
            id: "theirs".into(),
            name: "web".into(),
        }];
        assert_eq!(
            check(&s, &live, Mode::Docker),
            ["14: `a`: host port 8080/tcp is already published by container `web`"]
        );
        // Its own container holding the port is no obstacle: the replace frees it first.
        live.containers = vec![Container {
            id: "theirs".into(),
            name: "p-a-0".into(),
            state: RunState::Running,
            restarts: 0,
            owner: Some(crate::live::Owner {
                project: "p".into(),
                service: "a".into(),
                instance: 0,
                spec_hash: String::new(),
                spec: None,
                image_id: String::new(),
                commit: None,
                resources: Default::default(),
            }),
            swarm: None,
        }];
        assert_eq!(check(&s, &live, Mode::Docker), Vec::<String>::new());
        // Another service's, even of this project, holds it until it is replaced: the two
        // would race.
        live.containers[0].owner.as_mut().unwrap().service = "b".into();
        assert_eq!(
            check(&s, &live, Mode::Docker),
            ["14: `a`: host port 8080/tcp is already published by container `web`"]
        );
        live.published.clear();
        live.bound = vec![(8080, Protocol::Tcp)];
        assert_eq!(
            check(&s, &live, Mode::Docker),
            ["14: `a`: host port 8080/tcp is already in use by another process on the engine's host"]
        );
        // The same port over UDP is another port.
        live.bound = vec![(8080, Protocol::Udp)];
        assert_eq!(check(&s, &live, Mode::Docker), Vec::<String>::new());
        // One host port cannot be published by several instances; a swarm's routing
        // mesh balances one over all replicas.
        s.replicas = 2;
        assert_eq!(
            check(&s, &live, Mode::Docker),
            ["14: `a` runs 2 instances, and each would publish host port 8080/tcp: only one can"]
        );
        assert_eq!(check(&s, &live, Mode::Swarm), Vec::<String>::new());
        // On a swarm, another service holding the port on the mesh.
        live.published = vec![HostPort {
            port: 8080,
            protocol: Protocol::Tcp,
            id: "svc9".into(),
            name: "other".into(),
        }];
        assert_eq!(
            check(&s, &live, Mode::Swarm),
            ["14: `a`: host port 8080/tcp is already published by Swarm service `other`"]
        );
    }

    #[test]
    fn a_swarm_task_must_fit_on_one_node() {
        let mut s = sourced(service("a"));
        s.resources.cpu_reservation_millis = Some(3000);
        assert_eq!(
            check(&s, &engine(), Mode::Swarm),
            ["16: `a`: it reserves 3 CPUs, more than any ready node has (2)"]
        );
        assert_eq!(check(&s, &engine(), Mode::Docker), Vec::<String>::new());
    }

    #[test]
    fn references() {
        for good in [
            "nginx",
            "nginx:1.25",
            "library/nginx:latest",
            "localhost:5000/team/app:v1.2_rc-3",
            "Registry.Example.com/app",
            "ghcr.io/a/b/c@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "my_app__x.y-z:1",
            "a--b/c",
            "Sesam/watcher:1",
        ] {
            assert_eq!(reference_problem(good), None, "{good}");
        }
        for (bad, says) in [
            ("$ENV(watcher-image)", "$ENV"),
            ("repo/@image@:1.0", "placeholder"),
            ("@image.name@", "placeholder"),
            ("sesam/Watcher:1", "lower case"),
            ("app:", "invalid tag"),
            ("app:-x", "invalid tag"),
            ("a//b", "empty"),
            ("app-:1", "joined by"),
            ("a..b", "joined by"),
            ("a.-b", "joined by"),
            ("a___b", "joined by"),
            ("reg_x.com/app", "registry"),
            ("host:abc/app", "registry"),
            ("app@sha256:abc", "digest"),
        ] {
            let problem = reference_problem(bad)
                .unwrap_or_else(|| panic!("{bad} passes"))
                .to_string();
            assert!(problem.contains(says), "{bad}: {problem}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(name_problem("p-web-0", Mode::Docker), None);
        assert!(name_problem("-p-web-0", Mode::Docker).is_some());
        assert!(name_problem(".p-web-0", Mode::Docker).is_some());
        assert_eq!(name_problem("p-DEFAULT__USER__X", Mode::Swarm), None);
        assert!(name_problem("p.x-web", Mode::Swarm).is_some());
        assert!(name_problem(&"a".repeat(64), Mode::Swarm).unwrap().contains("63"));
        assert!(name_problem("p-web-", Mode::Swarm).is_some());
    }

    #[test]
    fn capabilities_on_an_old_swarm_are_refused() {
        let mut s = sourced(service("a"));
        s.capabilities.drop = vec!["ALL".into()];
        let mut live = engine();
        assert_eq!(check(&s, &live, Mode::Swarm), Vec::<String>::new());
        live.engine.as_mut().unwrap().api_version = "1.40".into();
        assert_eq!(check(&s, &live, Mode::Swarm).len(), 1);
        assert_eq!(check(&s, &live, Mode::Docker), Vec::<String>::new());
        assert!(api_below("1.9", (1, 41)) && !api_below("2.0", (1, 41)) && !api_below("x", (1, 41)));
    }

    #[test]
    fn cpusets() {
        assert_eq!(cpuset_max("0-3"), Some(3));
        assert_eq!(cpuset_max("0,4"), Some(4));
        assert_eq!(cpuset_max("1"), Some(1));
        for bad in ["0-x", "3-1", "", "0,,1", "a"] {
            assert_eq!(cpuset_max(bad), None, "{bad}");
        }
    }
}
