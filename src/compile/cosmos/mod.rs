//! The COSMOS `plugin.txt` front end: `install` runs COSMOS's two phases into an
//! `ast::Plugin`, `lower` turns its MICROSERVICE, INTERFACE and ROUTER blocks into
//! `model::Service`s. `keywords` is the table both consult.

pub mod install;
pub mod keywords;
pub mod lower;
pub mod values;
