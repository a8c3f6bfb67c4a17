//! Installing Phase 1: each release brought to its desired state as
//! [`crate::phase1::lifecycle`] decides (`helm upgrade --install`, skip,
//! reinstall or recover), in dependency order (nats and cassandra at once,
//! openbao once nats is healthy), while the namespace is watched for
//! progress, and each verified right after.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::k8s::{placement, progress, releases, Check, HealthReport, KubeError};
use crate::model::{Component, ComponentId};
use crate::phase1::charts;
use crate::phase1::ensure::observe;
use crate::phase1::lifecycle::{self, Change, Decision, Desired, Recovery};
use crate::phase1::plan::{ComponentPlan, Plan};
use crate::phase1::schedule::{self, Outcome};
use crate::settings::Settings;
use crate::tools::helm::{Helm, Release};
use crate::tools::runner::RunError;
use crate::ui::{format_duration, Shell};

/// Why a component was not brought to its desired state and verified: one
/// line each, saying what failed, why (from the cluster's own state) and
/// what to do.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("cannot write the values of {component}: {source}")]
    Values {
        component: &'static str,
        source: std::io::Error,
    },
    /// helm refused to render the chart with our values; `why` is helm's
    /// own `Error:` line.
    #[error("the {component} chart does not render with these values ({why}); fix the profile's values.{component}, then run the command again")]
    Render {
        component: &'static str,
        why: String,
    },
    #[error("{problem}; nothing of {release} was installed")]
    Unplaceable {
        problem: String,
        release: &'static str,
    },
    #[error(transparent)]
    Kube(#[from] KubeError),
    /// `diagnosis` is what the namespace shows, e.g. a pod that cannot pull.
    #[error("helm could not install {release} ({why}){}; fix it, then run `nvcf-dev up` again", diagnosis.as_ref().map(|d| format!("; {d}")).unwrap_or_default())]
    Helm {
        release: &'static str,
        why: String,
        diagnosis: Option<String>,
    },
    /// Installed (or left unchanged) but not healthy, or not verifiable;
    /// `what` says which, and for an unchanged one, what reinstalls it.
    #[error("{component} {what}")]
    Unhealthy {
        component: &'static str,
        what: String,
    },
    /// Another helm is changing the release; `state` says which.
    #[error("{release} is {state}")]
    Busy {
        release: &'static str,
        state: String,
    },
    #[error("helm could not uninstall {release} ({error}); `nvcf-dev reset {component}` removes it and its leftovers")]
    Uninstall {
        release: &'static str,
        component: &'static str,
        error: RunError,
    },
    #[error("helm could not roll {release} back to revision {revision} ({error}); `nvcf-dev reset {component}` reinstalls it from scratch")]
    Rollback {
        release: &'static str,
        revision: u32,
        component: &'static str,
        error: RunError,
    },
    #[error("{release} is still not in a state helm can upgrade after recovering it; `nvcf-dev reset {component}` reinstalls it from scratch")]
    StillStuck {
        release: &'static str,
        component: &'static str,
    },
}

/// How long a freshly installed component gets to pass its checks: the
/// OpenBao sidecar unseals on a 10 s loop and NATS routes form after the pods
/// are Ready.
pub const VERIFY_GRACE: Duration = Duration::from_secs(180);

/// The bound on one component's checks in `status`, `up`'s summary and `reset`.
pub const VERIFY_ALL_TIMEOUT: Duration = Duration::from_secs(45);

/// Verifies every planned component, all at once ([`verify_bounded`]).
pub async fn verify_all(client: &kube::Client, plan: &Plan) -> Vec<HealthReport> {
    let checks = plan
        .components
        .iter()
        .map(|cp| verify_bounded(client, cp.component));
    futures::future::join_all(checks).await
}

/// Verifies `c` within [`VERIFY_ALL_TIMEOUT`]; one that cannot be reached is unhealthy.
pub async fn verify_bounded(client: &kube::Client, c: &Component) -> HealthReport {
    let checks = (c.verify)(client, c);
    let detail = match tokio::time::timeout(VERIFY_ALL_TIMEOUT, checks).await {
        Ok(Ok(r)) => return r,
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("the checks took over {}s", VERIFY_ALL_TIMEOUT.as_secs()),
    };
    let check = Check::new("reachable", false, detail);
    HealthReport::new(c.name, vec![check])
}

