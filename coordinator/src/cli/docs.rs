//! `convoy completions SHELL` and the hidden `convoy man --out DIR`: shell completions and
//! man pages generated from the clap definition in `cli.rs`, so they never drift from it.
//! The packaged copies live in `packaging/completions/` and `packaging/man/coordinator/`
//! (refreshed by `packaging/generate-docs`). Writes only to stdout or the directory given.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, CommandFactory as _};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for, e.g. `convoy completions bash > /etc/bash_completion.d/convoy`.
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write convoy.1 and one page per subcommand (convoy-serve.1, ...) into.
    #[arg(long)]
    pub out: PathBuf,
}

/// Prints the completion script for `shell` to stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut super::Cli::command(),
        "convoy",
        &mut script,
    );
    super::write_raw(&script);
    Ok(())
}

/// Writes the man pages of `convoy` and every visible subcommand into `args.out`.
pub fn man_pages(args: &ManArgs) -> anyhow::Result<()> {
    let dir = args.out.as_path();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    clap_mangen::generate_to(super::Cli::command(), dir)
        .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
    // `convoy agent`'s own page would be convoy-agent.1, the agent program's page (both
    // packages install into man1). Its subcommands keep their pages
    // (convoy-agent-cordon.1, ...), and convoy.1 lists it.
    let clash = dir.join("convoy-agent.1");
    std::fs::remove_file(&clash).with_context(|| format!("cannot remove {}", clash.display()))
}
