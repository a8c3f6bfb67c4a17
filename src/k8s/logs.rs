//! Logs the guide tells you to read when something fails, fetched through
//! the API.

use futures::{AsyncBufReadExt, Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams};
use kube::Api;

use super::client::list;
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

/// The last `tail` lines of a container; `previous` for the crashed
/// instance of a crash-looping container.
pub async fn pod_logs_text(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    tail: Option<i64>,
    previous: bool,
) -> Result<String, KubeError> {
    let lp = LogParams {
        container: container.map(str::to_string),
        tail_lines: tail,
        previous,
        ..Default::default()
    };
    Api::<Pod>::namespaced(client.clone(), ns)
        .logs(pod, &lp)
        .await
        .map_err(|e| log_err(pod, &e))
}

/// A container's log as a stream of lines; with `follow` it stays open
/// like `kubectl logs -f` until the container stops or the stream is dropped.
pub async fn pod_logs(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    tail: Option<i64>,
    follow: bool,
) -> Result<impl Stream<Item = Result<String, KubeError>>, KubeError> {
    let lp = LogParams {
        container: container.map(str::to_string),
        tail_lines: tail,
        follow,
        ..Default::default()
    };
    let reader = Api::<Pod>::namespaced(client.clone(), ns)
        .log_stream(pod, &lp)
        .await
        .map_err(|e| log_err(pod, &e))?;
    let pod = pod.to_string();
    Ok(reader
        .lines()
        .map(move |l| l.map_err(|e| log_err(&pod, &e))))
}

/// The last 20 lines of the previous (crashed) instance: what the guide's
/// CrashLoopBackOff advice shows.
pub async fn crash_logs(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    container: &str,
) -> Result<String, KubeError> {
    pod_logs_text(client, ns, pod, Some(container), Some(20), true).await
}

/// The logs of every pod of `job` (selected by the `job-name` label, as
/// the guide's `kubectl logs -l job-name=...`), each headed `==> <pod> <==`.
pub async fn job_logs(
    client: &kube::Client,
    ns: &str,
    job: &str,
    tail: Option<i64>,
) -> Result<String, KubeError> {
    let pods: Vec<Pod> = list(
        Api::namespaced(client.clone(), ns),
        &ListParams::default().labels(&format!("job-name={job}")),
        ns,
    )
    .await?;
    let mut names: Vec<String> = pods
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    names.sort();
    let texts = futures::stream::iter(names.iter())
        .then(|p| async move {
            pod_logs_text(client, ns, p, None, tail, false)
                .await
                .map(|t| format!("==> {p} <==\n{t}"))
        })
        .try_collect::<Vec<_>>()
        .await?;
    Ok(texts.join("\n"))
}
