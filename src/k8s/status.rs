//! `nvcf-dev status`: pods and jobs per namespace, and helm releases from
//! the labels of helm's own storage secrets: no helm binary is needed, and no
//! release payload (which holds every value, secrets included) is downloaded.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde::Serialize;

use super::client::list;
use super::error::KubeError;
use super::readiness::{job_state, pod_counts, JobState};
use super::releases::{record, release_secrets};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceStatus {
    pub namespace: String,
    pub pods_ready: usize,
    pub pods_total: usize,
    pub jobs: Vec<(String, JobState)>,
}

/// Pure: the status of a namespace from its pods and jobs.
pub fn summarize_namespace(ns: &str, pods: &[Pod], jobs: &[Job]) -> NamespaceStatus {
    let c = pod_counts(pods);
    let mut jobs: Vec<(String, JobState)> =
        jobs.iter().map(|j| (j.name_any(), job_state(j))).collect();
    jobs.sort_by(|a, b| a.0.cmp(&b.0));
    NamespaceStatus {
        namespace: ns.to_string(),
        pods_ready: c.ready,
        pods_total: c.total,
        jobs,
    }
}

/// Every pod and job in `ns`.
pub(crate) async fn list_pods_jobs(
    client: &kube::Client,
    ns: &str,
) -> Result<(Vec<Pod>, Vec<Job>), KubeError> {
    let all = ListParams::default();
    let pods = list(Api::namespaced(client.clone(), ns), &all, ns).await?;
    let jobs = list(Api::namespaced(client.clone(), ns), &all, ns).await?;
    Ok((pods, jobs))
}

pub async fn namespace_status(
    client: &kube::Client,
    ns: &str,
) -> Result<NamespaceStatus, KubeError> {
    let (pods, jobs) = list_pods_jobs(client, ns).await?;
    Ok(summarize_namespace(ns, &pods, &jobs))
}

/// One revision of a helm release, from its storage secret's labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelmRelease {
    pub name: String,
    pub namespace: String,
    /// deployed, failed, pending-install, pending-upgrade, superseded, uninstalling ...
    pub status: String,
    pub revision: u32,
}

/// Pure: the latest revision of each release among helm storage secrets.
/// Secrets without helm's labels are skipped, never a panic.
pub fn helm_releases<'a>(secrets: impl IntoIterator<Item = &'a ObjectMeta>) -> Vec<HelmRelease> {
    let mut latest: BTreeMap<(String, String), HelmRelease> = BTreeMap::new();
    for s in secrets {
        let Some((name, r)) = s.labels.as_ref().and_then(record) else {
            continue;
        };
        let namespace = s.namespace.clone().unwrap_or_default();
        let key = (namespace.clone(), name.to_string());
        if latest.get(&key).is_none_or(|l| l.revision < r.revision) {
            let release = HelmRelease {
                name: name.to_string(),
                namespace,
                status: r.status,
                revision: r.revision,
            };
            latest.insert(key, release);
        }
    }
    latest.into_values().collect()
}

/// Helm releases in `ns` (or all namespaces with None).
pub async fn list_helm_releases(
    client: &kube::Client,
    ns: Option<&str>,
) -> Result<Vec<HelmRelease>, KubeError> {
    Ok(helm_releases(
        &release_secrets(client, ns, "owner=helm").await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::fixtures::{fixture, list, obj};

    #[test]
    fn summarizes_pods_and_jobs() {
        let mut pods: Vec<Pod> = list(fixture!("pods_cassandra-init-job.json"));
        pods.push(obj(fixture!("pod_nats-0_ready.json")));
        let jobs: Vec<Job> = list(fixture!("jobs_cassandra-system.json"));
        let s = summarize_namespace("cassandra-system", &pods, &jobs);
        assert_eq!((s.pods_ready, s.pods_total), (1, 1));
        assert_eq!(
            s.jobs,
            [
                (
                    "cassandra-initialize-cluster".to_string(),
                    JobState::Complete
                ),
                ("cassandra-migrations".to_string(), JobState::Running)
            ]
        );
    }

    #[test]
    fn latest_revision_per_release() {
        let secrets: Vec<k8s_openapi::api::core::v1::Secret> =
            list(fixture!("secrets_helm_vault-system.json"));
        assert_eq!(
            helm_releases(secrets.iter().map(|s| &s.metadata)),
            [HelmRelease {
                name: "openbao-server".into(),
                namespace: "vault-system".into(),
                status: "failed".into(),
                revision: 2
            }]
        );
    }
}
