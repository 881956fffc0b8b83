//! What COSMOS's operator gives every microservice it starts, besides the block: its own
//! environment (RUNTIME.md R2), which in attached mode holds the `OPENC3_REDIS_*`
//! variables for the Redis berth writes the entries to, and the variables it sets or
//! takes away itself (`operators/operator.rb`, `microservice_operator.rb`).

use std::collections::BTreeMap;

use crate::compile::interpolate;
use crate::config::{Cosmos, Redis};
use crate::model::{Service, Text};

/// Where the operator points a plugin that needs dependencies.
const GEM_HOME: &str = "/gems";
const PYTHONUSERBASE: &str = "/gems/python_packages";

/// Gives a COSMOS service the variables as the operator starts its process: `operator`
/// (its own environment) under the block's ENV, Bundler's taken away; then the
/// dependency variables over the block's ENV (set when the plugin needs dependencies,
/// else taken away), and `RUBYOPT` taken away. `OPENC3_MICROSERVICE_NAME` and
/// `OPENC3_SCOPE` are the front end's; SECRET ENV values are filled in over them.
/// Variables the image itself sets stay: a container cannot unset them.
pub fn start_with(service: &mut Service, operator: &BTreeMap<String, Text>, needs_dependencies: bool) {
    for (name, value) in operator {
        // The operator keeps Bundler's settings to itself.
        if !name.starts_with("BUNDLER") {
            service.env.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    let env = &mut service.env;
    if needs_dependencies {
        env.insert("GEM_HOME".into(), Text::literal(GEM_HOME));
        env.insert("PYTHONUSERBASE".into(), Text::literal(PYTHONUSERBASE));
        match operator.get("PYTHONPATH") {
            Some(path) => env.insert("PYTHONPATH".into(), path.clone()),
            None => env.remove("PYTHONPATH"),
        };
    } else {
        for name in ["GEM_HOME", "PYTHONUSERBASE", "PYTHONPATH"] {
            env.remove(name);
        }
    }
    env.remove("RUBYOPT");
}

/// The operator's environment: the `OPENC3_REDIS_*` variables of `cosmos.redis`, with
/// `cosmos.env` over them (an address that differs inside the containers).
pub fn environment(cosmos: &Cosmos) -> BTreeMap<String, Text> {
    let mut env = BTreeMap::new();
    if let Some(redis) = &cosmos.redis {
        env.extend(redis_variables(redis));
    }
    for (name, value) in &cosmos.env {
        env.insert(name.clone(), interpolate::credential(name, &value.0));
    }
    env
}

/// What the `openc3` libraries read to reach Redis (`OPENC3_REDIS_*`: host and port of
/// the main and the ephemeral store, the ACL user and password).
fn redis_variables(redis: &Redis) -> Vec<(String, Text)> {
    let mut out = Vec::new();
    let mut address = |prefix: &str, url: &str| {
        if let Some((host, port)) = host_and_port(url) {
            out.push((format!("{prefix}_HOSTNAME"), Text::literal(host)));
            out.push((format!("{prefix}_PORT"), Text::literal(port.to_string())));
        }
    };
    address("OPENC3_REDIS", &redis.url);
    address(
        "OPENC3_REDIS_EPHEMERAL",
        redis.ephemeral_url.as_deref().unwrap_or(&redis.url),
    );
    if let Some(user) = &redis.username {
        out.push(("OPENC3_REDIS_USERNAME".into(), Text::literal(user.as_str())));
    }
    if let Some(password) = &redis.password {
        out.push((
            "OPENC3_REDIS_PASSWORD".into(),
            interpolate::credential("OPENC3_REDIS_PASSWORD", password),
        ));
    }
    out
}

/// The host and port of a `redis://` URL (berth.yaml's schema checked its form).
pub fn host_and_port(url: &str) -> Option<(String, u16)> {
    let url = url::Url::parse(url).ok()?;
    Some((url.host_str()?.to_string(), url.port().unwrap_or(6379)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Scalar;

    #[test]
    fn the_operator_sets_and_takes_away_what_it_does() {
        let mut service = crate::model::fixtures::service("s");
        for (k, v) in [
            ("GEM_HOME", "mine"),
            ("PYTHONPATH", "mine"),
            ("RUBYOPT", "-rbundler"),
            ("KEEP", "block"),
        ] {
            service.env.insert(k.into(), Text::literal(v));
        }
        let operator: BTreeMap<String, Text> = [
            ("BUNDLER_GEMFILE", "x"),
            ("KEEP", "operator"),
            ("PYTHONPATH", "/op"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Text::literal(v)))
        .collect();
        let shown = |s: &Service| -> BTreeMap<String, String> {
            s.env.iter().map(|(k, v)| (k.clone(), v.to_string())).collect()
        };
        let mut plain = service.clone();
        start_with(&mut plain, &operator, false);
        let without: Vec<String> = shown(&plain).into_keys().collect();
        assert!(
            !without
                .iter()
                .any(|k| ["GEM_HOME", "PYTHONPATH", "RUBYOPT", "BUNDLER_GEMFILE"].contains(&k.as_str())),
            "{without:?}"
        );
        assert_eq!(shown(&plain)["KEEP"], "block");
        start_with(&mut service, &operator, true);
        let env = shown(&service);
        assert_eq!(env["GEM_HOME"], "/gems");
        assert_eq!(env["PYTHONUSERBASE"], "/gems/python_packages");
        assert_eq!(env["PYTHONPATH"], "/op", "the operator's own, over the block's");
    }

    #[test]
    fn the_operator_environment_gives_redis_and_lets_cosmos_env_win() {
        let cosmos = Cosmos {
            redis: Some(Redis {
                url: "redis://127.0.0.1:7000".into(),
                username: Some("openc3".into()),
                password: Some("$SECRET(redis_pw)".into()),
                ephemeral_url: None,
            }),
            env: [("OPENC3_REDIS_HOSTNAME".to_string(), Scalar("redis".into()))].into(),
            ..Cosmos::default()
        };
        let env = environment(&cosmos);
        let shown: BTreeMap<&str, String> = env.iter().map(|(k, v)| (k.as_str(), v.to_string())).collect();
        assert_eq!(
            shown,
            BTreeMap::from([
                ("OPENC3_REDIS_EPHEMERAL_HOSTNAME", "127.0.0.1".to_string()),
                ("OPENC3_REDIS_EPHEMERAL_PORT", "7000".to_string()),
                ("OPENC3_REDIS_HOSTNAME", "redis".to_string()),
                ("OPENC3_REDIS_PASSWORD", "<secret:redis_pw>".to_string()),
                ("OPENC3_REDIS_PORT", "7000".to_string()),
                ("OPENC3_REDIS_USERNAME", "openc3".to_string()),
            ])
        );
        assert_eq!(host_and_port("redis://r"), Some(("r".into(), 6379)));
    }
}
