//! Facts about the three input formats that more than one stage reads: COSMOS's keyword
//! table and value rules, Kubernetes quantities. A leaf: it imports nothing of berth.

pub mod cosmos;
pub mod quantity;

/// The JSON formats: which platform a config document is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Cumulocity,
    Sesam,
}
