//! Logs the guide tells you to read when something fails, fetched through
//! the API.

use futures::{AsyncBufReadExt, Stream, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use kube::Api;

use super::client::{get_opt, list};
use super::error::{one_line, KubeError};

/// A log the guide's Troubleshooting sections name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// `kubectl logs -l job-name=<job>`: every pod of the job.
    Job(&'static str),
    /// One pod (and container, when the pod has several).
    Pod {
        pod: &'static str,
        container: Option<&'static str>,
    },
}

fn log_err(pod: &str, e: &dyn std::fmt::Display) -> KubeError {
    KubeError::Logs {
        pod: pod.to_string(),
        detail: one_line(e),
    }
}

/// Whether job `job` exists in `ns`.
pub async fn job_exists(client: &kube::Client, ns: &str, job: &str) -> Result<bool, KubeError> {
    Ok(get_opt::<Job>(client, ns, job).await?.is_some())
}

/// The pods of job `job` (`job-name=<job>`), by name.
pub async fn job_pods(client: &kube::Client, ns: &str, job: &str) -> Result<Vec<Pod>, KubeError> {
    let lp = ListParams::default().labels(&format!("job-name={job}"));
    let mut pods = list(Api::namespaced(client.clone(), ns), &lp, ns).await?;
    pods.sort_by_key(|p: &Pod| p.metadata.name.clone());
    Ok(pods)
}

/// Pod `pod` in `ns`, when it exists.
pub async fn get_pod(client: &kube::Client, ns: &str, pod: &str) -> Result<Option<Pod>, KubeError> {
    get_opt(client, ns, pod).await
}

/// The last `tail` lines of a container.
pub async fn pod_logs_text(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    tail: Option<i64>,
) -> Result<String, KubeError> {
    let lp = LogParams {
        container: container.map(str::to_string),
        tail_lines: tail,
        ..Default::default()
    };
    let logs = Api::<Pod>::namespaced(client.clone(), ns)
        .logs(pod, &lp)
        .await;
    logs.map_err(|e| log_err(pod, &e))
}

/// A container's log as a stream of lines that stays open like `kubectl
/// logs -f` until the container stops or the stream is dropped.
pub async fn follow_pod_logs(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    tail: Option<i64>,
) -> Result<impl Stream<Item = Result<String, KubeError>>, KubeError> {
    let lp = LogParams {
        container: container.map(str::to_string),
        tail_lines: tail,
        follow: true,
        ..Default::default()
    };
    let reader = Api::<Pod>::namespaced(client.clone(), ns)
        .log_stream(pod, &lp)
        .await;
    let reader = reader.map_err(|e| log_err(pod, &e))?;
    let pod = pod.to_string();
    Ok(reader
        .lines()
        .map(move |l| l.map_err(|e| log_err(&pod, &e))))
}
