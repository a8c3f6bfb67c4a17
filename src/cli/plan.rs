use clap::Args;

use super::App;
use crate::settings::{Flags, Purpose};

/// Show what `up` would install, without touching anything.
///
/// Prints the install stages and, for each component, its release and
/// namespace, the equivalent helm command and the merged values. Secrets (the
/// NGC API key, the registry credential, passwords) show as <redacted>.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nvcf-dev plan\n  nvcf-dev plan --profile prod --context my-eks -o json\n  nvcf-dev plan --chart-version openbao=0.22.2 --chart nats=../helm-nvcf-nats"
)]
pub struct PlanArgs {
    #[command(flatten)]
    pub settings: Flags,
}

pub async fn run(app: &App, args: PlanArgs) -> crate::Result<()> {
    let settings = app.settings(&args.settings, Purpose::Plan)?;
    crate::ops::show_plan::show(&app.shell, &settings).await
}
