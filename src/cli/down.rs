use std::sync::Arc;

use clap::Args;

use super::{flags_of, App, ContextArgs};
use crate::ops::down::{self, Down, DownOptions};
use crate::settings::{Purpose, Target};
use crate::tools::runner::SystemRunner;

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
    pub context: ContextArgs,
}

pub async fn run(app: &App, args: DownArgs) -> crate::Result<()> {
    let settings = app.settings_without_secrets(flags_of(&[&args.context]))?;
    let _lock = crate::ops::lock::acquire_for(&settings, "down")?;
    crate::ops::guard::ensure_allowed(&app.shell, &settings, app.global.yes, app.prompt.as_ref())?;
    let opts = DownOptions {
        keep_registry: args.keep_registry,
        purge: args.purge,
    };
    let runner = Arc::new(SystemRunner);
    let d = Down {
        shell: &app.shell,
        settings: &settings,
        runner: runner.clone(),
        opts,
    };
    let found = match settings.target {
        Target::Kind { .. } => {
            let docker = crate::runtime::Runtime::connect().await?;
            let kind_program = crate::tools::find("kind")
                .ok()
                .map(|p| p.display().to_string());
            let kind = kind_program.map(|p| crate::tools::kind::Kind::new(runner.as_ref(), p));
            let found = d.find(&docker, kind.as_ref()).await?;
            if found.cluster && kind.is_none() {
                crate::tools::find("kind")?;
            }
            found
        }
        Target::Context { .. } => down::Found {
            cluster: true,
            ..Default::default()
        },
    };
    let what = down::describe(&settings, &found, opts);
    if what.is_empty() {
        app.shell.status(format!(
            "Nothing to remove: no cluster {} and no registry of nvcf-dev's",
            settings.cluster
        ));
        return Ok(());
    }
    crate::ops::guard::confirm(
        &app.shell,
        app.global.yes,
        app.prompt.as_ref(),
        &format!("Remove {}?", what.join(", ")),
        "down",
    )?;
    d.run(&found).await
}

impl App {
    /// Settings for commands that only remove things: no credentials needed,
    /// and nothing generated.
    pub fn settings_without_secrets(
        &self,
        mut flags: crate::settings::Flags,
    ) -> crate::Result<crate::settings::Settings> {
        // Removing needs no repository: a placeholder keeps resolution simple.
        if flags.repository.is_none() && self.env.get("REPOSITORY").is_none() {
            flags.repository = Some("unset".into());
        }
        let profile = crate::profile::load(&self.global.profile)?;
        let ctx = crate::settings::Context {
            env: &self.env,
            prompt: &crate::settings::NoPrompt,
            state_dir: None,
        };
        crate::settings::resolve(profile, &self.global.cluster, &flags, &ctx, Purpose::Plan)
    }
}
