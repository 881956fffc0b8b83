//! `ast::Plugin` → `model::Service`: MICROSERVICE, INTERFACE and ROUTER blocks become
//! services with COSMOS's defaults and runtime conventions (FORMATS.md §1.6, §1.7, §1.9).
//! Lines that break a rule are skipped here; the lint rules report them.

use std::collections::BTreeMap;

use crate::ast::{Block, Plugin};
use crate::compile::cosmos::install::InstallOptions;
use crate::formats::cosmos::keywords::{self, BlockKind};
use crate::formats::cosmos::service_name;
use crate::formats::cosmos::values::{is_nil_like, ruby_integer};
use crate::model::{
    CosmosKind, CosmosService, DesiredState, Origin, Platform, Port, Protocol, Secret, SecretDelivery,
    Service, Stop, Text, looks_secret,
};
use crate::parse::plugin_txt::Token;
use crate::source::Span;

/// The node label a COSMOS `SHARD n` is placed by: `node.labels.berth.shard==n`.
pub const SHARD_LABEL: &str = "berth.shard";

/// Where COSMOS images keep their Python interpreter (`$OPENC3_PYTHON_BIN`'s default).
pub const PYTHON_BIN: &str = "/openc3/python/.venv/bin/python";

/// The services a plugin deploys.
pub fn lower(plugin: &Plugin, options: &InstallOptions) -> Vec<Service> {
    plugin
        .blocks
        .iter()
        .filter(|b| b.kind.is_deployed())
        .filter_map(|b| lower_block(plugin, b, options.scope()))
        .collect()
}

