//! `berth unlock ID`: removes the record of an apply lock whose holder is gone.

use std::process::ExitCode;

use clap::Args;

use crate::ops::Environment;

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The lock's id, as a waiting apply names it.
    id: String,
}

pub fn run(args: UnlockArgs, env: &Environment) -> miette::Result<ExitCode> {
    let holder = crate::store::lock::unlock(&super::inputs::state_dir(env)?, &args.id)?;
    println!("Removed {holder}.");
    Ok(ExitCode::SUCCESS)
}
