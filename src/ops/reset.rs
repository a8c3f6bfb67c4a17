//! `nvcf-dev reset <component>`: the guide's "Stale resources from previous
//! install" recovery, done completely and verified: helm uninstall, delete
//! the namespace's stale resources and the release's cluster-scoped
//! leftovers and wait until they are gone ([`crate::k8s::stale::delete_stale`]),
//! then reinstall from the local registry and verify. The pure [`reset_plan`]
//! decides which [`ResetAction`]s run; [`execute`] runs them, filling the
//! [`ResetReport`] as it goes.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use serde::Serialize;

use crate::k8s::client::get_opt;
use crate::k8s::stale::{delete_stale, ResourceRef};
use crate::k8s::HealthReport;
use crate::model::{copies_secrets_of, Component, ComponentId};
use crate::ops::status::REACH_TIMEOUT;
use crate::phase1::charts::prepare_charts;
use crate::phase1::install::{self, Installer};
use crate::settings::{Prompter, Settings};
use crate::tools::helm::Helm;
use crate::ui::Shell;

/// How long `helm uninstall` may take.
pub const UNINSTALL_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the stale resources get to disappear, finalizers included.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(300);

/// One step of a reset, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ResetAction {
    /// `helm uninstall`, waiting for the release's resources to go.
    Uninstall {
        release: &'static str,
        namespace: &'static str,
    },
    /// What the guide's `kubectl delete all,cm,secret,pvc,job --all` removes,
    /// plus the release's cluster-scoped leftovers; waited for.
    DeleteStale {
        namespace: &'static str,
        release: &'static str,
    },
    /// `helm upgrade --install` from the local registry (verifies, too).
    Reinstall { component: ComponentId },
    /// A helm upgrade of a component whose migrations copy secrets of the
    /// reset one (openbao copies NATS's), so they are copied again.
    RerunMigrations { component: ComponentId },
    /// The guide's Verify section; its report is the command's result.
    Verify { component: ComponentId },
}

/// The release as found before the reset.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReleaseReport {
    pub name: String,
    pub namespace: String,
    /// Its helm status (deployed, failed, pending-install ...); None when not installed.
    pub status: Option<String>,
    pub revision: Option<u32>,
    pub uninstalled: bool,
}

/// The one JSON document of `reset -o json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResetReport {
    pub component: String,
    pub context: String,
    pub dry_run: bool,
    pub plan: Vec<ResetAction>,
    pub release: ReleaseReport,
    /// Deleted (with `dry_run`: would be deleted).
    pub deleted: Vec<ResourceRef>,
    pub reinstalled: Vec<String>,
    /// Whether the helm upgrade re-ran openbao's migration job; None when
    /// not attempted or not knowable (the job removed itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrations_rerun: Option<bool>,
    pub health: Vec<HealthReport>,
    pub healthy: bool,
}

/// Pure: did the upgrade create the migration job anew? Its uid changes when
/// helm ran the hook again; the same uid means it did not run. A job that is
/// gone afterwards deleted itself (hook-succeeded): unknown.
pub fn migrations_rerun(before: Option<&str>, after: Option<&str>) -> Option<bool> {
    match (before, after) {
        (_, None) => None,
        (Some(b), Some(a)) => Some(a != b),
        (None, Some(_)) => Some(true),
    }
}

/// The steps of `reset <component>`, pure.
pub fn reset_plan(c: &'static Component, no_reinstall: bool) -> Vec<ResetAction> {
    let mut plan = vec![
        ResetAction::Uninstall {
            release: c.release,
            namespace: c.namespace,
        },
        ResetAction::DeleteStale {
            namespace: c.namespace,
            release: c.release,
        },
    ];
    if no_reinstall {
        return plan;
    }
    plan.push(ResetAction::Reinstall { component: c.id });
    plan.push(ResetAction::Verify { component: c.id });
    for d in copies_secrets_of(c) {
        plan.push(ResetAction::RerunMigrations { component: d.id });
        plan.push(ResetAction::Verify { component: d.id });
    }
    plan
}

