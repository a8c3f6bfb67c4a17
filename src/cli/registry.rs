use clap::{Args, Subcommand};

use super::App;
use crate::ops::registry as ops;

/// Manage the local registry on its own, with or without a cluster.
///
/// Useful to mirror before going offline: `nvcf-dev registry up`, then
/// `nvcf-dev mirror`. The registry listens on 127.0.0.1 only.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nvcf-dev registry up\n  nvcf-dev registry status -o json\n  nvcf-dev registry down --purge"
)]
pub struct RegistryArgs {
    #[command(subcommand)]
    pub action: RegistryAction,

    /// Image of the registry container [default: registry:3, or the profile's]
    #[arg(long, value_name = "IMAGE", global = true)]
    pub registry_image: Option<String>,

    /// Host port of the registry [default: 5001, or the profile's]
    #[arg(long, value_name = "PORT", global = true)]
    pub registry_port: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum RegistryAction {
    /// Start the registry (reused when it is already ours and up to date)
    Up,
    /// Show the registry's container, address, networks and how many images it holds
    Status,
    /// Remove the registry container; its data volume is kept unless --purge
    Down {
        /// Also remove the data volume (the mirrored images)
        #[arg(long)]
        purge: bool,
    },
}

pub async fn run(app: &App, args: RegistryArgs) -> crate::Result<()> {
    let profile = crate::profile::load(&app.global.profile)?;
    let spec = (profile.cluster.registry).spec(args.registry_image, args.registry_port);
    match args.action {
        RegistryAction::Up => ops::up(&app.shell, &spec).await,
        RegistryAction::Status => ops::status(&app.shell, &spec).await,
        RegistryAction::Down { purge } => {
            ops::down(
                &app.shell,
                &spec,
                purge,
                app.global.yes,
                app.prompt.as_ref(),
            )
            .await
        }
    }
}
