//! Test fixtures for the pure core: a minimal service and fake secret digests, shared by
//! the canonical-spec, diff and plan tests.

use crate::model::canonical::Digests;
use crate::model::{Origin, Platform, Service, SesamService, Text};

/// Digests that name what they digest, so tests can read them.
pub struct FakeDigests;

impl Digests for FakeDigests {
    fn secret(&self, name: &str) -> String {
        format!("d({name})")
    }
    fn value(&self, value: &str) -> String {
        format!("d{}", value.len())
    }
}

/// A running Sesam service `name` on image `demo:1` with `LOG=info`.
pub fn service(name: &str) -> Service {
    let mut s = Service::new(
        name,
        Origin {
            file: "f".into(),
            line: 1,
            column: 1,
        },
        Platform::Sesam(SesamService {
            id: name.into(),
            use_https: false,
            verify_ssl: false,
            eager_load: true,
            connect_timeout_seconds: 60,
            read_timeout_seconds: 1800,
            authentication: None,
        }),
    );
    s.image = Some("demo:1".into());
    s.env.insert("LOG".into(), Text::literal("info"));
    s
}
