//! `berth hook install --post-receive BARE_REPO`: a post-receive hook that makes a push
//! to a bare repository on this host the deploy button. The hook pokes a running `berth
//! watch` (`POST /hooks/local`, authenticated with a token derived from berth's state
//! key); when none answers, it runs `berth apply --repo` itself. The hook file is berth's
//! only while it carries berth's marker line: berth rewrites its own, never another's.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use miette::{IntoDiagnostic, WrapErr};

use super::plan::runtime;
use crate::engine::docker::http_request;
use crate::ops::Environment;
use crate::repo::git::hooks_dir;
use crate::store::state::State;

/// The line that marks a hook as written by berth.
const MARKER: &str = "# berth-hook: post-receive";

#[derive(Debug, Args)]
pub struct HookArgs {
    #[command(subcommand)]
    command: HookCommand,
}

#[derive(Debug, Subcommand)]
enum HookCommand {
    /// Install a hook into a git repository on this host.
    Install(InstallArgs),
    /// What the installed post-receive hook runs (reads git's ref updates on stdin).
    #[command(hide = true)]
    PostReceive(PostReceiveArgs),
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Install a post-receive hook into this bare repository.
    #[arg(long, value_name = "BARE_REPO")]
    post_receive: PathBuf,
    /// The address of the `berth watch --listen` to poke; without it, or when nothing
    /// answers there, the hook runs `berth apply` itself.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The branch or tag that is deployed; pushes to other refs do nothing [default:
    /// every push reconciles, at HEAD].
    #[arg(long = "ref", value_name = "REF")]
    reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct PostReceiveArgs {
    #[arg(long)]
    repo: PathBuf,
    #[arg(long)]
    listen: Option<SocketAddr>,
    #[arg(long = "ref")]
    reference: Option<String>,
}

pub fn run(args: HookArgs, env: &Environment) -> miette::Result<ExitCode> {
    match args.command {
        HookCommand::Install(args) => install(&args),
        HookCommand::PostReceive(args) => post_receive(&args, env),
    }
}

fn install(args: &InstallArgs) -> miette::Result<ExitCode> {
    let repo = std::fs::canonicalize(&args.post_receive)
        .into_diagnostic()
        .wrap_err_with(|| format!("no repository at {}", args.post_receive.display()))?;
    if !repo.join("objects").is_dir() || !repo.join("refs").is_dir() {
        miette::bail!(
            help = "give the path of a bare repository (`git init --bare`), where pushes arrive",
            "{} is not a bare git repository",
            repo.display()
        );
    }
    let hooks = hooks_dir(&repo.to_string_lossy()).map_err(|e| miette::miette!("{e}"))?;
    std::fs::create_dir_all(&hooks).into_diagnostic()?;
    let path = hooks.join("post-receive");
    let existing = std::fs::read_to_string(&path).ok();
    if let Some(text) = &existing
        && !text.lines().any(|l| l == MARKER)
    {
        miette::bail!(
            help = "merge it by hand: call `berth hook post-receive --repo …` from it, or move it away and run this again",
            "{} exists and was not written by berth; it was left as it is",
            path.display()
        );
    }
    let berth = std::env::current_exe().into_diagnostic()?;
    let script = script(&berth, &repo, args.listen, args.reference.as_deref());
    if existing.as_deref() == Some(script.as_str()) {
        println!(
            "The post-receive hook in {} is already installed.",
            repo.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Written beside, then renamed: a push never runs half a hook.
    let partial = hooks.join(".post-receive.berth");
    std::fs::write(&partial, &script).into_diagnostic()?;
    set_executable(&partial)?;
    std::fs::rename(&partial, &path).into_diagnostic()?;
    let verb = if existing.is_some() {
        "Updated"
    } else {
        "Installed"
    };
    println!("{verb} the post-receive hook in {}.", repo.display());
    Ok(ExitCode::SUCCESS)
}

fn set_executable(path: &Path) -> miette::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).into_diagnostic()
}

/// The hook: one line that hands over to berth.
fn script(berth: &Path, repo: &Path, listen: Option<SocketAddr>, reference: Option<&str>) -> String {
    let mut command = format!(
        "exec {} hook post-receive --repo {}",
        quote(&berth.to_string_lossy()),
        quote(&repo.to_string_lossy())
    );
    if let Some(listen) = listen {
        command += &format!(" --listen {listen}");
    }
    if let Some(reference) = reference {
        command += &format!(" --ref {}", quote(reference));
    }
    format!(
        "#!/bin/sh\n{MARKER}\n# Written by `berth hook install`, which may rewrite it; remove the line above to keep berth away.\n# A push pokes `berth watch`; when none answers, it runs `berth apply` for the pushed repository.\n{command}\n"
    )
}

/// Single-quoted for sh.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn post_receive(args: &PostReceiveArgs, env: &Environment) -> miette::Result<ExitCode> {
    // git passes `<old> <new> <ref>` per updated ref.
    let mut updates = String::new();
    std::io::stdin().read_to_string(&mut updates).into_diagnostic()?;
    if let Some(wanted) = &args.reference {
        let matches = |name: &str| {
            name == wanted
                || name.strip_prefix("refs/heads/") == Some(wanted)
                || name.strip_prefix("refs/tags/") == Some(wanted)
        };
        if !updates
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .any(matches)
        {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if let Some(listen) = args.listen {
        let state = State::open(&super::inputs::state_dir(env)?)?;
        let headers = BTreeMap::from([(
            "authorization".to_string(),
            format!("Bearer {}", state.local_token()),
        )]);
        let host = listen.ip().to_string();
        let answer = runtime()?.block_on(http_request(
            "POST",
            &host,
            listen.port(),
            "/hooks/local",
            &headers,
        ));
        match answer {
            Ok(status) if status.is_success() => {
                println!("berth: the watcher on {listen} will reconcile");
                return Ok(ExitCode::SUCCESS);
            }
            Ok(status) => println!("berth: the watcher on {listen} answered {status}; applying here instead"),
            Err(e) => println!("berth: no watcher answered ({e}); applying here instead"),
        }
    }
    let repo = args.repo.to_string_lossy().into_owned();
    let mut apply = std::process::Command::new(std::env::current_exe().into_diagnostic()?);
    apply.args(["apply", "--auto-approve", "--repo", &repo]);
    if let Some(reference) = &args.reference {
        apply.args(["--ref", reference]);
    }
    // git runs hooks inside the repository with GIT_DIR set, which would point every git
    // call of the apply at it; berth opens the repository by path instead.
    apply.env_remove("GIT_DIR");
    let status = apply.status().into_diagnostic()?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_quotes_what_it_passes_and_carries_the_marker() {
        let text = script(
            Path::new("/opt/it's/berth"),
            Path::new("/srv/fleet.git"),
            Some("127.0.0.1:9090".parse().unwrap()),
            Some("main"),
        );
        assert!(text.lines().any(|l| l == MARKER));
        assert!(text.ends_with(
            "exec '/opt/it'\\''s/berth' hook post-receive --repo '/srv/fleet.git' --listen 127.0.0.1:9090 --ref 'main'\n"
        ));
    }
}
