//! The kind cluster: reused when it exists and its nodes run, created from
//! the profile's kind config (piped on stdin) otherwise. Then the kubeconfig
//! context `kind-<name>` is set and a kube client made for it.

use async_trait::async_trait;

use super::{Ctx, Step};
use crate::tools::kind::Kind;

pub struct KindCluster;

#[async_trait]
impl Step for KindCluster {
    fn title(&self, ctx: &Ctx) -> String {
        format!("Creating cluster {}", ctx.settings.cluster)
    }

    async fn execute(&self, ctx: &mut Ctx) -> crate::Result<Option<String>> {
        let cluster = ctx.settings.cluster.clone();
        let program = ctx
            .found
            .kind_program
            .clone()
            .unwrap_or_else(|| "kind".into());
        let kind = Kind::new(ctx.runner.as_ref(), program);
        let exists = kind.get_clusters().await?.contains(&cluster);
        let note = if exists {
            // A cluster whose node containers are gone (e.g. Docker was
            // reset) cannot be reused: say so rather than fail later.
            let nodes = ctx.docker()?.kind_node_containers(&cluster).await?;
            if nodes.is_empty() {
                return Err(crate::Error::Usage(format!(
                    "kind knows cluster `{cluster}` but none of its node containers exist: run `nvcf-dev down` (or `kind delete cluster --name {cluster}`), then `nvcf-dev up` again"
                )));
            }
            let stopped = ctx.docker()?.stopped_kind_nodes(&cluster).await?;
            if !stopped.is_empty() {
                return Err(crate::Error::Usage(format!(
                    "cluster `{cluster}` exists but its node containers are stopped (after a reboot?): run `docker start {}`, then `nvcf-dev up` again",
                    stopped.join(" ")
                )));
            }
            "reused".to_string()
        } else {
            let (template, source) = ctx.settings.profile.kind_config()?;
            let config = crate::steps::wiring::kind_config(&template, &cluster)
                .map_err(|e| crate::Error::Usage(format!("kind config {source}: {e}")))?;
            kind.create_cluster(&cluster, &config).await?;
            "created".to_string()
        };
        kind.export_kubeconfig(&cluster).await?;
        let context = crate::k8s::kind_context(&cluster);
        ctx.found.kube = Some(crate::k8s::client_for_context(&context).await?);
        Ok(Some(format!("{note}, context {context}")))
    }
}

/// `up --context`: an existing cluster, reached through that context.
pub struct ExistingCluster;

#[async_trait]
impl Step for ExistingCluster {
    fn title(&self, ctx: &Ctx) -> String {
        format!("Connecting to context {}", ctx.settings.kube_context())
    }

    async fn execute(&self, ctx: &mut Ctx) -> crate::Result<Option<String>> {
        let client = crate::k8s::client_for_context(&ctx.settings.kube_context()).await?;
        let version = client
            .apiserver_version()
            .await
            .map_err(|e| crate::Error::Usage(format!("cannot reach the API server of context {}: {e}; check the context with `kubectl --context {} get nodes`", ctx.settings.kube_context(), ctx.settings.kube_context())))?;
        ctx.found.kube = Some(client);
        Ok(Some(format!("Kubernetes {}", version.git_version)))
    }
}
