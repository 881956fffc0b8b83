//! berth compiles microservice definitions (COSMOS `plugin.txt`, Cumulocity manifests,
//! Sesam configs) into one typed model and reconciles a Docker engine with it.
//!
//! Code map, in the order the modules build on each other (each imports only modules
//! listed before it, and none imports one that imports it back; tidy tests check both):
//!
//! - vocabulary: `source` (files and spans), `problem` (diagnostics), `failure` (what an
//!   edge could not do), `secret` (values never shown), `formats` (facts about the input
//!   formats), `erb` (the Ruby subset COSMOS templates use, its own crate);
//! - the pure pipeline: `parse` (text → tokens and spanned JSON/YAML), `ast` (a plugin
//!   after COSMOS's install), `model` (the desired state), `validate` (schemas), `config`
//!   (berth.yaml), `schedule` (cron), `compile` (sources → model), `live` (observed
//!   state), `engine` (what berth asks of an engine, and how it names things; `docker`
//!   and `swarm` are the edge that talks to one), `diff` (desired against observed, and
//!   what the engine would refuse), `lint` (rules over what compiled), `plan`, `apply` (a
//!   plan carried out through the engine interface);
//! - the other edges: `repo` (where the configuration is read from: a folder, a git
//!   commit), `store` (berth's state directory and secret values);
//! - the use cases: `ops` (load, lint, plan, apply, status: plain requests in, typed
//!   results out) and `watch` (the reconciler of `berth watch`, its memory and status);
//! - the command line: `cli` (arguments, the environment, the terminal, exit codes).
//!
//! Only the edges touch files, the environment, clocks or the engine: `cli`,
//! `engine::docker`, `engine::swarm`, `repo` and `store`; clippy.toml keeps the rest out.

// Only the CLI prints; clippy.toml keeps files, the environment and clocks out of the
// core the same way.
#![warn(clippy::print_stdout, clippy::print_stderr)]

// Vocabulary.
pub mod source;
pub mod problem;
pub mod failure;
pub mod secret;
pub mod formats;
/// The ERB subset is its own crate (`crates/erb`): it depends on nothing of berth.
pub use berth_erb as erb;

// The pipeline, with the engine interface it plans and applies against.
pub mod parse;
pub mod ast;
pub mod model;
pub mod validate;
pub mod config;
pub mod schedule;
pub mod compile;
pub mod live;
pub mod engine;
pub mod diff;
pub mod lint;
pub mod plan;
pub mod apply;

// The other edges.
#[allow(clippy::disallowed_methods)] // the edge: folders on disk, git repositories
pub mod repo;
pub mod store;
pub mod cosmos_store;
#[allow(clippy::disallowed_methods)] // the edge: HTTP, and waiting between tries
pub mod notify;

// The use cases.
pub mod ops;
pub mod watch;

// The command line.
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::print_stdout,
    clippy::print_stderr
)]
// the CLI is the edge: files, environment, terminal
pub mod cli;
