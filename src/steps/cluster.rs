//! The cluster step, which makes the kube client the later steps use: the
//! kind cluster, reused when it exists and its nodes run, created from the
//! profile's kind config (piped on stdin) otherwise, then the kubeconfig
//! context `kind-<name>` set; or, with `--context`, an existing cluster.

use async_trait::async_trait;

use super::{wiring::WiringError, Ctx};
use crate::runtime::Runtime;
use crate::tools::kind::Kind;

/// Why the cluster cannot be used; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("kind knows cluster `{cluster}` but none of its node containers exist: run `nvcf-dev down` (or `kind delete cluster --name {cluster}`), then `nvcf-dev up` again")]
    NodesGone { cluster: String },
    #[error("cluster `{cluster}` exists but its node containers are stopped (after a reboot?): run `docker start {}`, then `nvcf-dev up` again", .nodes.join(" "))]
    NodesStopped { cluster: String, nodes: Vec<String> },
    #[error("kind config {file}: {error}")]
    KindConfig { file: String, error: WiringError },
}

/// A step that reaches the cluster: the client it returns is what the
/// steps after it run with.
#[async_trait]
pub trait Connect: Send + Sync {
    fn title(&self, ctx: &Ctx) -> String;
    /// The client, and a note for the status line.
    async fn connect(&self, ctx: &Ctx) -> crate::Result<(kube::Client, String)>;
}

pub struct KindCluster {
    pub docker: Runtime,
    /// The kind binary.
    pub kind: String,
}

#[async_trait]
impl Connect for KindCluster {
    fn title(&self, ctx: &Ctx) -> String {
        format!("Creating cluster {}", ctx.settings.cluster)
    }

    async fn connect(&self, ctx: &Ctx) -> crate::Result<(kube::Client, String)> {
        let cluster = ctx.settings.cluster.clone();
        let kind = Kind::new(ctx.runner.as_ref(), self.kind.clone());
        let exists = kind.get_clusters().await?.contains(&cluster);
        let note = if exists {
            // A cluster whose node containers are gone (e.g. Docker was
            // reset) cannot be reused: say so rather than fail later.
            let nodes = self.docker.kind_nodes(&cluster).await?;
            if nodes.is_empty() {
                return Err(ClusterError::NodesGone { cluster }.into());
            }
            let stopped = nodes.into_iter().filter(|(_, running)| !running);
            let nodes: Vec<String> = stopped.map(|(name, _)| name).collect();
            if !nodes.is_empty() {
                return Err(ClusterError::NodesStopped { cluster, nodes }.into());
            }
            "reused"
        } else {
            let (template, file) = ctx.settings.profile.kind_config()?;
            let config = super::wiring::kind_config(&template, &cluster)
                .map_err(|error| ClusterError::KindConfig { file, error })?;
            kind.create_cluster(&cluster, &config).await?;
            "created"
        };
        kind.export_kubeconfig(&cluster).await?;
        let context = crate::k8s::kind_context(&cluster);
        let (client, _) = crate::k8s::client::connect(&context).await?;
        Ok((client, format!("{note}, context {context}")))
    }
}

/// `up --context`: an existing cluster, reached through that context.
pub struct ExistingCluster;

#[async_trait]
impl Connect for ExistingCluster {
    fn title(&self, ctx: &Ctx) -> String {
        format!("Connecting to context {}", ctx.settings.kube_context())
    }

    async fn connect(&self, ctx: &Ctx) -> crate::Result<(kube::Client, String)> {
        let context = ctx.settings.kube_context();
        let (client, version) = crate::k8s::client::connect(&context).await?;
        Ok((client, format!("Kubernetes {version}")))
    }
}
