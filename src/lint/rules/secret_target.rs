//! P9: where a SECRET puts its value: a FILE path that is not absolute, two ENV secrets
//! for one variable, or an ENV secret for a variable that ENV also sets.

use crate::lint::{Check, Checker, Docs, Rule, repeats};
use crate::parse::plugin_txt::Token;
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "secret-target",
    id: "P9",
    code: "berth::lint::secret-target",
    severity: Severity::Warning,
    summary: "SECRET FILE path not absolute, or SECRET ENV variable set twice",
    docs: Docs {
        what: "Checks the third parameter of each SECRET: a FILE secret's path must be absolute; within a block, no two ENV secrets may set the same variable, and no ENV line may set a variable that an ENV secret sets.",
        why: "The operator writes FILE secrets relative to its own working directory, not the microservice's. When two things set one variable only one wins: the later secret, or the secret over the ENV line, which then has no effect.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  ENV API_TOKEN changeme\n  SECRET ENV API_TOKEN API_TOKEN\n  SECRET FILE TLS_CERT certs/tls.pem",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  SECRET ENV API_TOKEN API_TOKEN\n  SECRET FILE TLS_CERT /tmp/certs/tls.pem",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    let plugin = c.plugin;
    for block in plugin.blocks.iter().filter(|b| b.kind.is_deployed()) {
        // (type, target) of each SECRET with all three parameters.
        let secrets: Vec<(&Token, &Token)> = plugin
            .modifiers_named(block, "SECRET")
            .filter_map(|l| Some((l.params.first()?, l.params.get(2)?)))
            .collect();
        for &(kind, path) in &secrets {
            if kind.value == "FILE" && !path.value.starts_with('/') {
                let p = c
                    .problem(path.span, format!("secret file path `{}` is not absolute", path.value))
                    .with_label("relative to the operator, not the microservice")
                    .with_help(format!(
                        "the operator writes the file from its own working directory; give an absolute path such as `/tmp/{}`",
                        path.value.trim_start_matches("./")
                    ));
                c.emit(p);
            }
        }
        let env_targets: Vec<&Token> = secrets
            .iter()
            .filter(|(kind, _)| kind.value == "ENV")
            .map(|&(_, target)| target)
            .collect();
        for (first, again) in repeats(env_targets.iter().map(|t| (t.value.as_str(), *t))) {
            let p = c
                .repeated(
                    first.span,
                    again.span,
                    "set",
                    format!("two secrets set `{}`; the last one wins", again.value),
                )
                .with_help("give each secret its own environment variable, or remove one");
            c.emit(p);
        }
        for env in plugin.modifiers_named(block, "ENV") {
            let Some(key) = env.params.first() else {
                continue;
            };
            if let Some(secret) = env_targets.iter().rfind(|t| t.value == key.value) {
                let p = c
                    .problem(
                        key.span,
                        format!("`{}` is set by both ENV and a secret", key.value),
                    )
                    .with_label("overridden by the secret")
                    .with_related(secret.span, "the secret's value wins")
                    .with_help(
                        "the operator sets secrets after ENV, so this ENV line has no effect; remove it",
                    );
                c.emit(p);
            }
        }
    }
}
