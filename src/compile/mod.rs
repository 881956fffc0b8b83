//! Syntax → model, one front end per format. Pure.

pub mod cosmos;
