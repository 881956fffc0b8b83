//! P6: a PORT protocol other than TCP, UDP or SCTP.

use crate::formats::cosmos::values::is_nil_like;
use crate::lint::{Check, Checker, Docs, Rule};
use crate::problem::Severity;

pub static RULE: Rule = Rule {
    name: "port-protocol",
    id: "P6",
    code: "berth::lint::port-protocol",
    severity: Severity::Error,
    summary: "PORT protocol not TCP, UDP or SCTP",
    docs: Docs {
        what: "Checks the optional second parameter of PORT: TCP, UDP or SCTP in any case, or a nil-like value (`nil`, `none`, `null`, `\"\"`) meaning TCP.",
        why: "COSMOS refuses the plugin with `Unknown port protocol`. The protocol is the transport, not the application protocol, so `HTTP` is a common mistake.",
        example: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT 8080 HTTP",
        instead: "MICROSERVICE EXAMPLE example\n  CMD ruby example.rb\n  PORT 8080 TCP",
    },
    check: Check::plugin(check),
};

const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

fn check(c: &mut Checker) {
    for (_, line) in c.plugin.modifier_lines("PORT") {
        let Some(protocol) = line.params.get(1) else {
            continue;
        };
        let v = &protocol.value;
        if is_nil_like(v) || PROTOCOLS.iter().any(|p| v.eq_ignore_ascii_case(p)) {
            continue;
        }
        let help = if ["HTTP", "HTTPS", "WS", "WSS", "GRPC"]
            .iter()
            .any(|p| v.eq_ignore_ascii_case(p))
        {
            format!("{v} runs over TCP: write `TCP`, or leave the protocol out")
        } else {
            "use TCP, UDP or SCTP, or leave the protocol out for TCP".to_string()
        };
        let p = c
            .problem(protocol.span, format!("unknown port protocol `{v}`"))
            .with_label("not TCP, UDP or SCTP")
            .with_help(help);
        c.emit(p);
    }
}