fn lower_block(plugin: &Plugin, block: &Block, scope: &str) -> Option<Service> {
    let header = plugin.header(block);
    let (_, spec) = keywords::top_level(&header.keyword)?;
    if !spec.accepts(header.params.len()) {
        return None;
    }
    let origin = |span: Span| {
        let (line, column) = plugin.file.line_col(span.start);
        Origin {
            file: plugin.file.name().to_string(),
            line,
            column,
        }
    };
    let (folder, name_token, kind) = match block.kind {
        BlockKind::Microservice => (&header.params[0], &header.params[1], CosmosKind::Microservice),
        BlockKind::Interface => (&header.params[1], &header.params[0], CosmosKind::Interface),
        BlockKind::Router => (&header.params[1], &header.params[0], CosmosKind::Router),
        _ => return None,
    };
    let name = service_name(scope, block.kind, &name_token.value);
    let mut sources = BTreeMap::new();
    let mut service = Service::new(
        name.clone(),
        origin(header.keyword_span),
        // Filled in below, once the block's modifiers are read.
        Platform::Cosmos(CosmosService::default()),
    );
    let mut cosmos = CosmosService {
        kind,
        scope: scope.to_string(),
        folder: folder.value.to_string(),
        params: match kind {
            CosmosKind::Microservice => Vec::new(),
            _ => header.params[2..].iter().map(|t| t.value.to_string()).collect(),
        },
        topics: Vec::new(),
        target_names: Vec::new(),
        options: Vec::new(),
        route_prefix: None,
        shard: 0,
        db_shard: 0,
        disable_erb: None,
        ..CosmosService::default()
    };

    for line in plugin.modifiers(block) {
        let Some(spec) = keywords::modifier(block.kind, &line.keyword) else {
            continue;
        };
        if !spec.accepts(line.params.len()) {
            continue;
        }
        let p = &line.params;
        let here = origin(line.keyword_span);
        match line.keyword.as_str() {
            "ENV" => {
                sources.insert(format!("env.{}", p[0].value), here.clone());
                sources.insert(format!("cosmos.env.{}", p[0].value), here);
                // An ENV named like a secret is used but never shown.
                let text = Text::literal(p[1].value.as_str());
                let text = if looks_secret(&p[0].value) {
                    text.sensitive()
                } else {
                    text
                };
                service.env.insert(p[0].value.to_string(), text.clone());
                // A Ruby Hash: a repeated name keeps its first place.
                match cosmos.env.iter_mut().find(|(name, _)| *name == p[0].value) {
                    Some((_, value)) => *value = text,
                    None => cosmos.env.push((p[0].value.to_string(), text)),
                }
            }
            "WORK_DIR" => {
                sources.insert("working_dir".into(), here.clone());
                sources.insert("cosmos.work_dir".into(), here);
                service.working_dir = Some(p[0].value.to_string());
                cosmos.work_dir = Some(p[0].value.to_string());
            }
            "PORT" => {
                if let Some(port) = port(p) {
                    sources.insert(format!("ports[{}]", service.ports.len()), here);
                    service.ports.push(port);
                }
            }
            "CMD" => {
                sources.insert("command".into(), here);
                service.command = command(block.kind, p);
            }
            "CONTAINER" => {
                sources.insert("image".into(), here);
                service.image = Some(p[0].value.to_string());
                cosmos.container = Some(p[0].value.to_string());
            }
            "SECRET" => {
                // Stored as written, the store only when it is given (MicroserviceModel).
                let stored = if p.get(3).is_some_and(|s| !is_nil_like(&s.value)) {
                    4
                } else {
                    3
                };
                cosmos.secrets.push(values(&p[..stored.min(p.len())]));
                // The operator sets OPENC3_SCOPE and takes RUBYOPT away after the
                // secrets, so a secret for either never reaches the program (R3).
                if let Some(secret) = secret(block.kind, p).filter(|s| {
                    !matches!(&s.delivery, SecretDelivery::Env { variable } if variable == "OPENC3_SCOPE" || variable == "RUBYOPT")
                }) {
                    sources.insert(format!("secrets[{}]", service.secrets.len()), here);
                    service.secrets.push(secret);
                }
            }
            "STOPPED" => {
                sources.insert("state".into(), here);
                service.state = DesiredState::Stopped;
            }
            "TOPIC" => {
                sources.insert("cosmos.topics".into(), here);
                cosmos.topics.push(p[0].value.to_string());
            }
            "TARGET_NAME" => {
                sources.insert("cosmos.target_names".into(), here);
                cosmos.target_names.push(p[0].value.to_uppercase().into());
            }
            "OPTION" => {
                sources.insert("cosmos.options".into(), here);
                let secret = looks_secret(&p[0].value);
                cosmos.options.push(
                    p.iter()
                        .enumerate()
                        .map(|(i, t)| {
                            let text = Text::literal(t.value.as_str());
                            if secret && i > 0 { text.sensitive() } else { text }
                        })
                        .collect(),
                );
            }
            "ROUTE_PREFIX" => {
                sources.insert("cosmos.prefix".into(), here);
                cosmos.route_prefix = Some(p[0].value.to_string());
            }
            "SHARD" => {
                cosmos.shard = ruby_integer(&p[0].value).unwrap_or(cosmos.shard);
                // COSMOS runs a shard's microservices on that shard's operator; on a
                // swarm, the nodes labelled with it.
                sources.insert("placement".into(), here);
                service.placement = vec![format!("node.labels.{SHARD_LABEL}=={}", cosmos.shard)];
            }
            "DB_SHARD" => cosmos.db_shard = ruby_integer(&p[0].value).unwrap_or(cosmos.db_shard),
            "DISABLE_ERB" => {
                // Where a pattern that cannot be read is reported.
                sources.entry("disable_erb".into()).or_insert(here);
                cosmos.disable_erb.get_or_insert_with(Vec::new).extend(values(p));
            }
            _ => {}
        }
    }

    if block.kind != BlockKind::Microservice {
        interface_defaults(&mut service, &cosmos, &name);
    } else if service.working_dir.is_none() {
        // Resolved once the folder's files are known (`files::place`).
        service.working_dir = Some(".".into());
    }
    // The operator sets these after ENV, so they always win (FORMATS.md §1.9); SECRET
    // ENV values go in after OPENC3_MICROSERVICE_NAME (canonical::canonical).
    service
        .env
        .insert("OPENC3_MICROSERVICE_NAME".into(), Text::literal(name));
    service.env.insert("OPENC3_SCOPE".into(), Text::literal(scope));
    // The operator stops a microservice with SIGINT and kills it 5 s later (R8).
    service.stop = Some(Stop {
        signal: "SIGINT".into(),
        grace_seconds: 5,
    });
    service.sources = sources;
    service.platform = Platform::Cosmos(cosmos);
    Some(service)
}

