//! `nvcf-dev up`: a kind cluster, a local registry wired into it, and the
//! Phase 1 namespaces. Every step is idempotent, so a re-run after Ctrl-C or
//! a failure picks up where it stopped.

use std::sync::Arc;

use crate::ops::install;
use crate::ops::schedule::Outcome;
use crate::settings::{Settings, Target};
use crate::steps::{self, Ctx, Step};
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

/// The steps of `up`, in order, for where Phase 1 goes.
pub fn steps_for(settings: &Settings) -> Vec<Box<dyn Step>> {
    let mut list: Vec<Box<dyn Step>> = vec![Box::new(steps::preflight::Preflight)];
    match settings.target {
        Target::Kind { .. } => {
            list.push(Box::new(steps::registry::LocalRegistry));
            list.push(Box::new(steps::cluster::KindCluster));
            list.push(Box::new(steps::connect::ConnectRegistry));
        }
        Target::Context { .. } => list.push(Box::new(steps::cluster::ExistingCluster)),
    }
    list.push(Box::new(steps::connect::Namespaces));
    list
}

pub async fn up(
    shell: Shell,
    mut settings: Settings,
    runner: Arc<dyn CommandRunner>,
) -> crate::Result<()> {
    let upstream = settings.upstream_registry.clone();
    crate::ops::chart_versions::resolve_latest(&mut settings, &shell, &upstream).await?;
    let plan = crate::ops::plan::build(&settings)?;
    let steps = steps_for(&settings);
    let mut ctx = Ctx::new(shell.clone(), settings, plan, runner);
    steps::run(&steps, &mut ctx).await?;
    mirror(&ctx).await?;
    install_and_verify(&ctx).await
}

/// Mirrors into the local registry (or `--mirror-to`), so the cluster pulls
/// nothing from upstream. What is already there is not asked of upstream, so
/// a second `up` works offline. With `--context` and no `--mirror-to`, the
/// cluster pulls from REGISTRY itself and nothing is mirrored.
pub async fn mirror(ctx: &Ctx) -> crate::Result<()> {
    let to = match &ctx.settings.target {
        Target::Kind { .. } => None,
        Target::Context { registry, .. } if *registry != ctx.settings.upstream_registry => {
            Some(registry.clone())
        }
        Target::Context { .. } => return Ok(()),
    };
    let helm = ctx.helm()?;
    let opts = crate::ops::mirror::MirrorOptions {
        to,
        concurrency: 4,
        ..Default::default()
    };
    let report = crate::ops::mirror::Mirrorer::new(&ctx.shell, &ctx.settings, &helm, opts)
        .run(&ctx.plan)
        .await?;
    if let Target::Kind { cluster } = &ctx.settings.target {
        // Images from other registries (e.g. a chart's docker.io defaults) are
        // in the local registry too: point containerd there for them as well.
        let extra = crate::ops::mirror::other_registries(&report, &ctx.settings.upstream_registry);
        if !extra.is_empty() {
            let docker = ctx.docker()?;
            for node in docker.kind_node_containers(cluster).await? {
                for host in &extra {
                    let (dir, contents) =
                        crate::steps::wiring::mirror_host_file(host, &ctx.settings.registry_name);
                    docker
                        .write_file(&node, &format!("{dir}/hosts.toml"), contents.as_bytes())
                        .await?;
                }
            }
        }
    }
    let s = &report.summary;
    ctx.shell.status(format!(
        " ✓ Mirrored {} charts and images into {} ({} already there, {:.1} MiB copied)",
        report.items.len(),
        report.destination,
        s.images_already_present,
        s.bytes_copied as f64 / (1024.0 * 1024.0)
    ));
    Ok(())
}

/// Installs Phase 1 in dependency order, then prints the health summary.
pub async fn install_and_verify(ctx: &Ctx) -> crate::Result<()> {
    let dir = install::private_dir().map_err(|e| {
        crate::Error::Usage(format!("cannot create a private temporary directory: {e}"))
    })?;
    let desired = crate::ops::ensure::desired_all(&ctx.plan);
    let mut plan = ctx.plan.clone();
    let all: Vec<_> = plan.components.iter().map(|c| c.component.id).collect();
    install::prepare_charts(&mut plan, &ctx.settings, dir.path(), &ctx.shell, &all).await?;
    let installer = install::Installer {
        shell: &ctx.shell,
        settings: &ctx.settings,
        helm: ctx.helm()?.with_kube_context(ctx.settings.kube_context()),
        client: ctx.kube()?,
        values_dir: dir.path(),
    };
    let outcomes = installer.install_all(&plan, &desired).await;
    drop(dir);
    let reports = install::verify_all(ctx.kube()?, &ctx.plan).await;
    crate::ops::status::print_health(&ctx.shell, &reports);
    let failures: Vec<String> = outcomes
        .into_iter()
        .filter_map(|(name, o)| match o {
            Outcome::Done => None,
            Outcome::Failed(e) => Some(e),
            Outcome::Skipped { because } => {
                Some(format!("{name} was not installed because {because} failed"))
            }
        })
        .collect();
    if !failures.is_empty() {
        return Err(crate::Error::ChecksFailed(failures.join("; ")));
    }
    if let Some(bad) = reports.iter().find(|r| !r.healthy()) {
        return Err(crate::Error::ChecksFailed(format!(
            "{} is not healthy: {}; `nvcf-dev logs {}` shows the guide's troubleshooting logs",
            bad.component,
            install::unhealthy_summary(bad),
            bad.component
        )));
    }
    ctx.shell.status(format!(
        "Phase 1 is installed and verified on {} (kubectl --context {})",
        ctx.settings.cluster,
        ctx.settings.kube_context()
    ));
    Ok(())
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

    fn titles(s: &Settings) -> Vec<String> {
        let plan = crate::ops::plan::build(s).unwrap();
        let (shell, _) = Shell::capture(crate::ui::OutputFormat::Text);
        let ctx = Ctx::new(
            shell,
            s.clone(),
            plan,
            Arc::new(crate::tools::runner::RecordingRunner::new()),
        );
        steps_for(s).iter().map(|st| st.title(&ctx)).collect()
    }

    #[test]
    fn kind_target_runs_registry_cluster_and_wiring() {
        assert_eq!(
            titles(&settings(Flags::default())),
            [
                "Checking prerequisites",
                "Starting local registry nvcf-dev-registry on 127.0.0.1:5001",
                "Creating cluster nvcf-dev",
                "Connecting the cluster to the local registry",
                "Creating namespaces nats-system, vault-system, cassandra-system"
            ]
        );
    }

    #[test]
    fn an_existing_context_gets_no_kind_cluster_and_no_registry() {
        let s = settings(Flags {
            context: Some("my-eks".into()),
            ..Default::default()
        });
        assert_eq!(
            titles(&s),
            [
                "Checking prerequisites",
                "Connecting to context my-eks",
                "Creating namespaces nats-system, vault-system, cassandra-system"
            ]
        );
    }
}
