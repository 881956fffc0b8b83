//! The registry: every lint rule, in FORMATS.md order (berth's own `B` rules beside
//! their closest kin). A tidy test checks that each file
//! here is listed, documented and has fixtures.

use crate::lint::Rule;

mod accidental_continuation;
mod cmd_file_missing;
mod api_version;
mod continuation_at_eof;
mod continuation_blank_line;
mod deprecated_keyword;
mod deprecated_sesam_property;
mod disable_erb_mixed;
mod dns_unfriendly_id;
mod duplicate_name;
mod enterprise_only;
mod env_name;
mod env_overwritten;
mod erb_in_comment;
mod erb_in_variable;
mod erb_line_numbers;
mod few_replicas;
mod id_file_name;
mod ignored_credentials;
mod invalid_integer;
mod json_encoded_env;
mod kubernetes_name;
mod manifest_probes;
mod manifest_settings;
mod map_target_order;
mod memory_below_minimum;
mod misplaced_modifier;
mod missing_cmd;
mod missing_microservice_folder;
mod name_double_underscore;
mod needs_dependencies_in_comment;
mod not_deployed;
mod orphan_variable_modifier;
mod parameter_count;
mod permissions_shape;
mod plaintext_secret;
mod port_protocol;
mod port_range;
mod prometheus_port;
mod pull_schedule_conflict;
mod registry_credentials;
mod removed_keyword;
mod render_partial_name;
mod request_resources_spelling;
mod requests_exceed_limits;
mod reserved_variable;
mod resource_quota;
mod role_name;
mod route_multiple_ports;
mod route_prefix;
mod secret_store_looks_like_option;
mod secret_target;
mod secret_type;
mod settings_category;
mod stray_quote;
mod target_name;
mod undeclared_erb_variable;
mod undocumented_form;
mod unknown_keyword;
mod unknown_manifest_key;
mod unknown_sesam_property;
mod unpinned_image;
mod unusual_integer;
mod variable_name;
mod verify_ssl_without_https;
mod work_dir_without_files;

