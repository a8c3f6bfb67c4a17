//! The actions of `reset <component>` ([`ResetAction`], planned by
//! `ops::reset::reset_plan`): how each runs, filling the [`ResetReport`] as
//! it goes.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use serde::Serialize;

use crate::k8s::client::get_opt;
use crate::k8s::releases::read;
use crate::k8s::stale::{delete_stale, ResourceRef};
use crate::k8s::{Check, HealthReport};
use crate::model::{Component, ComponentId};
use crate::phase1::install::{self, Installer};
use crate::phase1::plan::{ComponentPlan, Plan};
use crate::steps::Step;
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

/// What the actions of a reset share.
pub struct ResetCtx<'a> {
    pub installer: Installer<'a>,
    /// The plan with the charts to reinstall fetched.
    pub plan: &'a Plan,
    /// The component reset.
    pub reset: &'static Component,
    pub report: ResetReport,
}

impl AsRef<Shell> for ResetCtx<'_> {
    fn as_ref(&self) -> &Shell {
        self.installer.shell
    }
}

#[async_trait::async_trait]
impl<'a> Step<ResetCtx<'a>> for ResetAction {
    fn title(&self, _: &ResetCtx<'a>) -> String {
        match self {
            ResetAction::Uninstall { release, namespace } => {
                format!("Uninstalling {release} in {namespace}")
            }
            ResetAction::DeleteStale { namespace, .. } => {
                format!("Deleting stale resources in {namespace} and waiting until they are gone")
            }
            // The rest show the installer's own lines.
            _ => String::new(),
        }
    }

    fn has_line(&self) -> bool {
        matches!(
            self,
            ResetAction::Uninstall { .. } | ResetAction::DeleteStale { .. }
        )
    }

    async fn execute(&self, ctx: &mut ResetCtx<'a>) -> crate::Result<Option<String>> {
        let client = ctx.installer.client;
        let shell = ctx.installer.shell;
        let report = &mut ctx.report;
        match self {
            ResetAction::Uninstall { release, namespace } => {
                let helm = &ctx.installer.helm;
                helm.uninstall(release, namespace, UNINSTALL_TIMEOUT)
                    .await?;
                report.release.uninstalled = report.release.status.is_some();
                Ok((!report.release.uninstalled).then(|| "not installed".into()))
            }
            ResetAction::DeleteStale { namespace, release } => {
                let gone = delete_stale(client, namespace, release, DELETE_TIMEOUT, false).await?;
                for r in &gone {
                    shell.status(format!("   deleted {r}"));
                }
                let note = format!("{} deleted", gone.len());
                report.deleted.extend(gone);
                Ok(Some(note))
            }
            ResetAction::Reinstall { component } => {
                let result = ctx
                    .installer
                    .install(planned(ctx.plan, *component)?)
                    .await?;
                record(report, *component, result);
                Ok(None)
            }
            ResetAction::RerunMigrations { component } => {
                let (d, c) = (component.component(), ctx.reset);
                if read(client, d.namespace, d.release).await?.is_empty() {
                    shell.status(format!(
                        " • {} is not installed: no migrations to re-run",
                        d.name
                    ));
                    return Ok(None);
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
                let result = ctx.installer.install(planned(ctx.plan, *component)?).await;
                let after = job_uid().await;
                report.migrations_rerun = migrations_rerun(before.as_deref(), after.as_deref());
                if let (Some(false), Some(job)) = (report.migrations_rerun, d.migrations_job) {
                    shell.warn(format!(
                        "the upgrade of {} did not run job {job} again (the chart runs it on install only), so {} may hold {}'s old secrets; `nvcf-dev reset {} --yes` runs it from scratch",
                        d.release, d.name, c.name, d.name
                    ));
                }
                record(report, *component, result?);
                Ok(None)
            }
            ResetAction::Verify { component } => {
                if report
                    .health
                    .iter()
                    .any(|h| h.component == component.as_str())
                {
                    return Ok(None); // the install just verified it
                }
                let d = component.component();
                let unreachable = |e: crate::k8s::KubeError| {
                    let check = Check::new("reachable", false, e.to_string());
                    HealthReport::new(d.name, vec![check])
                };
                let h = install::verify(client, d).await.unwrap_or_else(unreachable);
                report.health.push(h);
                Ok(None)
            }
        }
    }
}

/// The plan of a component `build` made: it plans every component.
fn planned(build: &Plan, id: ComponentId) -> crate::Result<&ComponentPlan> {
    build
        .component(id)
        .ok_or_else(|| crate::Error::Internal(format!("{id} is not planned")))
}

/// Records a successful reinstall.
fn record(report: &mut ResetReport, component: ComponentId, health: HealthReport) {
    report.reinstalled.push(component.to_string());
    report.health.push(health);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_rerun_is_read_from_the_job_uid() {
        assert_eq!(migrations_rerun(Some("a"), Some("b")), Some(true));
        assert_eq!(migrations_rerun(Some("a"), Some("a")), Some(false));
        assert_eq!(migrations_rerun(None, Some("b")), Some(true));
        assert_eq!(migrations_rerun(Some("a"), None), None);
    }
}
