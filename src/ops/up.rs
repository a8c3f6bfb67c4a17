//! `nvcf-dev up`: a kind cluster, a local registry wired into it, the
//! Phase 1 namespaces, the charts and images mirrored, Phase 1 installed and
//! verified. Every step is idempotent, so a re-run after Ctrl-C or a failure
//! picks up where it stopped.

use std::sync::Arc;

use crate::runtime::Runtime;
use crate::settings::{Prompter, Settings};
use crate::steps::preflight::Host;
use crate::steps::registry::{self, title};
use crate::steps::{self, Ctx, OnCluster, OnClusterStep};
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

/// The steps of `up` after preflight, in order: the local registry (for the
/// kind target, before the cluster exists), the one that reaches the
/// cluster, and those that use its API.
pub struct UpSteps {
    /// The kind target's also runs the local registry, before the cluster.
    pub cluster: Host,
    pub after: Vec<OnClusterStep>,
}

/// The steps for where Phase 1 goes, each holding the handles it uses:
/// the kind target's Docker runs the local registry and wires the nodes to it.
pub fn steps_for(host: &Host) -> UpSteps {
    let docker = match host {
        Host::Kind { docker, .. } => Some(docker.clone()),
        Host::Existing => None,
    };
    let connect = docker.clone().map(OnClusterStep::ConnectRegistry);
    let after = connect.into_iter().chain([
        OnClusterStep::Namespaces,
        OnClusterStep::Mirror(docker.clone()),
        OnClusterStep::Install,
    ]);
    UpSteps {
        cluster: host.clone(),
        after: after.collect(),
    }
}

impl UpSteps {
    /// Each step's title, in order; preflight's comes before them all.
    /// (The tests' view of the order.)
    #[cfg_attr(nvcf_dead_code, allow(dead_code))]
    pub fn titles(&self, ctx: &OnCluster) -> Vec<String> {
        let registry = self
            .registry_docker()
            .map(|_| title(&ctx.settings.registry));
        let mut titles: Vec<String> = registry.into_iter().collect();
        titles.push(self.cluster.title(ctx));
        titles.extend(self.after.iter().map(OnClusterStep::title));
        titles
    }

    /// Runs every step in order, stopping at the first failure.
    pub async fn run(&self, ctx: Ctx) -> crate::Result<OnCluster> {
        let shell = ctx.shell.clone();
        if let Some(docker) = self.registry_docker() {
            let spec = &ctx.settings.registry;
            let started = async { Ok(((), Some(registry::ensure(docker, spec).await?))) };
            steps::line(&shell, title(spec), started).await?;
        }
        let kube = steps::line(&shell, self.cluster.title(&ctx), async {
            let (kube, note) = self.cluster.connect(&ctx).await?;
            Ok((kube, Some(note)))
        })
        .await?;
        let ctx = OnCluster { ctx, kube };
        for step in &self.after {
            step.run(&ctx).await?;
        }
        Ok(ctx)
    }

    /// The Docker that runs the local registry; None for an existing cluster.
    fn registry_docker(&self) -> Option<&Runtime> {
        match &self.cluster {
            Host::Kind { docker, .. } => Some(docker),
            Host::Existing => None,
        }
    }
}

/// The whole command: one `up` per cluster at a time, on a cluster it may
/// change; then preflight and the steps.
pub async fn up(
    shell: Shell,
    mut settings: Settings,
    runner: Arc<dyn CommandRunner>,
    prompt: &dyn Prompter,
    yes: bool,
) -> crate::Result<()> {
    let _lock = crate::ops::lock::acquire_for(&settings, "up")?;
    crate::ops::guard::ensure_allowed(&shell, &settings, yes, prompt)?;
    let upstream = settings.upstream_registry.clone();
    crate::phase1::charts::resolve_latest(&mut settings, &shell, &upstream).await?;
    let plan = crate::phase1::plan::build(&settings);
    let (helm_binary, host) =
        steps::preflight::preflight(&shell, runner.as_ref(), &settings).await?;
    let ctx = Ctx {
        shell,
        settings,
        plan,
        runner,
        helm_binary,
    };
    steps_for(&host).run(ctx).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Env, Flags, NoPrompt, Purpose};

    fn settings(flags: Flags) -> Settings {
        let env = Env::from_pairs([("REPOSITORY", "o/t")]);
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::settings::Context {
            env: &env,
            prompt: &NoPrompt,
            state_dir: Some(dir.path().into()),
        };
        crate::settings::resolve(
            crate::profile::load("dev").unwrap(),
            "nvcf-dev",
            &flags,
            &ctx,
            Purpose::Plan,
        )
        .unwrap()
    }

    // The kind target's steps hold a Docker connection: tests/up_steps.rs.
    #[tokio::test]
    async fn an_existing_context_gets_no_kind_cluster_and_no_registry() {
        let s = settings(Flags {
            target: crate::settings::ContextFlags {
                context: Some("my-eks".into()),
            },
            ..Default::default()
        });
        let plan = crate::phase1::plan::build(&s);
        let (shell, _) = Shell::capture(crate::ui::OutputFormat::Text);
        let ctx = Ctx {
            shell,
            settings: s,
            plan,
            runner: Arc::new(crate::tools::runner::RecordingRunner::new()),
            helm_binary: steps::HelmBinary {
                program: "helm".into(),
                version: crate::tools::helm::parse_version("v3.17.3").unwrap(),
            },
        };
        // Never connected: titles ask nothing of the cluster.
        let kube = kube::Client::try_from(kube::Config::new("http://127.0.0.1:1".parse().unwrap()))
            .unwrap();
        let on = OnCluster { ctx, kube };
        assert_eq!(
            steps_for(&Host::Existing).titles(&on),
            [
                "Connecting to context my-eks",
                "Creating namespaces nats-system, vault-system, cassandra-system",
                "Mirroring the charts and images",
                "Installing and verifying Phase 1"
            ]
        );
    }
}