/// All rules.
pub static RULES: &[&Rule] = &[
    &unknown_keyword::RULE,
    &misplaced_modifier::RULE,
    &parameter_count::RULE,
    &invalid_integer::RULE,
    &unusual_integer::RULE,
    &port_protocol::RULE,
    &secret_type::RULE,
    &secret_store_looks_like_option::RULE,
    &secret_target::RULE,
    &name_double_underscore::RULE,
    &kubernetes_name::RULE,
    &duplicate_name::RULE,
    &target_name::RULE,
    &missing_cmd::RULE,
    &route_prefix::RULE,
    &route_multiple_ports::RULE,
    &env_overwritten::RULE,
    &accidental_continuation::RULE,
    &continuation_blank_line::RULE,
    &continuation_at_eof::RULE,
    &stray_quote::RULE,
    &erb_in_comment::RULE,
    &erb_line_numbers::RULE,
    &erb_in_variable::RULE,
    &reserved_variable::RULE,
    &variable_name::RULE,
    &orphan_variable_modifier::RULE,
    &undeclared_erb_variable::RULE,
    &render_partial_name::RULE,
    &needs_dependencies_in_comment::RULE,
    &map_target_order::RULE,
    &disable_erb_mixed::RULE,
    &enterprise_only::RULE,
    &deprecated_keyword::RULE,
    &not_deployed::RULE,
    &removed_keyword::RULE,
    &undocumented_form::RULE,
    &missing_microservice_folder::RULE,
    &work_dir_without_files::RULE,
    &cmd_file_missing::RULE,
    &api_version::RULE,
    &few_replicas::RULE,
    &requests_exceed_limits::RULE,
    &request_resources_spelling::RULE,
    &manifest_settings::RULE,
    &settings_category::RULE,
    &role_name::RULE,
    &manifest_probes::RULE,
    &prometheus_port::RULE,
    &unknown_manifest_key::RULE,
    &id_file_name::RULE,
    &dns_unfriendly_id::RULE,
    &port_range::RULE,
    &deprecated_sesam_property::RULE,
    &ignored_credentials::RULE,
    &verify_ssl_without_https::RULE,
    &registry_credentials::RULE,
    &resource_quota::RULE,
    &pull_schedule_conflict::RULE,
    &unknown_sesam_property::RULE,
    &json_encoded_env::RULE,
    &env_name::RULE,
    &permissions_shape::RULE,
    &unpinned_image::RULE,
    &plaintext_secret::RULE,
    &memory_below_minimum::RULE,
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::RULES;
    use crate::compile::cosmos::install::{InstallOptions, install};
    use crate::lint::{PluginTree, lint_plugin};
    use crate::problem::Problem;
    use crate::source::SourceFile;

    #[test]
    fn rules_are_named_coded_and_documented() {
        for rule in RULES {
            assert_eq!(rule.code, format!("berth::lint::{}", rule.name), "{}", rule.id);
            let d = &rule.docs;
            for (part, text) in [
                ("summary", rule.summary),
                ("what", d.what),
                ("why", d.why),
                ("example", d.example),
                ("instead", d.instead),
            ] {
                assert!(!text.trim().is_empty(), "{}: empty {part}", rule.name);
            }
        }
    }

    /// What lint reports for a snippet, in a plugin tree with `microservices/example/`
    /// (holding `example.py` and `example.rb`) and an empty `microservices/empty/`.
    fn lint(text: &str) -> Vec<Problem> {
        let file = SourceFile::new("plugin.txt", text);
        let (plugin, _) = install(&file, &InstallOptions::default());
        let file = |path: &str| crate::ast::TreeFile {
            path: path.into(),
            name: format!("microservices/example/{path}"),
            bytes: std::sync::Arc::from(&b""[..]),
        };
        let tree = PluginTree {
            microservices: [
                (
                    "example".to_string(),
                    vec![file("example.py"), file("example.rb")],
                ),
                ("empty".to_string(), Vec::new()),
            ]
            .into(),
            needs_dependencies: false,
        };
        lint_plugin(&plugin, Some(&tree))
    }

    fn codes(text: &str) -> BTreeSet<&'static str> {
        lint(text).iter().map(|p| p.code).collect()
    }

    /// What the front end and the document rules report for a JSON snippet:
    /// a Sesam entity when it says so, else a Cumulocity manifest.
    fn document_codes(text: &str) -> BTreeSet<&'static str> {
        let problems = if text.contains(crate::compile::sesam::MICROSERVICE) {
            // Where the sesam client keeps a system with the examples' `_id`.
            let file = SourceFile::new("systems/example.conf.json", text);
            let (_, mut problems, entities) =
                crate::compile::sesam::compile(&file, None, Some(&Default::default()));
            problems.extend(entities.iter().flat_map(crate::lint::lint_entity));
            problems
        } else {
            let file = SourceFile::new("cumulocity.json", text);
            let manifest = crate::compile::cumulocity::Manifest {
                file: &file,
                image_archive: None,
            };
            let (_, mut problems, entity) =
                crate::compile::cumulocity::compile(&manifest, &Default::default());
            problems.extend(entity.iter().flat_map(crate::lint::lint_entity));
            problems
        };
        problems.iter().map(|p| p.code).collect()
    }

    /// Words that reach every rule's branches: keywords, odd numbers and names, quotes,
    /// continuation characters, comments, ERB and non-ASCII text.
    const WORDS: &[&str] = &[
        "MICROSERVICE",
        "INTERFACE",
        "ROUTER",
        "TARGET",
        "TOOL",
        "WIDGET",
        "SCRIPT_ENGINE",
        "VARIABLE",
        "VARIABLE_DESCRIPTION",
        "VARIABLE_STATE",
        "NEEDS_DEPENDENCIES",
        "PORT",
        "SHARD",
        "DB_SHARD",
        "SECRET",
        "ENV",
        "env",
        "FILE",
        "CMD",
        "ROUTE_PREFIX",
        "MAP_TARGET",
        "DISABLE_ERB",
        "CONTAINER",
        "BRIDGE",
        "WINDOW",
        "SAME",
        "DONT_LOG",
        "PATH",
        "x",
        "X__Y",
        "a_",
        "08",
        "0x1F",
        "-1",
        "70000",
        "\"",
        "'",
        "\"a b\"",
        "a\"b",
        "&",
        "+",
        "\\",
        "#",
        "# c &",
        "é",
        "a\u{a0}b",
        "nil",
        "/p",
        "p",
        "<%= x %>",
        "<%",
        "target_name",
        "Ab-c",
        "[[",
        "{",
        "\t",
        "\r",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]

        /// No rule panics, whatever the file says, and every span can be shown.
        #[test]
        fn rules_never_panic(
            words in proptest::collection::vec(proptest::sample::select(WORDS), 0..80),
            breaks in proptest::collection::vec(proptest::sample::select(&[" ", " ", "\n", "\n\n", ""][..]), 80),
        ) {
            let text: String = words.iter().zip(&breaks).flat_map(|(w, b)| [*w, *b]).collect();
            for p in lint(&text) {
                let spans = p.span.into_iter().chain(p.related.iter().map(|r| r.span));
                for span in spans {
                    proptest::prop_assert!(text.get(span.range()).is_some(), "{}: {span:?} in {text:?}", p.code);
                }
            }
        }
    }

    /// What `--explain` shows is true: the example raises the rule, the fix does not.
    #[test]
    fn doc_examples_raise_their_rule_and_fixes_do_not() {
        for rule in RULES {
            // A rule over every format documents itself with a plugin.txt example.
            let codes = if rule.check.plugin.is_some() {
                codes
            } else {
                document_codes
            };
            assert!(
                codes(rule.docs.example).contains(rule.code),
                "{}: the example does not raise it",
                rule.name
            );
            assert!(
                !codes(rule.docs.instead).contains(rule.code),
                "{}: the fix still raises it",
                rule.name
            );
        }
    }
}
