//! `nvcf-dev down`: removes what `up` made, and nothing else. Releases are
//! uninstalled in reverse dependency order and stale resources deleted while
//! the cluster is reachable; then the kind cluster and the registry go.

use std::sync::Arc;
use std::time::Duration;

use crate::model::{self, Component};
use crate::runtime::{RegistrySpec, Runtime};
use crate::settings::{Settings, Target};
use crate::tools::kind::Kind;
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

#[derive(Debug, Clone, Copy, Default)]
pub struct DownOptions {
    pub keep_registry: bool,
    /// Also remove the registry's data volume.
    pub purge: bool,
}

/// What exists now, so `down` can say what it will remove before asking.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Found {
    pub cluster: bool,
    pub registry: bool,
    pub volume: bool,
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

/// What `down` would remove, in words, for the confirmation.
pub fn describe(settings: &Settings, found: &Found, opts: DownOptions) -> Vec<String> {
    let mut what = Vec::new();
    match &settings.target {
        Target::Kind { cluster } => {
            if found.cluster {
                what.push(format!(
                    "kind cluster {cluster} (and the Phase 1 releases in it)"
                ));
            }
            if found.registry && !opts.keep_registry {
                what.push(format!("registry container {}", settings.registry_name));
            }
            if found.volume && opts.purge && !opts.keep_registry {
                what.push(format!(
                    "registry volume {} (the mirrored images)",
                    settings.registry_spec().volume
                ));
            }
        }
        Target::Context { context, .. } => {
            what.push(format!(
                "the Phase 1 releases and their leftovers in context {context}"
            ));
        }
    }
    what
}

pub struct Down<'a> {
    pub shell: &'a Shell,
    pub settings: &'a Settings,
    pub runner: Arc<dyn CommandRunner>,
    pub opts: DownOptions,
}

impl Down<'_> {
    /// What exists, for the kind target.
    pub async fn find(&self, docker: &Runtime, kind: Option<&Kind<'_>>) -> crate::Result<Found> {
        let spec = self.spec();
        let cluster = match kind {
            Some(k) => k.get_clusters().await?.contains(&self.settings.cluster),
            None => !docker
                .kind_node_containers(&self.settings.cluster)
                .await?
                .is_empty(),
        };
        let registry = docker.registry_status(&spec).await?.is_some_and(|s| s.ours);
        Ok(Found {
            cluster,
            registry,
            volume: docker.volume_exists(&spec.volume).await?,
        })
    }

    fn spec(&self) -> RegistrySpec {
        self.settings.registry_spec()
    }

    /// Uninstalls the releases and deletes stale resources in namespaces we
    /// created. Best effort when the cluster is about to be deleted anyway.
    pub async fn clean_releases(&self, best_effort: bool) -> crate::Result<()> {
        let context = self.settings.kube_context();
        let step = self
            .shell
            .step(format!("Uninstalling Phase 1 releases in {context}"));
        // When the cluster is deleted next, cleaning it is a courtesy: bound it.
        let result = if best_effort {
            tokio::time::timeout(Duration::from_secs(120), self.uninstall_all(&context))
                .await
                .unwrap_or_else(|_| {
                    Err(crate::Error::Usage(
                        "uninstalling took over 2 minutes".into(),
                    ))
                })
        } else {
            self.uninstall_all(&context).await
        };
        match result {
            Ok(n) => {
                step.done_with(n);
                Ok(())
            }
            Err(e) if best_effort => {
                step.done_with("skipped: the cluster is deleted next");
                tracing::info!("uninstall skipped: {e}");
                Ok(())
            }
            Err(e) => {
                step.fail();
                Err(e)
            }
        }
    }

    async fn uninstall_all(&self, context: &str) -> crate::Result<String> {
        let client = tokio::time::timeout(
            Duration::from_secs(15),
            crate::k8s::client_for_context(context),
        )
        .await
        .map_err(|_| {
            crate::Error::Usage(format!(
                "the API server of {context} did not answer within 15s"
            ))
        })??;
        let helm = crate::tools::helm::Helm::detect(self.runner.as_ref()).await?;
        let helm = helm.with_kube_context(context);
        let mut removed = 0;
        for c in uninstall_order() {
            helm.uninstall(c.release, c.namespace, Duration::from_secs(300))
                .await?;
            if namespace_is_ours(&client, c.namespace).await? {
                removed += crate::k8s::stale::delete_stale(
                    &client,
                    c.namespace,
                    c.release,
                    Duration::from_secs(300),
                    false,
                )
                .await?
                .len();
            }
        }
        Ok(format!("{removed} stale resources deleted"))
    }

    pub async fn run(&self, found: &Found) -> crate::Result<()> {
        match &self.settings.target {
            Target::Context { .. } => self.clean_releases(false).await,
            Target::Kind { cluster } => {
                if found.cluster {
                    self.clean_releases(true).await?;
                    let step = self.shell.step(format!("Deleting cluster {cluster}"));
                    let program = crate::tools::find("kind")?.display().to_string();
                    Kind::new(self.runner.as_ref(), program)
                        .delete_cluster(cluster)
                        .await?;
                    step.done();
                    let dir = crate::state::state_dir()?;
                    crate::state::remove_password(&crate::state::cassandra_password_path(
                        &dir, cluster,
                    ))?;
                }
                if !self.opts.keep_registry && (found.registry || (self.opts.purge && found.volume))
                {
                    crate::ops::registry::down(self.shell, &self.spec(), self.opts.purge).await?;
                } else if self.opts.keep_registry && found.registry {
                    self.shell.status(format!(
                        " • Keeping registry {} (--keep-registry)",
                        self.settings.registry_name
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Only namespaces `up` created (they carry our label) are cleaned out.
async fn namespace_is_ours(client: &kube::Client, ns: &str) -> crate::Result<bool> {
    use kube::ResourceExt;
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    let found = api
        .get_opt(ns)
        .await
        .map_err(|e| crate::Error::Usage(format!("cannot read namespace {ns}: {e}")))?;
    Ok(found.is_some_and(|n| {
        n.labels()
            .get(crate::runtime::OWNER_LABEL)
            .map(String::as_str)
            == Some(crate::runtime::OWNER_VALUE)
    }))
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
