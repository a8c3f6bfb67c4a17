use clap::Args;

use super::{flags_of, App, InstallArgs};
use crate::ops;
use crate::settings::Purpose;
use crate::tools::runner::SystemRunner;

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
    pub settings: InstallArgs,
}

pub async fn run(app: &App, args: PlanArgs) -> crate::Result<()> {
    let settings = app.settings(&flags_of(&[&args.settings]), Purpose::Plan)?;
    let plan = ops::plan::build(&settings)?;
    if let crate::settings::Target::Kind { .. } = settings.target {
        // `up` would fail at creating the cluster: so does its dry run.
        settings.profile.kind_config()?;
    }
    let helm_major = match crate::tools::helm::Helm::detect(&SystemRunner).await {
        Ok(h) => Some(h.version().major),
        Err(_) => None,
    };
    let releases = ops::ensure::plan_decisions(&settings, &plan).await;
    if app.shell.is_json() {
        let mut doc = serde_json::to_value(ops::plan::document(&plan, &settings))
            .map_err(|e| crate::Error::Usage(format!("internal: the plan is not JSON: {e}")))?;
        if let Some(r) = &releases {
            doc["releases"] = serde_json::to_value(r).unwrap_or_default();
        }
        app.shell.json(&doc);
        return Ok(());
    }
    ops::plan::print(&app.shell, &plan, &settings, helm_major);
    if let Some(r) = &releases {
        ops::ensure::print_decisions(&app.shell, &settings, r);
    }
    Ok(())
}
