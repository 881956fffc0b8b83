//! berth compiles microservice definitions (COSMOS `plugin.txt`, Cumulocity manifests,
//! Sesam configs) into one typed model and reconciles a Docker engine with it.
//!
//! Modules in pipeline order: `source` and `problem` (shared vocabulary), `parse` (text →
//! tokens), `erb` (COSMOS templates), `compile` (syntax → `model`), `lint` (rules over
//! the compiled syntax), and `cli` (the only module that touches the terminal, files and
//! environment).

pub mod ast;
#[allow(clippy::disallowed_methods)] // the CLI is an edge: it reads files and the environment
pub mod cli;
pub mod compile;
pub mod config;
pub mod erb;
pub mod lint;
pub mod model;
pub mod parse;
pub mod problem;
pub mod source;
pub mod validate;
