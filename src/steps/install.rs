//! The last steps of `up`: mirror the charts and images, then install and
//! verify Phase 1. Each shows its own lines, one per chart and per release.

use super::OnCluster;
use crate::phase1::charts;
use crate::phase1::install::{self, Installer};
use crate::phase1::schedule::Outcome;
use crate::runtime::Runtime;
use crate::settings::Target;

/// Mirrors into the local registry (or `--mirror-to`), so the cluster pulls
/// nothing from upstream. What is already there is not asked of upstream, so
/// a second `up` works offline. With `--context` and no `--mirror-to`, the
/// cluster pulls from REGISTRY itself and nothing is mirrored.
/// `nodes`: the kind nodes' Docker, to point containerd at the local
/// registry for images of other registries too; None for an existing cluster.
pub async fn mirror(ctx: &OnCluster<'_>, nodes: Option<&Runtime>) -> crate::Result<()> {
    let s = &ctx.settings;
    let to = match &s.target {
        Target::Kind => None,
        Target::Context { registry, .. } if *registry != s.upstream_registry => {
            Some(registry.clone())
        }
        Target::Context { .. } => return Ok(()),
    };
    let opts = crate::phase1::mirror::MirrorOptions {
        to,
        ..Default::default()
    };
    let report = crate::phase1::mirror::Mirrorer::new(
        &ctx.shell,
        s,
        ctx.runner,
        Some(ctx.helm.clone()),
        opts,
    )?
    .run(&ctx.plan)
    .await?;
    if let Some(docker) = nodes {
        // Images from other registries (e.g. a chart's docker.io
        // defaults) are in the local registry too: containerd looks
        // there first for them as well.
        let files: Vec<(String, String)> =
            crate::phase1::mirror::other_registries(&report, &s.upstream_registry)
                .iter()
                .map(|host| super::wiring::mirror_host_file(host, &s.registry.name))
                .collect();
        if !files.is_empty() {
            super::connect::write_hosts_files(docker, &s.cluster, &files).await?;
        }
    }
    let sum = &report.summary;
    ctx.shell.status(format!(
        " ✓ Mirrored {} charts and images into {} ({} already there, {:.1} MiB copied)",
        report.items.len(),
        report.destination,
        sum.images_already_present,
        sum.bytes_copied as f64 / (1024.0 * 1024.0)
    ));
    Ok(())
}

/// Installs Phase 1 in dependency order, then prints the health summary.
pub async fn install(ctx: &OnCluster<'_>) -> crate::Result<()> {
    let desired = crate::phase1::lifecycle::desired_all(&ctx.plan);
    let all: Vec<_> = ctx.plan.components.iter().map(|c| c.component.id).collect();
    let (plan, dir) = charts::prepare_charts(&ctx.plan, &ctx.settings, &ctx.shell, &all).await?;
    let installer = Installer {
        shell: &ctx.shell,
        settings: &ctx.settings,
        helm: ctx.helm.clone(),
        client: &ctx.kube,
        values_dir: dir.path(),
    };
    let outcomes = installer.install_all(&plan, &desired).await;
    drop(dir);
    let reports = install::verify_all(&ctx.kube, &ctx.plan).await;
    crate::phase1::install::print_health(&ctx.shell, &reports);
    let failures: Vec<String> = outcomes
        .into_iter()
        .filter_map(|(name, o)| match o {
            Outcome::Done => None,
            Outcome::Failed(e) => Some(e.to_string()),
            Outcome::Skipped { because } => {
                Some(format!("{name} was not installed because {because} failed"))
            }
        })
        .collect();
    if !failures.is_empty() {
        return Err(crate::Error::Failed(failures.join("; ")));
    }
    install::all_healthy(&reports, "")?;
    ctx.shell.status(format!(
        "Phase 1 is installed and verified on {} (kubectl --context {})",
        ctx.settings.cluster,
        ctx.settings.kube_context()
    ));
    Ok(())
}
