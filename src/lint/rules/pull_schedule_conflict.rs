//! S13: `docker.skip_pull: true` together with `docker.pull_image_cron_expression`.

use serde_json::Value;

use crate::lint::{Check, DocChecker, Docs, Format, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "pull-schedule-conflict",
    id: "S13",
    code: "berth::lint::pull-schedule-conflict",
    severity: Severity::Warning,
    summary: "skip_pull together with a pull schedule",
    docs: Docs {
        what: "Finds a Sesam microservice system whose `docker` has `skip_pull: true` and also a `pull_image_cron_expression`.",
        why: "`skip_pull` says never to pull the image again, the cron expression says when to check for a newer one. Sesam does not document which wins, so one of the two settings is not doing what its author meant.",
        example: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"skip_pull\": true, \"pull_image_cron_expression\": \"0 3 * * *\"}}",
        instead: "{\"_id\": \"example\", \"type\": \"system:microservice\", \"docker\": {\"image\": \"example/service:1.0.0\", \"port\": 5000, \"pull_image_cron_expression\": \"0 3 * * *\"}}",
    },
    check: Check::document(check),
};

fn check(c: &mut DocChecker) {
    if c.doc.format != Format::Sesam
        || c.get("/docker/skip_pull") != Some(&Value::Bool(true))
        || !c
            .get("/docker/pull_image_cron_expression")
            .is_some_and(Value::is_string)
    {
        return;
    }
    let p = c
        .problem(
            c.key_span("/docker/pull_image_cron_expression"),
            "a pull schedule on an image that is never pulled",
        )
        .with_label("schedules pulls")
        .with_related(c.key_span("/docker/skip_pull"), "forbids pulls")
        .with_help("keep `skip_pull` to freeze the image, or the schedule to follow new images, not both");
    c.emit(p);
}
