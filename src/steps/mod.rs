//! The actions every command is an ordered list of, like kind's create
//! actions: `up`'s steps, and the actions of `reset` and `down`. Each is
//! small, idempotent (a re-run after Ctrl-C picks up where it stopped), and
//! shows one status line ending ✓ or ✗, unless it shows its own (one per
//! chart, per release). The handles are typed, never looked up at run time:
//! preflight finds the tools before anything changes, and only the steps
//! after the cluster step, which run over [`OnCluster`], have a kube client.

pub mod cluster;
pub mod connect;
pub mod down;
pub mod install;
pub mod preflight;
pub mod registry;
pub mod reset;
pub mod wiring;

use std::sync::Arc;

use async_trait::async_trait;

use crate::phase1::plan::Plan;
use crate::settings::Settings;
use crate::tools::helm::{Helm, HelmVersion};
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

/// The helm binary preflight found and its version: a [`Helm`] on demand.
#[derive(Debug, Clone)]
pub struct HelmBinary {
    pub program: String,
    pub version: HelmVersion,
}

/// What every step shares, built before the first one runs.
pub struct Ctx {
    pub shell: Shell,
    pub settings: Settings,
    pub plan: Plan,
    pub runner: Arc<dyn CommandRunner>,
    pub helm_binary: HelmBinary,
}

/// The context once the cluster step has run: its API client too.
pub struct OnCluster {
    pub ctx: Ctx,
    pub kube: kube::Client,
}

impl std::ops::Deref for OnCluster {
    type Target = Ctx;
    fn deref(&self) -> &Ctx {
        &self.ctx
    }
}

impl OnCluster {
    /// helm acting on the cluster the client talks to, never on whatever
    /// the current context happens to be.
    pub fn helm(&self) -> Helm<'_> {
        let HelmBinary { program, version } = self.helm_binary.clone();
        Helm::new(self.runner.as_ref(), program, version)
            .with_kube_context(self.settings.kube_context())
    }
}

#[async_trait]
pub trait Step<C: Send + Sync>: Send + Sync {
    /// The status line, e.g. "Creating cluster nvcf-dev".
    fn title(&self, ctx: &C) -> String;
    /// False for a step that shows its own lines (one per chart, per
    /// release): the runner then adds none around it.
    fn has_line(&self) -> bool {
        true
    }
    /// Does the step; a short note (e.g. "reused") is shown after the title.
    async fn execute(&self, ctx: &C) -> crate::Result<Option<String>>;
}

/// Runs `work` under a status line titled `title`: ✓ with its note, or ✗.
pub async fn line<T>(
    shell: &Shell,
    title: String,
    work: impl std::future::Future<Output = crate::Result<(T, Option<String>)>>,
) -> crate::Result<T> {
    let line = shell.step(title);
    let (value, note) = work.await?; // dropping the line marks it failed
    match note {
        Some(note) => line.done_with(note),
        None => line.done(),
    }
    Ok(value)
}

/// Runs the steps in order and stops at the first failure.
pub async fn run<C: Send + Sync>(
    shell: &Shell,
    steps: &[Box<dyn Step<C>>],
    ctx: &C,
) -> crate::Result<()> {
    for step in steps {
        if step.has_line() {
            let title = step.title(ctx);
            line(shell, title, async { Ok(((), step.execute(ctx).await?)) }).await?;
        } else {
            step.execute(ctx).await?;
        }
    }
    Ok(())
}
