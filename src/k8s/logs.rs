//! Logs the guide tells you to read when something fails, fetched through
//! the API.

use futures::{AsyncBufReadExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::LogParams;
use kube::Api;

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

/// The troubleshooting logs per component, as the guide names them.
pub fn troubleshooting_logs(component: &str) -> Vec<LogSource> {
    match component {
        "openbao" => vec![
            LogSource::Job("openbao-server-initialize-cluster"),
            LogSource::Job("openbao-server-migrations"),
            LogSource::Pod {
                pod: "openbao-server-0",
                container: Some("openbao"),
            },
            LogSource::Pod {
                pod: "openbao-server-1",
                container: Some("openbao"),
            },
            LogSource::Pod {
                pod: "openbao-server-2",
                container: Some("openbao"),
            },
        ],
        "cassandra" => vec![
            LogSource::Job("cassandra-migrations"),
            LogSource::Job("cassandra-initialize-cluster"),
            LogSource::Pod {
                pod: "cassandra-0",
                container: Some("cassandra"),
            },
        ],
        "nats" => vec![LogSource::Pod {
            pod: "nats-0",
            container: Some("nats"),
        }],
        _ => vec![],
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guide_names_these_logs() {
        assert_eq!(
            troubleshooting_logs("openbao")[..2],
            [
                LogSource::Job("openbao-server-initialize-cluster"),
                LogSource::Job("openbao-server-migrations")
            ]
        );
        assert_eq!(
            troubleshooting_logs("nats"),
            [LogSource::Pod {
                pod: "nats-0",
                container: Some("nats")
            }]
        );
        assert_eq!(troubleshooting_logs("cassandra").len(), 3);
        assert!(troubleshooting_logs("vault").is_empty());
    }
}
