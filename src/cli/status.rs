use clap::Args;

use super::App;
use crate::settings::{ChartFlags, ContextFlags, Flags};

/// Show the cluster, the registry, each release and the guide's health checks.
///
/// For each component: its release's chart, version and status, pods ready
/// out of total, its jobs, and the checks of the guide's Verify section
/// (NATS routes, OpenBao initialized and unsealed, Cassandra nodes UN).
/// Exits non-zero when anything is unhealthy or the cluster is unreachable.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  nvcf-dev status\n  nvcf-dev status -o json | jq .healthy")]
pub struct StatusArgs {
    // The versions shown are these charts'.
    #[command(flatten)]
    pub charts: ChartFlags,
    #[command(flatten)]
    pub context: ContextFlags,
}

pub async fn run(app: &App, args: StatusArgs) -> crate::Result<()> {
    let settings = app.settings_without_secrets(Flags {
        charts: args.charts,
        target: args.context,
        ..Default::default()
    })?;
    crate::ops::status::status(&app.shell, &settings).await
}
