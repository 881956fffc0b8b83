//! What berth keeps and reads on this machine, beside the repository and the engine:
//! its state directory (`state`: the key and the installation id; `lock`: one apply per
//! project and engine; `journal`: the applies and the last converged state) and secret
//! values (`secrets`, from berth.yaml's providers). Every module here is an edge.

#[allow(clippy::disallowed_methods)] // the edge: the journal file, the clock
pub mod journal;
#[allow(clippy::disallowed_methods)] // the edge: lock files, the clock, the host's name
pub mod lock;
#[allow(clippy::disallowed_methods)] // the edge: secret values from files and the environment
pub mod secrets;
#[allow(clippy::disallowed_methods)] // the edge: berth's state directory
pub mod state;
