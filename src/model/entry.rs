//! The entry COSMOS keeps for a MICROSERVICE in Redis — hash `openc3_microservices`,
//! field `SCOPE__USER__NAME` — which the program reads its OPTIONs, TOPICs and
//! TARGET_NAMEs from (RUNTIME.md R5): `MicroserviceModel#as_json`, keys in COSMOS's
//! order and values of COSMOS's types, from the model.

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::model::{DesiredState, Service, Text};

/// The Redis hash of the entries.
pub const HASH: &str = "openc3_microservices";

/// Standalone (no `cosmos.redis`): the variable that gives a MICROSERVICE its entry's
/// JSON, `updated_at` null.
pub const STANDALONE: &str = "BERTH_COSMOS_ENTRY";

/// The key the writer sets to the time of writing (nanoseconds since the epoch).
pub const UPDATED_AT: &str = "updated_at";

/// The entry of a MICROSERVICE (`None` for anything else), with `updated_at` null: the
/// writer sets it. `value` gives an ENV value as it is to appear: the real one, to
/// write, or a digest in a spec.
pub fn entry(service: &Service, value: &dyn Fn(&Text) -> String) -> Option<Map<String, Value>> {
    let c = service.cosmos_microservice()?;
    // A repeated ENV keeps its first place and its last value, as a Ruby Hash does.
    let mut env = Map::new();
    for (name, text) in &c.env {
        env.insert(name.clone(), Value::String(value(text)));
    }
    let options: Vec<Vec<String>> = c.options.iter().map(|o| o.iter().map(value).collect()).collect();
    let ports: Vec<Value> = service
        .ports
        .iter()
        .map(|p| json!([p.number, p.protocol.to_string().to_uppercase()]))
        .collect();
    let entry = json!({
        "name": service.name,
        "folder_name": c.folder,
        "cmd": service.command,
        "work_dir": c.work_dir.as_deref().unwrap_or("."),
        "ports": ports,
        "env": env,
        "topics": c.topics,
        "target_names": c.target_names,
        "options": options,
        "parent": null,
        "container": c.container,
        UPDATED_AT: null,
        "plugin": c.plugin,
        "needs_dependencies": c.needs_dependencies,
        "secrets": c.secrets,
        "prefix": c.route_prefix,
        "disable_erb": c.disable_erb,
        "ignore_changes": null,
        "shard": c.shard,
        "db_shard": c.db_shard,
        "enabled": service.state == DesiredState::Running,
    });
    match entry {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// What tells the configurations of two entries apart: the SHA-256 (hex) of the entry as
/// a spec holds it (`Spec::cosmos`: digests for values named like secrets, no time).
pub fn config_digest(spec_form: &Value) -> String {
    hex::encode(Sha256::digest(spec_form.to_string()))
}

/// What tells one written entry from another: the SHA-256 (hex) of its JSON without
/// `updated_at`, which changes with every write.
pub fn digest(entry: &Map<String, Value>) -> String {
    let mut entry = entry.clone();
    entry.shift_remove(UPDATED_AT);
    hex::encode(Sha256::digest(Value::Object(entry).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::cosmos::install::{InstallOptions, install};
    use crate::source::SourceFile;

    #[test]
    fn the_entry_is_what_cosmos_writes_for_the_block() {
        let text = "MICROSERVICE BACKGROUND background\n  CMD python background.py\n  OPTION PERIOD 30\n  OPTION API_TOKEN t0k3n\n  ENV B 2\n  ENV A 1\n  ENV B 3\n  PORT 8080\n  TOPIC T\n  TARGET_NAME inst\n  SECRET ENV USER_PW PW\n  ROUTE_PREFIX /bg\n  SHARD 1\n";
        let file = SourceFile::new("plugin.txt", text);
        let options = InstallOptions::default();
        let (plugin, _) = install(&file, &options);
        let service = crate::compile::cosmos::lower::lower(&plugin, &options).remove(0);
        let entry = entry(&service, &|t| t.to_string()).expect("a microservice");
        // Key order, values and types as MicroserviceModel#as_json and JSON.generate.
        assert_eq!(
            Value::Object(entry.clone()).to_string(),
            concat!(
                r#"{"name":"DEFAULT__USER__BACKGROUND","folder_name":"BACKGROUND","#,
                r#""cmd":["/openc3/python/.venv/bin/python","background.py"],"work_dir":".","#,
                r#""ports":[[8080,"TCP"]],"env":{"B":"3","A":"1"},"topics":["T"],"#,
                r#""target_names":["INST"],"options":[["PERIOD","30"],["API_TOKEN","<redacted>"]],"parent":null,"#,
                r#""container":null,"updated_at":null,"plugin":"","needs_dependencies":false,"#,
                r#""secrets":[["ENV","USER_PW","PW"]],"prefix":"/bg","disable_erb":null,"#,
                r#""ignore_changes":null,"shard":1,"db_shard":0,"enabled":true}"#
            )
        );
        let mut later = entry.clone();
        later.insert(UPDATED_AT.into(), json!(1_796_506_129_863_123_000_u64));
        assert_eq!(
            digest(&later),
            digest(&entry),
            "the time of writing is not compared"
        );
    }
}
