use clap::{Args, CommandFactory};
use clap_complete::Shell as CompletionShell;

use super::{App, Cli};

/// Print a completion script for your shell.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nvcf-dev completions bash > ~/.local/share/bash-completion/completions/nvcf-dev\n  nvcf-dev completions zsh > \"${fpath[1]}/_nvcf-dev\""
)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

pub fn run(_app: &App, args: CompletionsArgs) -> crate::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "nvcf-dev", &mut std::io::stdout());
    Ok(())
}
