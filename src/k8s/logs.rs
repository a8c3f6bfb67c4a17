//! Logs the guide tells you to read when something fails, fetched through
//! the API.

use futures::{AsyncBufReadExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use kube::Api;

use super::client::list;
use super::error::{api_err, one_line, KubeError};

fn log_err(pod: &str, e: &dyn std::fmt::Display) -> KubeError {
    let advice = "the pod may be gone or not started yet";
    api_err(format!("read logs of pod `{pod}`"), advice, one_line(e))
}

/// The pods of job `job` (`job-name=<job>`), by name.
pub async fn job_pods(client: &kube::Client, ns: &str, job: &str) -> Result<Vec<Pod>, KubeError> {
    let lp = ListParams::default().labels(&format!("job-name={job}"));
    let mut pods = list(Api::namespaced(client.clone(), ns), &lp, ns).await?;
    pods.sort_by_key(|p: &Pod| p.metadata.name.clone());
    Ok(pods)
}

fn params(container: &str, tail: Option<i64>, follow: bool) -> LogParams {
    LogParams {
        container: Some(container.to_string()),
        tail_lines: tail,
        follow,
        ..Default::default()
    }
}

/// The last `tail` lines of a container.
pub async fn pod_logs_text(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    container: &str,
    tail: Option<i64>,
) -> Result<String, KubeError> {
    let logs = Api::<Pod>::namespaced(client.clone(), ns)
        .logs(pod, &params(container, tail, false))
        .await;
    logs.map_err(|e| log_err(pod, &e))
}

/// A container's log as a stream of lines that stays open like `kubectl
/// logs -f` until the container stops or the stream is dropped.
pub async fn follow_pod_logs(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    container: &str,
    tail: Option<i64>,
) -> Result<impl Stream<Item = Result<String, KubeError>>, KubeError> {
    let reader = Api::<Pod>::namespaced(client.clone(), ns)
        .log_stream(pod, &params(container, tail, true))
        .await;
    let reader = reader.map_err(|e| log_err(pod, &e))?;
    let pod = pod.to_string();
    Ok(reader
        .lines()
        .map(move |l| l.map_err(|e| log_err(&pod, &e))))
}
