//! `nvcf-dev status`: the cluster, the registry, each release, its pods and
//! jobs, and the guide's health checks. Never hangs on an unreachable
//! cluster: every call is bounded and the error says so.

use std::time::Duration;

use serde::Serialize;

use kube::ResourceExt;

use crate::k8s::readiness::job_state;
use crate::k8s::HealthReport;
use crate::ops::registry::RegistryReport;
use crate::settings::{Settings, Target};
use crate::ui::{table, Shell};

/// How long the API server gets to answer before `status`, `logs` and
/// `reset` call it unreachable.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Serialize)]
pub struct StatusReport {
    pub cluster: String,
    pub context: String,
    pub reachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<RegistryReport>,
    pub components: Vec<ComponentStatus>,
    pub healthy: bool,
}

#[derive(Debug, Serialize)]
pub struct ComponentStatus {
    pub name: String,
    pub release: String,
    pub namespace: String,
    pub chart: String,
    pub version: String,
    /// The helm release's status (deployed, failed, pending-install, ...); None when not installed.
    pub release_status: Option<String>,
    pub revision: Option<u32>,
    pub pods_ready: usize,
    pub pods_total: usize,
    pub jobs: Vec<JobStatus>,
    pub health: HealthReport,
}

#[derive(Debug, Serialize)]
pub struct JobStatus {
    pub name: String,
    pub state: String,
}

impl ComponentStatus {
    fn healthy(&self) -> bool {
        self.release_status.as_deref() == Some("deployed") && self.health.healthy()
    }
}

/// `nvcf-dev status`: gathers, prints, and fails when anything is unhealthy.
pub async fn status(shell: &Shell, settings: &Settings) -> crate::Result<()> {
    let report = gather(settings).await?;
    print(shell, &report);
    verdict(&report)
}

/// Gathers the whole status. An unreachable cluster is reported, not raised.
pub async fn gather(settings: &Settings) -> crate::Result<StatusReport> {
    let context = settings.kube_context();
    let registry = match settings.target {
        Target::Kind => {
            let docker = crate::runtime::Runtime::connect().await?;
            Some(crate::ops::registry::report(&docker, &settings.registry).await?)
        }
        Target::Context { .. } => None,
    };
    let mut report = StatusReport {
        cluster: settings.cluster.clone(),
        context: context.clone(),
        registry,
        ..Default::default()
    };
    let client = match crate::k8s::client::reach(&context, REACH_TIMEOUT).await {
        Ok((client, version)) => {
            report.reachable = true;
            report.kubernetes_version = Some(version);
            client
        }
        Err(e) => {
            report.error = Some(e.to_string());
            return Ok(report);
        }
    };
    let plan = crate::phase1::plan::build(settings);
    let healths = crate::phase1::install::verify_all(&client, &plan).await;
    for (cp, health) in plan.components.iter().zip(healths) {
        let c = cp.component;
        let (pods, jobs) = crate::k8s::client::list_pods_jobs(&client, c.namespace).await?;
        let pods = crate::k8s::readiness::pod_counts(&pods);
        let mut jobs: Vec<JobStatus> = (jobs.iter())
            .map(|j| JobStatus {
                name: j.name_any(),
                state: format!("{:?}", job_state(j)).to_lowercase(),
            })
            .collect();
        jobs.sort_by(|a, b| a.name.cmp(&b.name));
        let records = crate::k8s::releases::read(&client, c.namespace, c.release).await?;
        let rel = records.last();
        report.components.push(ComponentStatus {
            name: c.name.into(),
            release: c.release.into(),
            namespace: c.namespace.into(),
            chart: c.chart.into(),
            version: cp.version().unwrap_or("local").to_string(),
            release_status: rel.map(|r| r.status.clone()),
            revision: rel.map(|r| r.revision),
            pods_ready: pods.ready,
            pods_total: pods.total,
            jobs,
            health,
        });
    }
    report.healthy = report.registry.as_ref().is_none_or(|r| r.healthy())
        && report.components.iter().all(ComponentStatus::healthy);
    Ok(report)
}

pub fn print(shell: &Shell, r: &StatusReport) {
    if shell.is_json() {
        shell.json(r);
        return;
    }
    let cluster = match (&r.kubernetes_version, &r.error) {
        (Some(v), _) => format!("{} (context {}, Kubernetes {v})", r.cluster, r.context),
        (None, Some(e)) => format!("{} (context {}): unreachable: {e}", r.cluster, r.context),
        _ => r.cluster.clone(),
    };
    shell.out(format!("Cluster:  {cluster}"));
    if let Some(reg) = &r.registry {
        let images = match reg.images {
            Some(n) => format!("{n} images"),
            None => "no image count".into(),
        };
        shell.out(format!(
            "Registry: {} {}, {}, {images}",
            reg.container,
            reg.state(),
            reg.address.clone().unwrap_or_else(|| "-".into())
        ));
    }
    if r.components.is_empty() {
        return;
    }
    shell.out("");
    let rows: Vec<Vec<String>> = r
        .components
        .iter()
        .map(|c| {
            let jobs: Vec<String> = (c.jobs.iter())
                .map(|j| format!("{} {}", j.name, j.state))
                .collect();
            let jobs = if jobs.is_empty() {
                "-".into()
            } else {
                jobs.join(", ")
            };
            vec![
                c.name.clone(),
                format!("{}/{}", c.namespace, c.release),
                format!("{} {}", c.chart, c.version),
                c.release_status
                    .clone()
                    .unwrap_or_else(|| "not installed".into()),
                format!("{}/{}", c.pods_ready, c.pods_total),
                jobs,
            ]
        })
        .collect();
    shell.out(table(
        &["COMPONENT", "RELEASE", "CHART", "STATUS", "PODS", "JOBS"],
        &rows,
    ));
    shell.out("");
    let reports: Vec<HealthReport> = r.components.iter().map(|c| c.health.clone()).collect();
    crate::phase1::install::print_health(shell, &reports);
}

/// Exits non-zero when anything is unhealthy or unreachable.
pub fn verdict(r: &StatusReport) -> crate::Result<()> {
    if !r.reachable {
        return Err(crate::Error::Failed(format!(
            "cluster {} is unreachable ({}): `nvcf-dev up` creates or repairs it",
            r.cluster,
            r.error.clone().unwrap_or_default()
        )));
    }
    if !r.healthy {
        let bad: Vec<&str> = r
            .components
            .iter()
            .filter(|c| !c.healthy())
            .map(|c| c.name.as_str())
            .collect();
        let what = if bad.is_empty() {
            "the local registry".to_string()
        } else {
            bad.join(", ")
        };
        return Err(crate::Error::Failed(format!(
            "unhealthy: {what}; `nvcf-dev logs <component>` shows the guide's troubleshooting logs"
        )));
    }
    Ok(())
}
