//! The actions of `down` ([`DownAction`], planned by `ops::down::actions`):
//! how each runs.

use std::time::Duration;

use crate::k8s::stale::delete_stale;
use crate::model::{self, Component};
use crate::settings::Settings;
use crate::steps::reset::{DELETE_TIMEOUT, UNINSTALL_TIMEOUT};
use crate::steps::Step;
use crate::tools::helm::Helm;
use crate::tools::kind::Kind;
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

#[derive(Debug, Clone, Copy, Default)]
pub struct DownOptions {
    pub keep_registry: bool,
    /// Also remove the registry's data volume.
    pub purge: bool,
}

/// One action of `down`, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownAction {
    /// Uninstall the releases and delete the stale resources in namespaces
    /// `up` created; best effort when the cluster is deleted next.
    UninstallReleases {
        best_effort: bool,
    },
    /// `kind delete cluster`, with the kind binary found; and the cluster's
    /// saved Cassandra password.
    DeleteCluster {
        kind: String,
    },
    RemoveRegistry,
    KeepRegistry,
}

/// Releases in reverse install order: dependents first.
pub fn uninstall_order() -> Vec<&'static Component> {
    let mut order: Vec<&'static Component> = model::phase1_stages()
        .into_iter()
        .flatten()
        .map(model::ComponentId::component)
        .collect();
    order.reverse();
    order
}

/// What the actions of `down` share.
pub struct DownCtx<'a> {
    pub shell: &'a Shell,
    pub settings: &'a Settings,
    pub runner: &'a dyn CommandRunner,
    pub opts: DownOptions,
}

impl AsRef<Shell> for DownCtx<'_> {
    fn as_ref(&self) -> &Shell {
        self.shell
    }
}

/// When the cluster is deleted next, cleaning it is a courtesy: bounded.
const BEST_EFFORT: Duration = Duration::from_secs(120);
/// How long the API server gets to answer before `down` gives up on it.
const REACH_TIMEOUT: Duration = Duration::from_secs(15);

#[async_trait::async_trait]
impl<'a> Step<DownCtx<'a>> for DownAction {
    fn title(&self, ctx: &DownCtx<'a>) -> String {
        let s = ctx.settings;
        match self {
            DownAction::UninstallReleases { .. } => {
                format!("Uninstalling Phase 1 releases in {}", s.kube_context())
            }
            DownAction::DeleteCluster { .. } => format!("Deleting cluster {}", s.cluster),
            // Removing the registry shows its own line; keeping it is a note.
            _ => String::new(),
        }
    }

    fn has_line(&self) -> bool {
        matches!(
            self,
            DownAction::UninstallReleases { .. } | DownAction::DeleteCluster { .. }
        )
    }

    async fn execute(&self, ctx: &mut DownCtx<'a>) -> crate::Result<Option<String>> {
        let s = ctx.settings;
        match self {
            DownAction::UninstallReleases { best_effort: false } => {
                uninstall_all(ctx).await.map(Some)
            }
            DownAction::UninstallReleases { best_effort: true } => {
                let why = match tokio::time::timeout(BEST_EFFORT, uninstall_all(ctx)).await {
                    Ok(Ok(note)) => return Ok(Some(note)),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => format!("it took over {}s", BEST_EFFORT.as_secs()),
                };
                tracing::info!("uninstall skipped: {why}");
                Ok(Some("skipped: the cluster is deleted next".into()))
            }
            DownAction::DeleteCluster { kind } => {
                let kind = Kind::new(ctx.runner, kind.clone());
                kind.delete_cluster(&s.cluster).await?;
                let dir = crate::state::state_dir()?;
                let password = crate::state::cassandra_password_path(&dir, &s.cluster);
                crate::state::remove_password(&password)?;
                Ok(None)
            }
            DownAction::RemoveRegistry => {
                super::registry::remove(ctx.shell, &s.registry, ctx.opts.purge).await?;
                Ok(None)
            }
            DownAction::KeepRegistry => {
                let name = &s.registry.name;
                ctx.shell
                    .status(format!(" • Keeping registry {name} (--keep-registry)"));
                Ok(None)
            }
        }
    }
}

/// Uninstalls the releases, dependents first, and deletes the stale
/// resources of namespaces `up` created.
async fn uninstall_all(ctx: &DownCtx<'_>) -> crate::Result<String> {
    let context = ctx.settings.kube_context();
    let (client, _) = crate::k8s::client::reach(&context, REACH_TIMEOUT).await?;
    let helm = Helm::detect(ctx.runner).await?.with_kube_context(&context);
    let mut removed = 0;
    for c in uninstall_order() {
        let (release, ns) = (c.release, c.namespace);
        helm.uninstall(release, ns, UNINSTALL_TIMEOUT).await?;
        if crate::k8s::wiring::namespace_is_ours(&client, ns).await? {
            let gone = delete_stale(&client, ns, release, DELETE_TIMEOUT, false).await?;
            removed += gone.len();
        }
    }
    Ok(format!("{removed} stale resources deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependents_are_uninstalled_first() {
        let names: Vec<&str> = uninstall_order().iter().map(|c| c.name).collect();
        assert_eq!(names, ["openbao", "cassandra", "nats"]);
    }
}
