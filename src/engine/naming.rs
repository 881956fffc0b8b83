//! How berth names what it makes on an engine: containers, Swarm services and the
//! project network, all derived from the project and service names with every character
//! Docker does not allow made `-`. Part of the engine interface: diff names what it
//! expects, the engines find what they made, by the same rules.

use crate::config::Mode;

/// The engine name of a service's instance: `<project>-<service>-<instance>`, with every
/// character Docker does not allow in names made `-`.
pub fn container_name(project: &str, service: &str, instance: u32) -> String {
    format!("{}-{}-{instance}", clean(project), clean(service))
}

/// The engine name of a Swarm service: `<project>-<service>`, cleaned as container names.
pub fn service_name(project: &str, service: &str) -> String {
    format!("{}-{}", clean(project), clean(service))
}

/// The name of a desired instance's object on the engine.
pub fn object_name(mode: Mode, project: &str, service: &str, instance: u32) -> String {
    match mode {
        Mode::Docker => container_name(project, service, instance),
        Mode::Swarm => service_name(project, service),
    }
}

/// The project's network, on which services reach each other by name: a bridge on one
/// engine, an overlay on a swarm (named apart, since one engine can hold both).
pub fn network_name(project: &str, mode: Mode) -> String {
    match mode {
        Mode::Docker => format!("{}-net", clean(project)),
        Mode::Swarm => format!("{}-overlay", clean(project)),
    }
}

/// The network a project's containers join: berth.yaml's external one, else its own.
pub fn project_network(project: &str, mode: Mode, external: Option<&str>) -> String {
    external.map_or_else(|| network_name(project, mode), String::from)
}

/// `s` with every character Docker does not allow in names made `-`.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}
