//! ERB rendering of any template, with one local and one environment variable bound; the
//! source map of what renders must point inside the template.
#![no_main]

use std::collections::BTreeMap;

use berth::erb::{Bindings, free_identifiers, render, scan};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|template: &str| {
    let locals = BTreeMap::from([("name".to_string(), "value".to_string())]);
    let env = BTreeMap::from([("HOME".to_string(), "/root".to_string())]);
    let _ = scan(template);
    let _ = free_identifiers(template);
    match render(
        template,
        &Bindings {
            locals: &locals,
            env: &env,
        },
    ) {
        Ok(rendered) => {
            let whole = rendered.map.to_template(0..rendered.text.len());
            assert!(
                whole.start <= whole.end && whole.end <= template.len(),
                "{whole:?}"
            );
        }
        Err(errors) => {
            for e in errors {
                assert!(e.span.start <= e.span.end && e.span.end <= template.len(), "{e}");
            }
        }
    }
});
