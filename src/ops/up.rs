//! `nvcf-dev up`: a kind cluster, a local registry wired into it, the
//! Phase 1 namespaces, the charts and images mirrored, Phase 1 installed and
//! verified. Every step is idempotent, so a re-run after Ctrl-C or a failure
//! picks up where it stopped.

use crate::settings::{Prompter, Settings};
use crate::steps::cluster::Host;
use crate::steps::registry::{self, title};
use crate::steps::{self, Ctx, OnCluster, OnClusterStep};
use crate::tools::runner::SystemRunner;
use crate::ui::Shell;

/// The steps after the cluster step, in order, each holding the handles it
/// uses: the kind target's Docker wires the nodes to the local registry.
fn after_cluster(host: &Host) -> Vec<OnClusterStep> {
    let docker = host.docker().cloned();
    let connect = docker.clone().map(OnClusterStep::ConnectRegistry);
    let after = [
        OnClusterStep::Namespaces,
        OnClusterStep::Mirror(docker),
        OnClusterStep::Install,
    ];
    connect.into_iter().chain(after).collect()
}

/// Each step's title, in order, after preflight's: the local registry (for
/// the kind target, before the cluster exists), the cluster, then the steps
/// that use its API. (The tests' view of the order.)
#[cfg_attr(nvcf_dead_code, allow(dead_code))]
pub fn titles(host: &Host, s: &Settings) -> Vec<String> {
    let registry = host.docker().map(|_| title(&s.registry));
    let after = after_cluster(host);
    let after = after.iter().map(OnClusterStep::title);
    registry
        .into_iter()
        .chain([host.title(s)])
        .chain(after)
        .collect()
}

/// Runs every step in [`titles`]' order, stopping at the first failure.
async fn run(host: &Host, ctx: Ctx<'_>) -> crate::Result<()> {
    if let Some(docker) = host.docker() {
        let spec = &ctx.settings.registry;
        let step = ctx.shell.step(title(spec));
        step.done_with(registry::ensure(docker, spec).await?);
    }
    let step = ctx.shell.step(host.title(&ctx.settings));
    let (kube, note) = host.connect(&ctx).await?;
    step.done_with(note);
    let ctx = OnCluster { ctx, kube };
    for step in after_cluster(host) {
        step.run(&ctx).await?;
    }
    Ok(())
}

/// The whole command: one `up` per cluster at a time, on a cluster it may
/// change; then preflight and the steps.
pub async fn up(
    shell: Shell,
    mut settings: Settings,
    prompt: &dyn Prompter,
    yes: bool,
) -> crate::Result<()> {
    let _lock = crate::ops::lock::acquire_for(&settings, "up")?;
    crate::ops::guard::ensure_allowed(&shell, &settings, yes, prompt)?;
    let upstream = settings.upstream_registry.clone();
    crate::phase1::charts::resolve_latest(&mut settings, &shell, &upstream).await?;
    let plan = crate::phase1::plan::build(&settings);
    let runner = SystemRunner;
    let (helm, host) = steps::cluster::preflight(&shell, &runner, &settings).await?;
    let ctx = Ctx {
        shell,
        settings,
        plan,
        runner: &runner,
        helm,
    };
    run(&host, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Env, Flags, NoPrompt, Purpose};

    // The kind target's steps hold a Docker connection: tests/up_steps.rs.
    #[test]
    fn an_existing_context_gets_no_kind_cluster_and_no_registry() {
        let env = Env::from_pairs([("REPOSITORY", "o/t")]);
        let dir = tempfile::tempdir().unwrap();
        let ctx = crate::settings::Context {
            env: &env,
            prompt: &NoPrompt,
            state_dir: Some(dir.path().into()),
        };
        let flags = Flags {
            target: crate::settings::ContextFlags {
                context: Some("my-eks".into()),
            },
            ..Default::default()
        };
        let profile = crate::profile::load("dev").unwrap();
        let s = crate::settings::resolve(profile, "nvcf-dev", &flags, &ctx, Purpose::Plan);
        assert_eq!(
            titles(&Host::Existing, &s.unwrap()),
            [
                "Connecting to context my-eks",
                "Creating namespaces nats-system, vault-system, cassandra-system",
                "Mirroring the charts and images",
                "Installing and verifying Phase 1"
            ]
        );
    }
}
