//! The labels berth puts on everything it creates (DESIGN.md §3), and how an observed
//! container's labels are read back into an `Owner`. Pure: maps in, maps out.

use std::collections::{BTreeMap, HashMap};

use crate::live::Owner;
use crate::model::canonical::Spec;
use crate::model::{Origin, Resources};

pub const MANAGED_BY: &str = "berth.managed-by";
pub const PROJECT: &str = "berth.project";
pub const SERVICE: &str = "berth.service";
pub const INSTANCE: &str = "berth.instance";
pub const SOURCE: &str = "berth.source";
pub const SPEC_HASH: &str = "berth.spec-hash";
pub const SPEC: &str = "berth.spec";
pub const COMMIT: &str = "berth.commit";
/// On a Swarm service: the image ID its tasks are made from (a container has its own).
pub const IMAGE_ID: &str = "berth.image-id";
/// On a Swarm secret: the name of the secret in berth's configuration.
pub const SECRET: &str = "berth.secret";

/// Who is creating: this berth installation, for which project, from which commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The installation id from berth's state directory.
    pub installation: String,
    pub project: String,
    /// The commit the desired state was read from, when it came from git.
    pub commit: Option<String>,
}

impl Identity {
    /// The labels every object of the project carries.
    pub fn base(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            (MANAGED_BY.to_string(), self.installation.clone()),
            (PROJECT.to_string(), self.project.clone()),
        ]);
        if let Some(commit) = &self.commit {
            labels.insert(COMMIT.to_string(), commit.clone());
        }
        labels
    }

    /// A container's labels: the service's own, then berth's (which win).
    pub fn container(
        &self,
        service: &str,
        instance: u32,
        spec: &Spec,
        hash: &str,
        origin: Option<&Origin>,
    ) -> BTreeMap<String, String> {
        let mut labels = spec.labels.clone();
        labels.extend(self.base());
        labels.insert(SERVICE.to_string(), service.to_string());
        labels.insert(INSTANCE.to_string(), instance.to_string());
        labels.insert(SPEC_HASH.to_string(), hash.to_string());
        // Serialising plain data with string keys cannot fail.
        labels.insert(SPEC.to_string(), serde_json::to_string(spec).unwrap_or_default());
        if let Some(origin) = origin {
            labels.insert(SOURCE.to_string(), format!("{}:{}", origin.file, origin.line));
        }
        labels
    }

    /// Whether labels mark an object of this project made by another berth installation.
    pub fn foreign(&self, labels: &HashMap<String, String>) -> bool {
        labels.get(PROJECT) == Some(&self.project)
            && labels.get(MANAGED_BY).is_some_and(|by| by != &self.installation)
    }

    /// Whether labels mark an object of this installation and project.
    pub fn owns(&self, labels: &HashMap<String, String>) -> bool {
        labels.get(MANAGED_BY) == Some(&self.installation) && labels.get(PROJECT) == Some(&self.project)
    }

    /// What an owned container's labels say; `None` when they are not ours or are
    /// incomplete (then the container is treated as unmanaged and never touched).
    pub fn owner(
        &self,
        labels: &HashMap<String, String>,
        image_id: &str,
        resources: Resources,
    ) -> Option<Owner> {
        if !self.owns(labels) {
            return None;
        }
        Some(Owner {
            project: self.project.clone(),
            service: labels.get(SERVICE)?.clone(),
            instance: labels.get(INSTANCE)?.parse().ok()?,
            spec_hash: labels.get(SPEC_HASH)?.clone(),
            spec: labels.get(SPEC).and_then(|s| serde_json::from_str(s).ok()),
            image_id: image_id.to_string(),
            commit: labels.get(COMMIT).cloned(),
            resources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::canonical::canonical;
    use crate::model::fixtures::{self, FakeDigests};

    #[test]
    fn labels_read_back_into_the_owner() {
        let id = Identity {
            installation: "inst".into(),
            project: "p".into(),
            commit: Some("abc".into()),
        };
        let service = fixtures::service("svc");
        let spec = canonical(&service, "img", &FakeDigests);
        let labels: HashMap<String, String> = id
            .container("svc", 2, &spec, "v1:x", Some(&service.origin))
            .into_iter()
            .collect();
        let owner = id.owner(&labels, "sha256:i", Resources::default()).expect("ours");
        assert_eq!((owner.service.as_str(), owner.instance), ("svc", 2));
        assert_eq!(owner.spec.as_ref(), Some(&spec));
        assert_eq!(labels[COMMIT], "abc");

        let other = Identity {
            installation: "someone-else".into(),
            ..id.clone()
        };
        assert!(
            other.owner(&labels, "sha256:i", Resources::default()).is_none(),
            "another installation's"
        );
        let mut broken = labels.clone();
        broken.remove(INSTANCE);
        assert!(
            id.owner(&broken, "", Resources::default()).is_none(),
            "incomplete labels are not ours"
        );
    }
}
