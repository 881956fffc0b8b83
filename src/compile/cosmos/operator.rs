//! What COSMOS's operator gives every microservice it starts, besides the block: its own
//! environment (RUNTIME.md R2), which in attached mode holds the `OPENC3_REDIS_*`
//! variables for the Redis berth writes the entries to.

use std::collections::BTreeMap;

use crate::compile::interpolate;
use crate::config::{Cosmos, Redis};
use crate::model::Text;

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
