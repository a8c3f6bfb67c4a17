//! The actions of `reset <component>` ([`ResetAction`], planned by
//! `ops::reset::reset_plan`) and how they run ([`run`]), filling the
//! [`ResetReport`] as they go.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use serde::Serialize;

use crate::k8s::client::get_opt;
use crate::k8s::releases::read;
use crate::k8s::stale::{delete_stale, ResourceRef};
use crate::k8s::HealthReport;
use crate::model::{Component, ComponentId};
use crate::phase1::install::{self, Installer};
use crate::phase1::plan::Plan;

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

/// Runs the actions in order with `installer` (the charts to reinstall
/// prepared in `plan`), filling `report` as it goes, so a failure still
/// reports what was done. `reset` is the component reset.
pub async fn run(
    actions: &[ResetAction],
    installer: &Installer<'_>,
    plan: &Plan,
    reset: &'static Component,
    report: &mut ResetReport,
) -> crate::Result<()> {
    let (client, shell) = (installer.client, installer.shell);
    // Every component is planned: `plan` is the whole plan, prepared in part.
    let planned = |id: ComponentId| {
        plan.component(id)
            .ok_or_else(|| crate::Error::Internal(format!("{id} is not planned")))
    };
    for action in actions {
        match *action {
            ResetAction::Uninstall { release, namespace } => {
                let step = shell.step(format!("Uninstalling {release} in {namespace}"));
                let helm = &installer.helm;
                helm.uninstall(release, namespace, UNINSTALL_TIMEOUT)
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
                let health = installer.install(planned(component)?).await?;
                report.reinstalled.push(component.to_string());
                report.health.push(health);
            }
            ResetAction::RerunMigrations { component } => {
                let (d, c) = (component.component(), reset);
                if read(client, d.namespace, d.release).await?.is_empty() {
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
                let result = installer.install(planned(component)?).await;
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
                if verified.any(|h| h.component == component.as_str()) {
                    continue; // the install just verified it
                }
                let health = install::verify_bounded(client, component.component()).await;
                report.health.push(health);
            }
        }
    }
    Ok(())
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
