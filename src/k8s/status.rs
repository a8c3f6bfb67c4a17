//! `nvcf-dev status`: pods and jobs per namespace.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use super::client::list;
use super::error::KubeError;
use super::readiness::{job_state, pod_counts, JobState, PodCounts};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceStatus {
    pub pods: PodCounts,
    pub jobs: Vec<(String, JobState)>,
}

/// Pure: the status of a namespace from its pods and jobs.
pub fn summarize_namespace(pods: &[Pod], jobs: &[Job]) -> NamespaceStatus {
    let mut jobs: Vec<(String, JobState)> =
        jobs.iter().map(|j| (j.name_any(), job_state(j))).collect();
    jobs.sort_by(|a, b| a.0.cmp(&b.0));
    NamespaceStatus {
        pods: pod_counts(pods),
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
    Ok(summarize_namespace(&pods, &jobs))
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
        let s = summarize_namespace(&pods, &jobs);
        assert_eq!(s.pods, PodCounts { ready: 1, total: 1 });
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
}
