//! B3: an image without a tag, or tagged `latest` (Sesam `docker.image`, COSMOS `CONTAINER`).

use crate::lint::{Check, Checker, DocChecker, Docs, Format, Rule, image_is_pinned};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "unpinned-image",
    id: "B3",
    code: "berth::lint::unpinned-image",
    severity: Severity::Warning,
    summary: "image without a tag, or :latest",
    docs: Docs {
        what: "Finds container images named without a tag or with `:latest`: a Sesam microservice's `docker.image` and COSMOS `CONTAINER` lines. An image with a digest (`@sha256:…`) is pinned.",
        why: "`latest` is whatever was pushed last. Sesam pulls the image again on every restart (unless `skip_pull`), so a config change can silently deploy new code, and nobody can tell which version ran.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  CONTAINER ruby:latest",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  CONTAINER ruby:3.3",
    },
    check: Check::both(plugin, document),
};

const HELP: &str = "name a version tag (`:1.2.3`) or a digest (`@sha256:…`)";

fn message(image: &str) -> String {
    if image.rsplit('/').next().unwrap_or(image).contains(':') {
        format!("image `{image}` is tagged latest")
    } else {
        format!("image `{image}` has no tag, so it means latest")
    }
}

fn plugin(c: &mut Checker) {
    for (_, line) in c.plugin.modifier_lines("CONTAINER") {
        let Some(image) = line.params.first() else {
            continue;
        };
        if image_is_pinned(&image.value) {
            continue;
        }
        let p = c
            .problem(image.span, message(&image.value))
            .with_label("whatever was pushed last")
            .with_help(HELP);
        c.emit(p);
    }
}

fn document(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam {
        return;
    }
    let Some(image) = c.get("/docker/image").and_then(|v| v.as_str()) else {
        return;
    };
    // An unresolved reference stands for a tag berth cannot see, and a placeholder
    // (`[..]`, `<image>`) for an image not chosen yet.
    let reference = image
        .chars()
        .all(|ch| ch.is_ascii_alphanumeric() || "._-/:@".contains(ch));
    if image_is_pinned(image) || !reference {
        return;
    }
    let p = c
        .problem(c.value_span("/docker/image"), message(image))
        .with_label("pulled again on every restart")
        .with_help(HELP);
    c.emit(p);
}
