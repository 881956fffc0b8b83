//! Placeholder until the ERB engine lands: renders text without tags unchanged.
use std::collections::BTreeMap;
use std::ops::Range;

pub struct Bindings<'a> {
    pub locals: &'a BTreeMap<String, String>,
    pub env: &'a BTreeMap<String, String>,
}
pub struct Rendered {
    pub text: String,
    pub map: SourceMap,
}
pub struct SourceMap;
impl SourceMap {
    pub fn to_template(&self, out: Range<usize>) -> Range<usize> {
        out
    }
}
#[derive(Debug)]
pub struct ErbError {
    pub span: Range<usize>,
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
}
pub fn render(template: &str, _b: &Bindings) -> Result<Rendered, Vec<ErbError>> {
    match template.find("<%") {
        Some(i) => Err(vec![ErbError {
            span: i..i + 2,
            code: "berth::erb::unsupported",
            message: "ERB not yet".into(),
            help: None,
        }]),
        None => Ok(Rendered {
            text: template.to_string(),
            map: SourceMap,
        }),
    }
}
