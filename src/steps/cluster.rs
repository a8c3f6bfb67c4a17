//! Where Phase 1 goes ([`Host`]). Preflight finds it, with the tools and the
//! Docker daemon, before anything changes, so a missing tool fails in a
//! second with nothing half-done. The cluster step reaches it and makes the
//! kube client the later steps use: the kind cluster, reused when it exists
//! and its nodes run, created from the profile's kind config (piped on stdin)
//! otherwise, then the kubeconfig context `kind-<name>` set; or, with
//! `--context`, an existing cluster.

use super::{wiring::WiringError, Ctx};
use crate::runtime::Runtime;
use crate::settings::{Settings, Target};
use crate::tools::{self, helm::Helm, kind::Kind, runner::CommandRunner};
use crate::ui::Shell;

/// Where Phase 1 goes, with the handles only that place needs.
pub enum Host {
    /// A kind cluster and the local registry, on this Docker; `kind` is the
    /// kind binary.
    Kind { docker: Runtime, kind: String },
    /// An existing cluster (`--context`): no Docker, no kind.
    Existing,
}

/// The "Checking prerequisites" step: what it found, each handle built once
/// (helm already on the cluster's context).
pub async fn preflight<'a>(
    shell: &Shell,
    runner: &'a dyn CommandRunner,
    settings: &Settings,
) -> crate::Result<(Helm<'a>, Host)> {
    let step = shell.step("Checking prerequisites");
    let helm = Helm::detect(runner)
        .await?
        .with_kube_context(settings.kube_context());
    let mut note = format!("helm {}", helm.version);
    let host = match settings.target {
        Target::Kind => {
            let kind = tools::find("kind")?.display().to_string();
            let docker = Runtime::connect().await?;
            note.push_str(&format!(", Docker {}", docker.server_version().await?));
            Host::Kind { docker, kind }
        }
        Target::Context { .. } => Host::Existing,
    };
    step.done_with(note);
    Ok((helm, host))
}

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

impl Host {
    /// The Docker that runs the local registry; None for an existing cluster.
    pub fn docker(&self) -> Option<&Runtime> {
        match self {
            Host::Kind { docker, .. } => Some(docker),
            Host::Existing => None,
        }
    }

    /// The cluster step's status line.
    pub fn title(&self, s: &Settings) -> String {
        match self {
            Host::Kind { .. } => format!("Creating cluster {}", s.cluster),
            Host::Existing => format!("Connecting to context {}", s.kube_context()),
        }
    }

    /// Reaches the cluster: its client, and a note for the status line.
    pub async fn connect(&self, ctx: &Ctx<'_>) -> crate::Result<(kube::Client, String)> {
        let Host::Kind { docker, kind } = self else {
            // `up --context`: an existing cluster, reached through that context.
            let context = ctx.settings.kube_context();
            let (client, version) = crate::k8s::client::connect(&context).await?;
            return Ok((client, format!("Kubernetes {version}")));
        };
        let cluster = ctx.settings.cluster.clone();
        let kind = Kind::new(ctx.runner, kind.clone());
        let exists = kind.get_clusters().await?.contains(&cluster);
        let note = if exists {
            // A cluster whose node containers are gone (e.g. Docker was
            // reset) cannot be reused: say so rather than fail later.
            let nodes = docker.kind_nodes(&cluster).await?;
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
