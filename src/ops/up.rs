//! `nvcf-dev up`: a kind cluster, a local registry wired into it, the
//! Phase 1 namespaces, the charts and images mirrored, Phase 1 installed and
//! verified. Every step is idempotent, so a re-run after Ctrl-C or a failure
//! picks up where it stopped.

use std::sync::Arc;

use crate::settings::{Prompter, Settings};
use crate::steps::connect::{ConnectRegistry, Namespaces};
use crate::steps::install::{Install, Mirror};
use crate::steps::preflight::Host;
use crate::steps::registry::LocalRegistry;
use crate::steps::{self, Ctx, OnCluster, Step};
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

/// The steps of `up` after preflight, in order: those before the cluster
/// exists, the one that reaches it, and those that use its API.
pub struct UpSteps {
    pub before: Vec<Box<dyn Step<Ctx>>>,
    pub cluster: Host,
    pub after: Vec<Box<dyn Step<OnCluster>>>,
}

/// The steps for where Phase 1 goes, each holding the handles it uses:
/// the kind target's Docker runs the local registry and wires the nodes to it.
pub fn steps_for(host: &Host) -> UpSteps {
    let docker = match host {
        Host::Kind { docker, .. } => Some(docker.clone()),
        Host::Existing => None,
    };
    let mut before: Vec<Box<dyn Step<Ctx>>> = Vec::new();
    let mut after: Vec<Box<dyn Step<OnCluster>>> = Vec::new();
    if let Some(docker) = &docker {
        before.push(Box::new(LocalRegistry {
            docker: docker.clone(),
        }));
        after.push(Box::new(ConnectRegistry {
            docker: docker.clone(),
        }));
    }
    after.push(Box::new(Namespaces));
    after.push(Box::new(Mirror { nodes: docker }));
    after.push(Box::new(Install));
    UpSteps {
        before,
        cluster: host.clone(),
        after,
    }
}

impl UpSteps {
    /// Each step's title, in order; preflight's comes before them all.
    /// (The tests' view of the order.)
    #[cfg_attr(nvcf_dead_code, allow(dead_code))]
    pub fn titles(&self, ctx: &OnCluster) -> Vec<String> {
        let mut titles: Vec<String> = self.before.iter().map(|s| s.title(ctx)).collect();
        titles.push(self.cluster.title(ctx));
        titles.extend(self.after.iter().map(|s| s.title(ctx)));
        titles
    }

    /// Runs every step in order, stopping at the first failure.
    pub async fn run(&self, ctx: Ctx) -> crate::Result<OnCluster> {
        let shell = ctx.shell.clone();
        steps::run(&shell, &self.before, &ctx).await?;
        let kube = steps::line(&shell, self.cluster.title(&ctx), async {
            let (kube, note) = self.cluster.connect(&ctx).await?;
            Ok((kube, Some(note)))
        })
        .await?;
        let ctx = OnCluster { ctx, kube };
        steps::run(&shell, &self.after, &ctx).await?;
        Ok(ctx)
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
    let plan = crate::phase1::plan::build(&settings)?;
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
        let plan = crate::phase1::plan::build(&s).unwrap();
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