/// INTERFACE and ROUTER run COSMOS's own interface microservice unless CMD says otherwise.
fn interface_defaults(service: &mut Service, cosmos: &CosmosService, name: &str) {
    let python = cosmos.folder.ends_with(".py");
    if service.working_dir.is_none() {
        let dir = if python {
            "/openc3/python/openc3/microservices"
        } else {
            "/openc3/lib/openc3/microservices"
        };
        service.working_dir = Some(dir.into());
    }
    if service.command.is_empty() {
        let kind = match cosmos.kind {
            CosmosKind::Router => "router",
            _ => "interface",
        };
        service.command = if python {
            vec![PYTHON_BIN.into(), format!("{kind}_microservice.py"), name.into()]
        } else {
            vec!["ruby".into(), format!("{kind}_microservice.rb"), name.into()]
        };
    }
}

fn values(params: &[Token]) -> Vec<String> {
    params.iter().map(|t| t.value.to_string()).collect()
}

/// MICROSERVICE's CMD swaps a bare `python`/`python3.x` for COSMOS's interpreter, and
/// splits a quoted `"python script.py"` in two (FORMATS.md §1.6).
fn command(kind: BlockKind, params: &[Token]) -> Vec<String> {
    let mut argv = values(params);
    if kind != BlockKind::Microservice {
        return argv;
    }
    if is_python(&argv[0]) {
        argv[0] = PYTHON_BIN.into();
    } else if let Some((first, rest)) = argv[0].split_once(' ')
        && is_python(first)
    {
        let rest = rest.to_string();
        argv.splice(0..1, [PYTHON_BIN.to_string(), rest]);
    }
    argv
}

/// `^python3?(\.\d+)*$`
fn is_python(word: &str) -> bool {
    let Some(rest) = word.strip_prefix("python") else {
        return false;
    };
    let rest = rest.strip_prefix('3').unwrap_or(rest);
    rest.split('.')
        .skip(1)
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        && (rest.is_empty() || rest.starts_with('.'))
}

fn port(params: &[Token]) -> Option<Port> {
    let number = u16::try_from(ruby_integer(&params[0].value)?)
        .ok()
        .filter(|&n| n > 0)?;
    let protocol = match params.get(1).map(|t| t.value.to_ascii_uppercase()) {
        None => Protocol::Tcp,
        Some(p) if is_nil_like(&p) => Protocol::Tcp,
        Some(p) if p == "TCP" => Protocol::Tcp,
        Some(p) if p == "UDP" => Protocol::Udp,
        Some(p) if p == "SCTP" => Protocol::Sctp,
        Some(_) => return None,
    };
    // COSMOS Core runs every microservice in one operator container, reachable from the
    // host; berth gives each its own container and publishes the port to keep that.
    Some(Port {
        number,
        protocol,
        host: Some(number),
    })
}

/// MICROSERVICE: `SECRET type name target [store]`; INTERFACE/ROUTER:
/// `SECRET type name target [option_name] [store]`. Only the exact types work at runtime.
fn secret(kind: BlockKind, params: &[Token]) -> Option<Secret> {
    let store_index = if kind == BlockKind::Microservice { 3 } else { 4 };
    let store = params
        .get(store_index)
        .map(|t| t.value.to_string())
        .filter(|s| !is_nil_like(s));
    let target = params[2].value.to_string();
    let delivery = match params[0].value.as_str() {
        "ENV" => SecretDelivery::Env { variable: target },
        "FILE" => SecretDelivery::File { path: target },
        _ => return None,
    };
    Some(Secret {
        name: params[1].value.to_string(),
        delivery,
        store,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_words() {
        for yes in ["python", "python3", "python3.11", "python3.11.2", "python.1"] {
            assert!(is_python(yes), "{yes}");
        }
        for no in ["python3.", "python3x", "pythonista", "ruby", "python3..1"] {
            assert!(!is_python(no), "{no}");
        }
    }
}
