//! The COSMOS `plugin.txt` front end: `install` runs COSMOS's two phases into an
//! `ast::Plugin`, `lower` turns its MICROSERVICE, INTERFACE and ROUTER blocks into
//! `model::Service`s, and `files` gives a MICROSERVICE the files of its folder. They
//! consult `formats::cosmos`.

pub mod files;
pub mod install;
pub mod lower;
pub mod operator;
