//! The steps of `nvcf-dev up`, in order, like kind's create actions: each is
//! small, idempotent (so a re-run after Ctrl-C picks up where it stopped), and
//! shows one status line that ends ✓ or ✗ with its duration.

use std::sync::Arc;

use async_trait::async_trait;

use crate::ops::plan::Plan;
use crate::settings::Settings;
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

/// What the steps share. Later steps use what earlier ones found (the Docker
/// connection, the kube client, the helm version).
pub struct Ctx {
    pub shell: Shell,
    pub settings: Settings,
    pub plan: Plan,
    pub runner: Arc<dyn CommandRunner>,
    pub found: Found,
}

/// Facts earlier steps established.
#[derive(Default)]
pub struct Found {
    pub helm_program: Option<String>,
    pub helm_version: Option<crate::tools::helm::HelmVersion>,
    pub kind_program: Option<String>,
}

#[async_trait]
pub trait Step: Send + Sync {
    /// The status line, e.g. "Creating cluster nvcf-dev".
    fn title(&self, ctx: &Ctx) -> String;
    /// Does the step; a short note (e.g. "reused") is shown after the title.
    async fn execute(&self, ctx: &mut Ctx) -> crate::Result<Option<String>>;
}

/// Runs the steps in order and stops at the first failure.
pub async fn run(steps: &[Box<dyn Step>], ctx: &mut Ctx) -> crate::Result<()> {
    for step in steps {
        let line = ctx.shell.step(step.title(ctx));
        match step.execute(ctx).await {
            Ok(Some(note)) => line.done_with(note),
            Ok(None) => line.done(),
            Err(e) => {
                line.fail();
                return Err(e);
            }
        }
    }
    Ok(())
}