/// The confirmation question: what will be lost, in words.
pub fn question(c: &Component, context: &str, no_reinstall: bool) -> String {
    let mut q = format!(
        "Reset {} in {context}: uninstall release {} and delete every workload, job, PVC, configmap and secret in {} (its data is lost)",
        c.name, c.release, c.namespace
    );
    if !no_reinstall {
        q.push_str(&format!(", then reinstall {}", c.name));
        for d in copies_secrets_of(c) {
            q.push_str(&format!(" and re-run {}'s migrations", d.name));
        }
    }
    q.push('?');
    q
}

/// What the command asks for, from the command line.
#[derive(Debug, Clone)]
pub struct ResetOptions {
    pub component: &'static Component,
    /// Only clean up: uninstall and delete, no reinstall.
    pub no_reinstall: bool,
    /// List what would be deleted; change nothing.
    pub dry_run: bool,
    /// `--yes`: no confirmation.
    pub yes: bool,
}

/// The whole command: guard, confirmation, then [`execute`] (or
/// [`dry_run`]); prints the result.
pub async fn reset(
    shell: &Shell,
    mut settings: Settings,
    prompt: &dyn Prompter,
    opts: &ResetOptions,
) -> crate::Result<()> {
    let _lock = (!opts.dry_run)
        .then(|| crate::ops::lock::acquire_for(&settings, "reset"))
        .transpose()?;
    if !opts.dry_run && !opts.no_reinstall {
        // A reset reinstalls what was mirrored: `latest` is the newest there.
        let local = settings.image_registry();
        crate::phase1::charts::resolve_latest(&mut settings, shell, &local).await?;
    }
    let settings = &settings;
    let c = opts.component;
    let context = settings.kube_context();
    if !opts.dry_run {
        crate::ops::guard::ensure_allowed(shell, settings, opts.yes, prompt)?;
        crate::ops::guard::confirm(
            shell,
            opts.yes,
            prompt,
            &question(c, &context, opts.no_reinstall),
            &format!("reset {}", c.name),
        )?;
    }
    let (client, _version) = crate::k8s::client::reach(&context, REACH_TIMEOUT).await?;
    let mut report = ResetReport::default();
    let result = if opts.dry_run {
        dry_run(settings, &client, opts, &mut report).await
    } else {
        let runner = crate::tools::runner::SystemRunner;
        let helm = Helm::detect(&runner).await?.with_kube_context(&context);
        execute(shell, settings, &client, helm, opts, &mut report).await
    };
    print(shell, &report);
    result
}

