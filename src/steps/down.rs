//! The actions of `down` ([`DownAction`], planned by `ops::down::actions`)
//! and how they run ([`run`]).

use std::time::Duration;

use crate::k8s::stale::delete_stale;
use crate::model::{self, Component};
use crate::settings::Settings;
use crate::steps::reset::{DELETE_TIMEOUT, UNINSTALL_TIMEOUT};
use crate::tools::helm::Helm;
use crate::tools::kind::Kind;
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

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
    /// The registry container; `container`/`volume`: which of it exists
    /// and goes (the volume only with --purge).
    RemoveRegistry {
        container: bool,
        volume: bool,
    },
    KeepRegistry,
}

impl DownAction {
    /// What the action removes, in words, for the confirmation.
    pub fn removes(&self, s: &Settings) -> Vec<String> {
        match *self {
            DownAction::UninstallReleases { best_effort: false } => vec![format!(
                "the Phase 1 releases and their leftovers in context {}",
                s.kube_context()
            )],
            DownAction::DeleteCluster { .. } => vec![format!(
                "kind cluster {} (and the Phase 1 releases in it)",
                s.cluster
            )],
            DownAction::RemoveRegistry { container, volume } => {
                let volume_name = s.registry.volume.clone();
                let container =
                    container.then(|| format!("registry container {}", s.registry.name));
                let volume =
                    volume.then(|| format!("registry volume {volume_name} (the mirrored images)"));
                container.into_iter().chain(volume).collect()
            }
            _ => vec![],
        }
    }
}

/// Releases in reverse install order: dependents first.
pub fn uninstall_order() -> Vec<&'static Component> {
    let order = model::phase1_stages().into_iter().flatten().rev();
    order.map(model::ComponentId::component).collect()
}

/// When the cluster is deleted next, cleaning it is a courtesy: bounded.
const BEST_EFFORT: Duration = Duration::from_secs(120);
/// How long the API server gets to answer before `down` gives up on it.
const REACH_TIMEOUT: Duration = Duration::from_secs(15);

/// Runs the actions in order, each under its status line; `purge` removes
/// the registry's volume with it.
pub async fn run(
    shell: &Shell,
    s: &Settings,
    runner: &dyn CommandRunner,
    actions: &[DownAction],
    purge: bool,
) -> crate::Result<()> {
    for action in actions {
        match action {
            DownAction::UninstallReleases { best_effort } => {
                let step = shell.step(format!(
                    "Uninstalling Phase 1 releases in {}",
                    s.kube_context()
                ));
                let skipped = |why: String| {
                    tracing::info!("uninstall skipped: {why}");
                    "skipped: the cluster is deleted next".to_string()
                };
                let uninstall = uninstall_all(s, runner);
                let note = if !best_effort {
                    uninstall.await?
                } else {
                    match tokio::time::timeout(BEST_EFFORT, uninstall).await {
                        Ok(Ok(note)) => note,
                        Ok(Err(e)) => skipped(e.to_string()),
                        Err(_) => skipped(format!("it took over {}s", BEST_EFFORT.as_secs())),
                    }
                };
                step.done_with(note);
            }
            DownAction::DeleteCluster { kind } => {
                let step = shell.step(format!("Deleting cluster {}", s.cluster));
                let kind = Kind::new(runner, kind.clone());
                kind.delete_cluster(&s.cluster).await?;
                let dir = crate::state::state_dir()?;
                let password = crate::state::cassandra_password_path(&dir, &s.cluster);
                crate::state::remove_password(&password)?;
                step.done();
            }
            DownAction::RemoveRegistry { .. } => {
                super::registry::remove(shell, &s.registry, purge).await?
            }
            DownAction::KeepRegistry => shell.status(format!(
                " • Keeping registry {} (--keep-registry)",
                s.registry.name
            )),
        }
    }
    Ok(())
}

/// Uninstalls the releases, dependents first, and deletes the stale
/// resources of namespaces `up` created.
async fn uninstall_all(s: &Settings, runner: &dyn CommandRunner) -> crate::Result<String> {
    let context = s.kube_context();
    let (client, _) = crate::k8s::client::reach(&context, REACH_TIMEOUT).await?;
    let helm = Helm::detect(runner).await?.with_kube_context(&context);
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
