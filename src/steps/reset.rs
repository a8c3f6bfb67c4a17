//! The actions of `reset <component>` ([`ResetAction`], planned by
//! [`crate::ops::reset::reset_plan`]): how each runs, filling the report as
//! it goes.

use k8s_openapi::api::batch::v1::Job;

use crate::k8s::client::get_opt;
use crate::k8s::stale::delete_stale;
use crate::k8s::status::list_helm_releases;
use crate::k8s::{Check, HealthReport};
use crate::model::{Component, ComponentId};
use crate::phase1::install::{self, Installer};
use crate::phase1::plan::{ComponentPlan, Plan};
use crate::ops::reset::{
    migrations_rerun, ResetAction, ResetReport, DELETE_TIMEOUT, UNINSTALL_TIMEOUT,
};
use crate::steps::Step;
use crate::ui::Shell;

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
                let installed = list_helm_releases(client, Some(d.namespace)).await?;
                if !installed.iter().any(|r| r.name == d.release) {
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
                let h = install::verify(client, d)
                    .await
                    .unwrap_or_else(|e| HealthReport {
                        component: d.name.into(),
                        checks: vec![Check::new("reachable", false, e.to_string())],
                    });
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
