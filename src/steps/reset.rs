//! The actions of `reset <component>` ([`ResetAction`], planned by
//! [`crate::ops::reset::reset_plan`]): how each runs, filling the report as
//! it goes.

use crate::k8s::HealthReport;
use crate::model::{Component, ComponentId};
use crate::phase1::install::{self, InstallError, Installer};
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
            ResetAction::Reinstall { component } => format!("Reinstalling {component}"),
            ResetAction::RerunMigrations { component } => {
                format!("Re-running {component}'s migrations")
            }
            ResetAction::Verify { component } => format!("Verifying {component}"),
        }
    }

    /// The reinstall and verification show the installer's own lines.
    fn has_line(&self) -> bool {
        matches!(
            self,
            ResetAction::Uninstall { .. } | ResetAction::DeleteStale { .. }
        )
    }

    async fn execute(&self, ctx: &mut ResetCtx<'a>) -> crate::Result<Option<String>> {
        let client = ctx.installer.client;
        let shell = ctx.installer.shell;
        match self {
            ResetAction::Uninstall { release, namespace } => {
                ctx.installer
                    .helm
                    .uninstall(release, namespace, UNINSTALL_TIMEOUT)
                    .await?;
                ctx.report.release.uninstalled = ctx.report.release.status.is_some();
                Ok((!ctx.report.release.uninstalled).then(|| "not installed".into()))
            }
            ResetAction::DeleteStale { namespace, release } => {
                let gone = crate::k8s::stale::delete_stale(
                    client,
                    namespace,
                    release,
                    DELETE_TIMEOUT,
                    false,
                )
                .await?;
                for r in &gone {
                    shell.status(format!("   deleted {r}"));
                }
                let note = format!("{} deleted", gone.len());
                ctx.report.deleted.extend(gone);
                Ok(Some(note))
            }
            ResetAction::Reinstall { component } => {
                let result = ctx.installer.install(planned(ctx.plan, *component)?).await;
                record(&mut ctx.report, *component, result)?;
                Ok(None)
            }
            ResetAction::RerunMigrations { component } => {
                let d = component.component();
                let c = ctx.reset;
                if !release_exists(client, d).await? {
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
                let job_uid = |job| async move {
                    match job {
                        Some(job) => crate::k8s::status::job_uid(client, d.namespace, job)
                            .await
                            .ok()
                            .flatten(),
                        None => None,
                    }
                };
                let before = job_uid(d.migrations_job).await;
                let result = ctx.installer.install(planned(ctx.plan, *component)?).await;
                let after = job_uid(d.migrations_job).await;
                ctx.report.migrations_rerun = migrations_rerun(before.as_deref(), after.as_deref());
                if let (Some(false), Some(job)) = (ctx.report.migrations_rerun, d.migrations_job) {
                    shell.warn(format!(
                        "the upgrade of {} did not run job {job} again (the chart runs it on install only), so {} may hold {}'s old secrets; `nvcf-dev reset {} --yes` runs it from scratch",
                        d.release, d.name, c.name, d.name
                    ));
                }
                record(&mut ctx.report, *component, result)?;
                Ok(None)
            }
            ResetAction::Verify { component } => {
                if ctx
                    .report
                    .health
                    .iter()
                    .any(|h| h.component == component.as_str())
                {
                    return Ok(None); // the install just verified it
                }
                let d = component.component();
                let h = match install::verify(client, d).await {
                    Ok(h) => h,
                    Err(e) => HealthReport {
                        component: d.name.into(),
                        checks: vec![crate::k8s::Check {
                            name: "reachable".into(),
                            ok: false,
                            detail: e.to_string(),
                        }],
                    },
                };
                ctx.report.health.push(h);
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

/// Records an install's outcome; a failed one still leaves its error.
fn record(
    report: &mut ResetReport,
    component: ComponentId,
    result: Result<HealthReport, InstallError>,
) -> crate::Result<()> {
    let h = result?;
    report.reinstalled.push(component.to_string());
    report.health.push(h);
    Ok(())
}

async fn release_exists(client: &kube::Client, c: &Component) -> crate::Result<bool> {
    Ok(
        crate::k8s::status::list_helm_releases(client, Some(c.namespace))
            .await?
            .iter()
            .any(|r| r.name == c.release),
    )
}
