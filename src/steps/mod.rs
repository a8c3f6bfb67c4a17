//! The steps `up` is an ordered list of, like kind's create actions. Each is
//! small, idempotent (a re-run after Ctrl-C picks up where it stopped), and
//! shows one status line ending ✓ or ✗, unless it shows its own (one per
//! chart, per release). The handles are typed, never looked up at run time:
//! preflight finds the tools before anything changes, and only the steps
//! after the cluster step ([`OnClusterStep`]) have a kube client.

pub mod cluster;
pub mod connect;
pub mod install;
pub mod registry;
pub mod wiring;

use crate::phase1::plan::Plan;
use crate::runtime::Runtime;
use crate::settings::Settings;
use crate::tools::helm::Helm;
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

/// What every step shares, built before the first one runs.
pub struct Ctx<'a> {
    pub shell: Shell,
    pub settings: Settings,
    pub plan: Plan,
    pub runner: &'a dyn CommandRunner,
    /// The helm preflight found, acting on the cluster's context (never on
    /// whatever the current context happens to be).
    pub helm: Helm<'a>,
}

/// The context once the cluster step has run: its API client too.
pub struct OnCluster<'a> {
    pub ctx: Ctx<'a>,
    pub kube: kube::Client,
}

impl<'a> std::ops::Deref for OnCluster<'a> {
    type Target = Ctx<'a>;
    fn deref(&self) -> &Ctx<'a> {
        &self.ctx
    }
}

/// A step of `up` after the cluster step, run over [`OnCluster`]. Mirror and
/// Install show their own lines (one per chart, per release); the others
/// one status line each.
pub enum OnClusterStep {
    /// Wires the nodes of the kind cluster on this Docker to the local registry.
    ConnectRegistry(Runtime),
    Namespaces,
    /// With the kind nodes' Docker, or None for an existing cluster.
    Mirror(Option<Runtime>),
    Install,
}

impl OnClusterStep {
    /// The status line, e.g. "Creating namespaces ...".
    pub fn title(&self) -> String {
        match self {
            OnClusterStep::ConnectRegistry(_) => {
                "Connecting the cluster to the local registry".into()
            }
            OnClusterStep::Namespaces => {
                format!(
                    "Creating namespaces {}",
                    crate::model::namespaces().join(", ")
                )
            }
            OnClusterStep::Mirror(_) => "Mirroring the charts and images".into(),
            OnClusterStep::Install => "Installing and verifying Phase 1".into(),
        }
    }

    pub async fn run(&self, ctx: &OnCluster<'_>) -> crate::Result<()> {
        // Dropping a step's line marks it failed.
        let step = || ctx.shell.step(self.title());
        match self {
            OnClusterStep::ConnectRegistry(docker) => {
                let step = step();
                step.done_with(connect::connect_registry(docker, ctx).await?);
            }
            OnClusterStep::Namespaces => {
                let step = step();
                let names = crate::model::namespaces();
                let created = crate::k8s::wiring::ensure_namespaces(&ctx.kube, &names).await?;
                if created.is_empty() {
                    step.done()
                } else {
                    step.done_with(format!("created {}", created.join(", ")))
                }
            }
            OnClusterStep::Mirror(nodes) => install::mirror(ctx, nodes.as_ref()).await?,
            OnClusterStep::Install => install::install(ctx).await?,
        }
        Ok(())
    }
}
