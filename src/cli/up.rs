use clap::Args;

use super::App;
use crate::settings::{Flags, Purpose, FLAGS_HEADING};

/// A complete, verified Phase 1 on a local kind cluster, in one command.
///
/// Steps: check prerequisites; start the local registry container
/// (nvcf-dev-registry on 127.0.0.1:5001, data in the volume
/// nvcf-dev-registry-data); create the kind cluster from the profile's kind
/// config; wire containerd on every node to the registry (localhost:5001, and
/// the upstream registry local-first); create the Phase 1 namespaces; mirror
/// the charts and images into the local registry; install NATS and Cassandra
/// in parallel, then OpenBao once NATS is healthy; verify each the way the
/// guide's Verify sections do.
///
/// Every step is idempotent: run it again after Ctrl-C or a failure and it
/// picks up where it stopped. A second `up` needs no upstream access.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nvcf-dev up\n  nvcf-dev up --cluster demo --registry-port 5002\n  nvcf-dev up --context my-eks --profile prod --mirror-to registry.internal:5000 --yes"
)]
pub struct UpArgs {
    #[command(flatten)]
    pub settings: Flags,

    /// Image of the local registry container [default: registry:3]
    // Listed before --registry-port: an equal display order goes by name.
    #[arg(long, value_name = "IMAGE", help_heading = FLAGS_HEADING, display_order = 6)]
    pub registry_image: Option<String>,
}

pub async fn run(app: &App, args: UpArgs) -> crate::Result<()> {
    let flags = Flags {
        registry_image: args.registry_image,
        ..args.settings
    };
    let settings = app.settings(&flags, Purpose::Apply)?;
    let prompt = app.prompt.as_ref();
    crate::ops::up::up(app.shell.clone(), settings, prompt, app.global.yes).await
}
