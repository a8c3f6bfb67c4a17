//! The actions of `down` ([`DownAction`], planned by
//! [`crate::ops::down::actions`]): how each runs.

use std::time::Duration;

use crate::ops::down::{uninstall_order, DownAction, DownOptions};
use crate::settings::Settings;
use crate::steps::Step;
use crate::tools::helm::Helm;
use crate::tools::kind::Kind;
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

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
/// How long each release's uninstall, and its leftovers' deletion, may take.
const UNINSTALL_TIMEOUT: Duration = Duration::from_secs(300);

#[async_trait::async_trait]
impl<'a> Step<DownCtx<'a>> for DownAction {
    fn title(&self, ctx: &DownCtx<'a>) -> String {
        match self {
            DownAction::UninstallReleases { .. } => format!(
                "Uninstalling Phase 1 releases in {}",
                ctx.settings.kube_context()
            ),
            DownAction::DeleteCluster { .. } => {
                format!("Deleting cluster {}", ctx.settings.cluster)
            }
            DownAction::RemoveRegistry => {
                format!("Removing local registry {}", ctx.settings.registry_name)
            }
            DownAction::KeepRegistry => {
                format!("Keeping registry {}", ctx.settings.registry_name)
            }
        }
    }

    /// Removing the registry shows its own line; keeping it is a note.
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
                match tokio::time::timeout(BEST_EFFORT, uninstall_all(ctx)).await {
                    Ok(Ok(note)) => Ok(Some(note)),
                    Ok(Err(e)) => {
                        tracing::info!("uninstall skipped: {e}");
                        Ok(Some("skipped: the cluster is deleted next".into()))
                    }
                    Err(_) => {
                        tracing::info!(
                            "uninstall skipped: it took over {}s",
                            BEST_EFFORT.as_secs()
                        );
                        Ok(Some("skipped: the cluster is deleted next".into()))
                    }
                }
            }
            DownAction::DeleteCluster { kind } => {
                Kind::new(ctx.runner, kind.clone())
                    .delete_cluster(&s.cluster)
                    .await?;
                let dir = crate::state::state_dir()?;
                crate::state::remove_password(&crate::state::cassandra_password_path(
                    &dir, &s.cluster,
                ))?;
                Ok(None)
            }
            DownAction::RemoveRegistry => {
                // `down` asked before its first action.
                let (yes, prompt) = (true, &crate::settings::NoPrompt);
                crate::ops::registry::down(
                    ctx.shell,
                    &s.registry_spec(),
                    ctx.opts.purge,
                    yes,
                    prompt,
                )
                .await?;
                Ok(None)
            }
            DownAction::KeepRegistry => {
                ctx.shell.status(format!(
                    " • Keeping registry {} (--keep-registry)",
                    s.registry_name
                ));
                Ok(None)
            }
        }
    }
}

/// Uninstalls the releases, dependents first, and deletes the stale
/// resources of namespaces `up` created.
async fn uninstall_all(ctx: &DownCtx<'_>) -> crate::Result<String> {
    let context = ctx.settings.kube_context();
    let client = tokio::time::timeout(REACH_TIMEOUT, crate::k8s::client_for_context(&context))
        .await
        .map_err(|_| crate::k8s::KubeError::Timeout {
            context: context.clone(),
            secs: REACH_TIMEOUT.as_secs(),
        })??;
    let helm = Helm::detect(ctx.runner).await?.with_kube_context(&context);
    let mut removed = 0;
    for c in uninstall_order() {
        helm.uninstall(c.release, c.namespace, UNINSTALL_TIMEOUT)
            .await?;
        if crate::k8s::wiring::namespace_is_ours(&client, c.namespace).await? {
            removed += crate::k8s::stale::delete_stale(
                &client,
                c.namespace,
                c.release,
                UNINSTALL_TIMEOUT,
                false,
            )
            .await?
            .len();
        }
    }
    Ok(format!("{removed} stale resources deleted"))
}
