//! The engine edge. Today only `fake`, the in-memory engine the pure core's tests apply
//! plans to; the Docker engine (bollard) comes with `berth plan`.

pub mod fake;
