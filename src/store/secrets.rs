//! Secret values, looked up through berth.yaml's providers (environment variables with a
//! prefix, or one file per secret in a folder), and the keyed digests that stand for
//! them in specs, labels and plans. Values never leave this module except to become a
//! container's environment or files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::config::SecretProvider;
use crate::model::canonical::Digests;
use crate::model::{Model, Piece, SecretDelivery, Service, Text};
use crate::secret::Secret;
use crate::store::state::State;

/// The secrets a model uses, with their values where a provider has one.
#[derive(Debug)]
pub struct Secrets {
    values: BTreeMap<String, Option<Secret<String>>>,
    state: State,
}

impl Secrets {
    /// Looks up every secret `model` names. Folder providers are relative to `root`.
    pub fn resolve(model: &Model, providers: &[SecretProvider], root: &Path, state: State) -> Secrets {
        let values = names(model)
            .into_iter()
            .map(|name| {
                let value = find(providers, &name, root).map(Secret::new);
                (name, value)
            })
            .collect();
        Secrets { values, state }
    }

    /// Secrets that no provider has a value for.
    pub fn missing(&self) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| k.as_str())
    }

    /// `text` with every known secret's value replaced by `(secret NAME)`: for what a
    /// failed step says (a container's last lines may print its configuration) before it
    /// reaches the journal, the terminal or a notification.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_string();
        // Longest first: a value inside another is replaced within it last.
        let mut values: Vec<(&String, &str)> = self
            .values
            .iter()
            .filter_map(|(name, value)| Some((name, value.as_ref()?.expose().as_str())))
            .filter(|(_, value)| !value.is_empty())
            .collect();
        values.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
        for (name, value) in values {
            text = text.replace(value, &format!("(secret {name})"));
        }
        text
    }

    /// The value of secret `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name)?.as_ref().map(|v| v.expose().as_str())
    }
}

impl Digests for Secrets {
    fn secret(&self, name: &str) -> String {
        match self.value(name) {
            Some(v) => self.state.digest(format!("secret\0{name}\0{v}").as_bytes()),
            None => "unset".to_string(),
        }
    }

    fn value(&self, value: &str) -> String {
        self.state.digest(format!("value\0{value}").as_bytes())
    }
}

/// Every secret name a model refers to.
fn names(model: &Model) -> BTreeSet<String> {
    model
        .services
        .iter()
        .flat_map(|s| s.secret_names().map(String::from))
        .collect()
}

/// The value of one secret from the first provider that has it. Folder providers are
/// relative to `root`.
pub fn find(providers: &[SecretProvider], name: &str, root: &Path) -> Option<String> {
    providers.iter().find_map(|p| lookup(p, name, root))
}

fn lookup(provider: &SecretProvider, name: &str, root: &Path) -> Option<String> {
    match provider {
        SecretProvider::Env { prefix } => std::env::var(format!("{prefix}{name}")).ok(),
        SecretProvider::Dir { path } => {
            // A name is one path component: `../x` must not read outside the folder.
            if name.contains(['/', '\\']) || name.starts_with('.') {
                return None;
            }
            std::fs::read_to_string(root.join(path).join(name))
                .ok()
                .map(|v| v.strip_suffix('\n').unwrap_or(&v).to_string())
        }
    }
}

impl Secrets {
    /// A service's environment with real values, for creating its container: secret
    /// references filled in, secret env deliveries added. `None` names a missing secret.
    pub fn environment(&self, service: &Service) -> Result<BTreeMap<String, String>, String> {
        let mut env = BTreeMap::new();
        for (key, text) in &service.env {
            env.insert(key.clone(), self.render(text)?);
        }
        for s in &service.secrets {
            if let SecretDelivery::Env { variable } = &s.delivery {
                env.insert(variable.clone(), self.require(&s.name)?.to_string());
            }
        }
        Ok(env)
    }

    /// A text with its secrets filled in; `Err` names a missing secret.
    pub fn render(&self, text: &Text) -> Result<String, String> {
        let mut value = String::new();
        for piece in &text.0 {
            match piece {
                Piece::Literal(s) => value.push_str(s),
                Piece::Sensitive(s) => value.push_str(s.expose()),
                Piece::Secret(name) => value.push_str(self.require(name)?),
                Piece::SecretInJson(name) => {
                    // Inside a JSON string: escaped as JSON, without the quotes.
                    let quoted = serde_json::to_string(self.require(name)?).unwrap_or_default();
                    value.push_str(&quoted[1..quoted.len() - 1]);
                }
            }
        }
        Ok(value)
    }

    /// The value of a secret that must have one; `Err` is its name.
    pub fn require(&self, name: &str) -> Result<&str, String> {
        self.value(name).ok_or_else(|| name.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SecretProvider;

    #[test]
    fn a_failure_is_scrubbed_of_every_known_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("vault")).unwrap();
        std::fs::write(dir.path().join("vault/token"), "hunter2-long").unwrap();
        std::fs::write(dir.path().join("vault/short"), "hunter2").unwrap();
        let mut service = crate::model::fixtures::service("web");
        for name in ["token", "short"] {
            service.env.insert(
                name.to_uppercase(),
                crate::compile::interpolate::secret_text(&format!("$SECRET({name})")),
            );
        }
        let model = Model {
            services: vec![service],
        };
        let providers = [SecretProvider::Dir { path: "vault".into() }];
        let state = State::open(&dir.path().join("state")).unwrap();
        let secrets = Secrets::resolve(&model, &providers, dir.path(), state);
        assert_eq!(
            secrets.scrub("start failed; its last lines: TOKEN=hunter2-long | SHORT=hunter2"),
            "start failed; its last lines: TOKEN=(secret token) | SHORT=(secret short)"
        );
    }
}
