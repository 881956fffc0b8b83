//! The COSMOS `plugin.txt` front end: `install` runs COSMOS's two phases into an
//! `ast::Plugin`, `lower` turns its MICROSERVICE, INTERFACE and ROUTER blocks into
//! `model::Service`s. Both consult `formats::cosmos`.

pub mod install;
pub mod lower;
