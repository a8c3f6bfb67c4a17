use clap::Args;

use super::App;
use crate::ops::down::DownOptions;
use crate::settings::{ContextFlags, Flags};

/// Tear down everything `up` made: releases, stale resources, the kind
/// cluster and the registry container.
///
/// Removes only what carries nvcf-dev's labels or exact names. The registry's
/// data volume is kept unless --purge, so the next `up` needs no download.
/// Asks for confirmation unless --yes.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nvcf-dev down\n  nvcf-dev down --keep-registry --yes\n  nvcf-dev down --purge --yes"
)]
pub struct DownArgs {
    /// Keep the local registry container (and its images) running
    #[arg(long, conflicts_with = "purge")]
    pub keep_registry: bool,

    /// Also remove the registry's data volume (the mirrored images)
    #[arg(long)]
    pub purge: bool,

    #[command(flatten)]
    pub context: ContextFlags,
}

pub async fn run(app: &App, args: DownArgs) -> crate::Result<()> {
    let settings = app.settings_without_secrets(Flags {
        target: args.context,
        ..Default::default()
    })?;
    let opts = DownOptions {
        keep_registry: args.keep_registry,
        purge: args.purge,
    };
    crate::ops::down::down(
        &app.shell,
        &settings,
        app.prompt.as_ref(),
        app.global.yes,
        opts,
    )
    .await
}