/// The report before anything is done: the plan and the release as found.
async fn begin(
    settings: &Settings,
    client: &kube::Client,
    opts: &ResetOptions,
    report: &mut ResetReport,
) -> crate::Result<()> {
    let c = opts.component;
    *report = ResetReport {
        component: c.name.into(),
        context: settings.kube_context(),
        dry_run: opts.dry_run,
        plan: reset_plan(c, opts.no_reinstall),
        release: ReleaseReport {
            name: c.release.into(),
            namespace: c.namespace.into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let records = crate::k8s::releases::read(client, c.namespace, c.release).await?;
    if let Some(r) = records.last() {
        report.release.status = Some(r.status.clone());
        report.release.revision = Some(r.revision);
    }
    Ok(())
}

/// `--dry-run`: fills `report` with what the plan would delete; no helm,
/// nothing changed.
pub async fn dry_run(
    settings: &Settings,
    client: &kube::Client,
    opts: &ResetOptions,
    report: &mut ResetReport,
) -> crate::Result<()> {
    begin(settings, client, opts, report).await?;
    let c = opts.component;
    report.deleted = delete_stale(client, c.namespace, c.release, DELETE_TIMEOUT, true).await?;
    Ok(())
}

/// Runs the plan's actions in order against `client`, filling `report` as
/// it goes, so a failure still reports what was done.
pub async fn execute(
    shell: &Shell,
    settings: &Settings,
    client: &kube::Client,
    helm: Helm<'_>,
    opts: &ResetOptions,
    report: &mut ResetReport,
) -> crate::Result<()> {
    begin(settings, client, opts, report).await?;
    let c = opts.component;
    // Only the reset component's chart is fetched and fitted.
    let reinstall: Vec<_> = (!opts.no_reinstall).then_some(c.id).into_iter().collect();
    let whole = crate::phase1::plan::build(settings);
    // Labelled as `up` labels them, from the plan before its charts are files.
    let desired = crate::phase1::lifecycle::desired_all(&whole);
    let (plan, dir) = prepare_charts(&whole, settings, shell, &reinstall).await?;
    let installer = Installer {
        shell,
        settings,
        helm,
        client,
        values_dir: dir.path(),
    };
    // Every component is planned: `plan` is the whole plan, prepared in part.
    let planned = |id: ComponentId| {
        plan.component(id)
            .ok_or_else(|| crate::Error::Internal(format!("{id} is not planned")))
    };
    for action in report.plan.clone() {
        match action {
            ResetAction::Uninstall { release, namespace } => {
                let step = shell.step(format!("Uninstalling {release} in {namespace}"));
                (installer.helm)
                    .uninstall(release, namespace, UNINSTALL_TIMEOUT)
                    .await?;
                report.release.uninstalled = report.release.status.is_some();
                if report.release.uninstalled {
                    step.done()
                } else {
                    step.done_with("not installed")
                }
            }
            ResetAction::DeleteStale { namespace, release } => {
                let step = shell.step(format!(
                    "Deleting stale resources in {namespace} and waiting until they are gone"
                ));
                let gone = delete_stale(client, namespace, release, DELETE_TIMEOUT, false).await?;
                for r in &gone {
                    shell.status(format!("   deleted {r}"));
                }
                step.done_with(format!("{} deleted", gone.len()));
                report.deleted.extend(gone);
            }
            ResetAction::Reinstall { component } => {
                let health = installer
                    .install(planned(component)?, &desired[&component])
                    .await?;
                report.reinstalled.push(component.to_string());
                report.health.push(health);
            }
            ResetAction::RerunMigrations { component } => {
                let d = component.component();
                let releases = crate::k8s::releases::read(client, d.namespace, d.release).await?;
                if releases.is_empty() {
                    shell.status(format!(
                        " • {} is not installed: no migrations to re-run",
                        d.name
                    ));
                    continue;
                }
                shell.status(format!(
                    " • {}'s migrations copy {}'s secrets: upgrading {} to run them again",
                    d.name, c.name, d.release
                ));
                let job_uid = || async {
                    let job = get_opt::<Job>(client, d.namespace, d.migrations_job?).await;
                    job.ok().flatten()?.metadata.uid
                };
                let before = job_uid().await;
                let result = installer
                    .install(planned(component)?, &desired[&component])
                    .await;
                let after = job_uid().await;
                report.migrations_rerun = migrations_rerun(before.as_deref(), after.as_deref());
                if let (Some(false), Some(job)) = (report.migrations_rerun, d.migrations_job) {
                    shell.warn(format!(
                        "the upgrade of {} did not run job {job} again (the chart runs it on install only), so {} may hold {}'s old secrets; `nvcf-dev reset {} --yes` runs it from scratch",
                        d.release, d.name, c.name, d.name
                    ));
                }
                report.health.push(result?);
                report.reinstalled.push(component.to_string());
            }
            ResetAction::Verify { component } => {
                let mut verified = report.health.iter();
                if verified.any(|h| h.component == component.component().name) {
                    continue; // the install just verified it
                }
                let health = install::verify_bounded(client, component.component()).await;
                report.health.push(health);
            }
        }
    }
    report.healthy = report.health.iter().all(HealthReport::healthy);
    install::all_healthy(&report.health, " after the reset")?;
    if opts.no_reinstall {
        shell.status(format!(
            "{} was removed from {} (--no-reinstall); `nvcf-dev up` installs it again",
            c.name,
            settings.kube_context()
        ));
        for d in copies_secrets_of(c) {
            shell.status(format!(
                " • {}'s migrations copied {}'s secrets: after reinstalling {}, upgrade {} too (`nvcf-dev up` does both)",
                d.name, c.name, c.name, d.name
            ));
        }
    } else {
        shell.status(format!(
            "{} was reset and is verified on {}",
            c.name,
            settings.kube_context()
        ));
    }
    Ok(())
}

/// Text: for a dry run the list of what would go; otherwise the health
/// table. JSON: the report, one document.
pub fn print(shell: &Shell, r: &ResetReport) {
    if shell.is_json() {
        shell.json(r);
        return;
    }
    if r.dry_run {
        let release = match (&r.release.status, r.release.revision) {
            (Some(s), Some(rev)) => format!(
                "helm release {} in {} ({s}, revision {rev})",
                r.release.name, r.release.namespace
            ),
            _ => format!(
                "helm release {} in {}: not installed, nothing to uninstall",
                r.release.name, r.release.namespace
            ),
        };
        shell.out(format!("Would uninstall {release}"));
        if r.deleted.is_empty() {
            shell.out(format!(
                "Would delete nothing else: {} holds no stale resources",
                r.release.namespace
            ));
        } else {
            shell.out(format!(
                "Would delete {} resources, waiting until they are gone:",
                r.deleted.len()
            ));
            for d in &r.deleted {
                shell.out(format!("  {d}"));
            }
        }
        for a in &r.plan {
            match a {
                ResetAction::Reinstall { component } => {
                    shell.out(format!("Would reinstall {component} and verify it"))
                }
                ResetAction::RerunMigrations { component } => shell.out(format!(
                    "Would upgrade {component} to run its migrations again (they copy {}'s secrets)",
                    r.component
                )),
                _ => {}
            }
        }
        shell.out("Nothing was changed (--dry-run).");
        return;
    }
    if !r.health.is_empty() {
        crate::phase1::install::print_health(shell, &r.health);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{self, ComponentId::*};
    use ResetAction::*;

    fn comp(name: &str) -> &'static Component {
        model::component(name).unwrap()
    }

    #[test]
    fn openbao_is_uninstalled_cleaned_reinstalled_and_verified() {
        assert_eq!(
            reset_plan(comp("openbao"), false),
            [
                Uninstall {
                    release: "openbao-server",
                    namespace: "vault-system"
                },
                DeleteStale {
                    namespace: "vault-system",
                    release: "openbao-server"
                },
                Reinstall { component: Openbao },
                Verify { component: Openbao },
            ]
        );
    }

    #[test]
    fn nats_reruns_openbaos_migrations_afterwards() {
        assert_eq!(
            reset_plan(comp("nats"), false),
            [
                Uninstall {
                    release: "nats",
                    namespace: "nats-system"
                },
                DeleteStale {
                    namespace: "nats-system",
                    release: "nats"
                },
                Reinstall { component: Nats },
                Verify { component: Nats },
                RerunMigrations { component: Openbao },
                Verify { component: Openbao },
            ]
        );
    }

    #[test]
    fn cassandra_touches_only_cassandra() {
        let plan = reset_plan(comp("cassandra"), false);
        assert_eq!(plan.len(), 4);
        assert_eq!(
            plan[1],
            DeleteStale {
                namespace: "cassandra-system",
                release: "cassandra"
            }
        );
        assert!(!plan.iter().any(|a| matches!(a, RerunMigrations { .. })));
    }

    #[test]
    fn no_reinstall_only_cleans_up() {
        for name in ["openbao", "nats", "cassandra"] {
            let c = comp(name);
            assert_eq!(
                reset_plan(c, true),
                [
                    Uninstall {
                        release: c.release,
                        namespace: c.namespace
                    },
                    DeleteStale {
                        namespace: c.namespace,
                        release: c.release
                    },
                ],
                "{name}"
            );
        }
    }

    #[test]
    fn the_question_says_what_is_lost() {
        assert_eq!(
            question(comp("nats"), "kind-nvcf-dev", false),
            "Reset nats in kind-nvcf-dev: uninstall release nats and delete every workload, job, PVC, configmap and secret in nats-system (its data is lost), then reinstall nats and re-run openbao's migrations?"
        );
        assert!(question(comp("openbao"), "kind-x", true).ends_with("(its data is lost)?"));
    }

    #[test]
    fn plan_serializes_as_tagged_actions() {
        let v = serde_json::to_value(reset_plan(comp("openbao"), true)).unwrap();
        assert_eq!(
            v[0],
            serde_json::json!({"action": "uninstall", "release": "openbao-server", "namespace": "vault-system"})
        );
    }

    #[test]
    fn migrations_rerun_is_read_from_the_job_uid() {
        assert_eq!(migrations_rerun(Some("a"), Some("b")), Some(true));
        assert_eq!(migrations_rerun(Some("a"), Some("a")), Some(false));
        assert_eq!(migrations_rerun(None, Some("b")), Some(true));
        assert_eq!(migrations_rerun(Some("a"), None), None);
    }
}