/// One line per unhealthy check, for an error message.
pub fn unhealthy_summary(report: &HealthReport) -> String {
    report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Fails naming the first unhealthy report, and what shows why; `when`
/// follows "is not healthy" (e.g. " after the reset").
pub fn all_healthy(reports: &[HealthReport], when: &str) -> crate::Result<()> {
    let Some(bad) = reports.iter().find(|r| !r.healthy()) else {
        return Ok(());
    };
    Err(crate::Error::Failed(format!(
        "{} is not healthy{when}: {}; `nvcf-dev logs {}` shows the guide's troubleshooting logs",
        bad.component,
        unhealthy_summary(bad),
        bad.component
    )))
}

/// The health checks as a table: one row per check, ✓ or ✗.
pub fn print_health(shell: &Shell, reports: &[HealthReport]) {
    if shell.is_json() {
        return;
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .flat_map(|r| {
            r.checks.iter().map(move |c| {
                let ok = if c.ok { "✓" } else { "✗" };
                vec![
                    r.component.clone(),
                    c.name.clone(),
                    ok.into(),
                    c.detail.clone(),
                ]
            })
        })
        .collect();
    shell.out(crate::ui::table(
        &["COMPONENT", "CHECK", "OK", "DETAIL"],
        &rows,
    ));
}

pub struct Installer<'a> {
    pub shell: &'a Shell,
    pub settings: &'a Settings,
    pub helm: Helm<'a>,
    pub client: &'a kube::Client,
    pub values_dir: &'a Path,
}

impl Installer<'_> {
    /// Installs and verifies one component, labelling the release with
    /// `desired` (chart, version, values digest: [`lifecycle::desired_all`]
    /// of the plan before its charts were fetched) so the next `up` can tell
    /// whether anything changed. The error is one line: what failed, and
    /// why, from the cluster's own state.
    pub async fn install(
        &self,
        cp: &ComponentPlan,
        desired: &Desired,
    ) -> Result<HealthReport, InstallError> {
        let c = cp.component;
        let started = Instant::now();
        let step = self.shell.step(format!(
            "Installing {} ({} in {})",
            c.name, c.release, c.namespace
        ));
        let file = charts::write_values(self.values_dir, c.name, &cp.values)?;
        let release = cp.release(self.settings, file);
        self.check_placement(cp, &release).await?;
        let shell = self.shell.clone();
        let name = c.name;
        let sink = move |line: String| shell.status(format!("   {name}: {line}"));
        let labels = desired.labels();
        let helm_run = self.helm.upgrade_install_labelled(&release, &labels);
        let (helm_result, pods, jobs) =
            progress::while_watching(self.client, c, &sink, helm_run).await;
        match helm_result {
            Ok(true) => {}
            // helm 3.13 has no --labels: label the new revision ourselves.
            Ok(false) => {
                if let Err(e) = self.label_latest(c, desired).await {
                    tracing::info!("cannot label {}: {e}", c.release);
                }
            }
            Err(e) => {
                step.fail();
                return Err(InstallError::Helm {
                    release: c.release,
                    why: e.why(),
                    diagnosis: progress::diagnosis(self.client, c.namespace, &pods, &jobs).await,
                });
            }
        }
        verified(self.client, c, step, started, false).await
    }

    /// Renders the chart with its values and checks that its workloads fit
    /// the cluster's nodes: a chart that refuses its values (helm's own
    /// `Error:` line), or pods that could never be scheduled, fail here in
    /// seconds rather than after helm's wait.
    async fn check_placement(
        &self,
        cp: &ComponentPlan,
        release: &Release,
    ) -> Result<(), InstallError> {
        let c = cp.component;
        let rendered = self
            .helm
            .template(release)
            .await
            .map_err(|e| InstallError::Render {
                component: c.name,
                why: e.why(),
            })?;
        let nodes = placement::nodes(self.client).await?;
        let workloads = placement::workloads(&rendered);
        match placement::unplaceable(c.name, &workloads, &nodes).first() {
            Some(problem) => Err(InstallError::Unplaceable {
                problem: problem.to_string(),
                release: c.release,
            }),
            None => Ok(()),
        }
    }

    /// Brings every planned component to its `desired` state (install, skip,
    /// upgrade, reinstall or recover: [`crate::phase1::lifecycle`]) as early as
    /// its dependencies allow. `desired` holds every planned component.
    pub async fn install_all(
        &self,
        plan: &Plan,
        desired: &std::collections::BTreeMap<ComponentId, Desired>,
    ) -> Vec<(ComponentId, Outcome<InstallError>)> {
        schedule::run(
            &plan.components,
            |cp| cp.component.id,
            |cp| async move { self.ensure(cp, &desired[&cp.component.id]).await.map(drop) },
        )
        .await
    }

    /// Brings one component's release to `desired`, as decided from the
    /// cluster, then verifies it. Recovery and reinstall re-decide after
    /// acting, so each step is said and each is safe to interrupt.
    pub async fn ensure(
        &self,
        cp: &ComponentPlan,
        desired: &Desired,
    ) -> Result<HealthReport, InstallError> {
        let c = cp.component;
        // Recover or reinstall, then install: at most three decisions.
        for _ in 0..3 {
            let mut decision = observe(self.client, c, desired).await?;
            self.add_changed_keys(cp, &mut decision).await;
            self.shell
                .status(format!(" • {}: {}", c.release, decision.describe()));
            match decision {
                Decision::Install | Decision::Upgrade { .. } => {
                    return self.install(cp, desired).await
                }
                Decision::Skip { .. } => {
                    let title = format!("Verifying {} (unchanged, helm skipped)", c.name);
                    let step = self.shell.step(title);
                    return verified(self.client, c, step, Instant::now(), true).await;
                }
                Decision::Busy { .. } => {
                    return Err(InstallError::Busy {
                        release: c.release,
                        state: decision.describe(),
                    })
                }
                Decision::Reinstall { .. }
                | Decision::Recover {
                    recovery: Recovery::Uninstall,
                    ..
                } => {
                    let step = self
                        .shell
                        .step(format!("Uninstalling {} in {}", c.release, c.namespace));
                    // A step dropped unfinished shows as failed.
                    self.helm
                        .uninstall(c.release, c.namespace, self.settings.install_timeout)
                        .await
                        .map_err(|error| InstallError::Uninstall {
                            release: c.release,
                            component: c.name,
                            error,
                        })?;
                    step.done();
                }
                Decision::Recover {
                    recovery: Recovery::RollbackTo { revision },
                    ..
                } => {
                    let step = self
                        .shell
                        .step(format!("Rolling {} back to revision {revision}", c.release));
                    let timeout = self.settings.install_timeout;
                    self.helm
                        .rollback(c.release, c.namespace, revision, timeout)
                        .await
                        .map_err(|error| InstallError::Rollback {
                            release: c.release,
                            revision,
                            component: c.name,
                            error,
                        })?;
                    step.done();
                }
            }
        }
        Err(InstallError::StillStuck {
            release: c.release,
            component: c.name,
        })
    }

    /// For a values change, the top-level keys that changed, from the
    /// deployed values (read through helm, compared in memory, dropped).
    async fn add_changed_keys(&self, cp: &ComponentPlan, decision: &mut Decision) {
        let Decision::Upgrade { changes, .. } = decision else {
            return;
        };
        for change in changes {
            let Change::Values { keys } = change else {
                continue;
            };
            let c = cp.component;
            if let Ok(deployed) = self.helm.get_values(c.release, c.namespace).await {
                let want = serde_json::to_value(&cp.values).unwrap_or_default();
                *keys = lifecycle::changed_top_level_keys(&deployed, &want);
            }
        }
    }

    /// Labels the revision helm just made, where helm could not (3.13).
    async fn label_latest(&self, c: &Component, desired: &Desired) -> Result<(), KubeError> {
        let records = releases::read(self.client, c.namespace, c.release).await?;
        // Oldest first: the last deployed is the one helm just made.
        let Some(latest) = records.iter().rev().find(|r| r.status == "deployed") else {
            return Ok(());
        };
        releases::label_revision(
            self.client,
            c.namespace,
            c.release,
            latest.revision,
            &desired.labels(),
        )
        .await
    }
}

