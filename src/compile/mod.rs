//! Syntax → model, one front end per format. Pure.

pub mod cosmos;
pub mod cumulocity;
pub mod interpolate;
pub mod sesam;
