//! berth compiles microservice definitions (COSMOS `plugin.txt`, Cumulocity manifests,
//! Sesam configs) into one typed model and reconciles a Docker engine with it.
//!
//! Modules in pipeline order: `source` and `problem` (shared vocabulary), `parse` (text →
//! tokens), `erb` (COSMOS templates), `compile` (syntax → `model`), `lint` (rules over
//! the compiled syntax), `live` (observed state), `diff` and `plan` (desired against
//! observed), `apply` (carrying a plan out over the `engine` interface). The edges, the
//! only modules that touch files, the environment, the engine or the terminal: `cli`,
//! `engine::docker`, `repo`, `state`, `secrets`, `lock` and `journal`.

// Only the CLI prints; clippy.toml keeps files, the environment and clocks out of the
// core the same way.
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod apply;
pub mod ast;
#[allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]
// the CLI is the edge: files, environment, terminal
pub mod cli;
pub mod compile;
pub mod config;
pub mod diff;
pub mod engine;
pub mod failure;
pub mod formats;
#[allow(clippy::disallowed_methods)] // the edge: the journal file, the clock
pub mod journal;
pub mod lint;
pub mod live;
#[allow(clippy::disallowed_methods)] // the edge: lock files, the clock, the host's name
pub mod lock;
pub mod model;
pub mod ops;
pub mod parse;
pub mod plan;
pub mod problem;
#[allow(clippy::disallowed_methods)] // the edge: folders on disk, git repositories
pub mod repo;
pub mod schedule;
#[allow(clippy::disallowed_methods)] // the edge: secret values from files and the environment
pub mod secrets;
pub mod source;
#[allow(clippy::disallowed_methods)] // the edge: berth's state directory
pub mod state;
pub mod validate;
pub mod watch;

/// The ERB subset is its own crate (`crates/erb`): it depends on nothing of berth.
pub use berth_erb as erb;
