//! P16: a routed block with more than one PORT: only the first is routed.

use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "route-multiple-ports",
    id: "P16",
    code: "berth::lint::route-multiple-ports",
    severity: Severity::Warning,
    summary: "ROUTE_PREFIX with more than one PORT: only the first is routed",
    docs: Docs {
        what: "Finds blocks with a ROUTE_PREFIX and more than one PORT.",
        why: "COSMOS's Traefik route sends the prefix to the block's first PORT only; requests never reach the others through the route. Putting the routed port first, and knowing the rest are internal, avoids a surprise.",
        example: "MICROSERVICE API api\n  CMD ruby api.rb\n  ROUTE_PREFIX /api\n  PORT 9090\n  PORT 8080",
        instead: "MICROSERVICE API api\n  CMD ruby api.rb\n  ROUTE_PREFIX /api\n  PORT 8080",
    },
    check: Check::plugin(check),
};

fn check(c: &mut Checker) {
    for block in c.plugin.blocks.iter().filter(|b| b.kind.is_deployed()) {
        // The last ROUTE_PREFIX of a block is the one COSMOS keeps.
        let Some(route) = c.plugin.modifiers_named(block, "ROUTE_PREFIX").last() else {
            continue;
        };
        let mut ports = c.plugin.modifiers_named(block, "PORT");
        let Some(first) = ports.next() else {
            continue;
        };
        let routed = first.params.first().map_or("", |t| t.value.as_str());
        let prefix = route.params.first().map_or("", |t| t.value.as_str());
        for extra in ports {
            let number = extra.params.first().map_or("", |t| t.value.as_str());
            let p = c
                .problem(
                    extra.span,
                    format!("port {number} is not routed: `{prefix}` goes to port {routed} only"),
                )
                .with_label("not reachable through the route")
                .with_related(first.span, "the route uses this PORT")
                .with_help("COSMOS routes only the first PORT; put the port the route should reach first");
            c.emit(p);
        }
    }
}