/// Verifies `c` until healthy or [`VERIFY_GRACE`] runs out, and closes
/// `step` (begun at `started`) with the outcome; `unchanged`: helm was
/// skipped, which the error says. The checks run commands in pods (`bao
/// status`, `nodetool status`) and read logs, which no watch can report on,
/// so this re-checks with a growing pause.
async fn verified(
    client: &kube::Client,
    c: &Component,
    step: crate::ui::Step,
    started: Instant,
    unchanged: bool,
) -> Result<HealthReport, InstallError> {
    let deadline = Instant::now() + VERIFY_GRACE;
    let mut pause = Duration::from_secs(2);
    let problem = loop {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1));
        let problem = match tokio::time::timeout(left, (c.verify)(client, c)).await {
            Ok(Ok(r)) if r.healthy() => {
                step.done_with(format!("healthy in {}", format_duration(started.elapsed())));
                return Ok(r);
            }
            Ok(Ok(r)) => format!("is not healthy: {}", unhealthy_summary(&r)),
            Ok(Err(e)) => format!("could not be verified: {e}"),
            Err(_) => format!("could not be verified within {}s", VERIFY_GRACE.as_secs()),
        };
        if Instant::now() + pause > deadline {
            break problem;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(15));
    };
    step.fail();
    let what = if unchanged {
        let reset = format!("`nvcf-dev reset {}` reinstalls it", c.name);
        format!("is deployed and unchanged but {problem}; {reset}")
    } else {
        format!("installed but {problem}")
    };
    Err(InstallError::Unhealthy {
        component: c.name,
        what,
    })
}
