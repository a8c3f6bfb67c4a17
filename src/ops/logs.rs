//! `nvcf-dev logs <component>`: the logs the guide's Troubleshooting sections
//! name (the init and migration jobs, the server pods), through the API:
//! each under a header, or with `--follow` all streamed at once, prefixed as
//! `kubectl logs --prefix` does when there are several. A log that does not
//! exist (yet) is a note on stderr, not a failure.

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

use crate::k8s::client::get_opt;
use crate::k8s::logs::{follow_pod_logs, pod_logs_text};
use crate::model::{Component, Log};
use crate::ops::status::REACH_TIMEOUT;
use crate::ui::Shell;

/// The guide's `--tail=100`.
pub const DEFAULT_TAIL: i64 = 100;

#[derive(Debug, Clone)]
pub struct LogsOptions {
    pub component: &'static Component,
    pub follow: bool,
    /// Lines from the end of each log; None for all of it.
    pub tail: Option<i64>,
}

/// `--tail N` as the API takes it: a negative N means everything, as in kubectl.
pub fn tail_lines(n: i64) -> Option<i64> {
    (n >= 0).then_some(n)
}

/// One container's log, found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogTarget {
    /// What the guide calls it: `job/<job>` or `pod/<pod>`.
    pub source: String,
    pub pod: String,
    pub container: String,
    /// The job has more than one pod (retries): the header names the pod.
    #[serde(skip)]
    pub one_of_several: bool,
}

impl LogTarget {
    /// `==> job/openbao-server-migrations <==`
    pub fn header(&self) -> String {
        if self.one_of_several {
            format!("==> {} (pod/{}) <==", self.source, self.pod)
        } else {
            format!("==> {} <==", self.source)
        }
    }

    /// `[pod/openbao-server-0/openbao]`, kubectl's `--prefix`.
    pub fn prefix(&self) -> String {
        format!("[pod/{}/{}]", self.pod, self.container)
    }
}

/// Pure: the container to read, preferring the one the guide names when
/// the pod has it, else the pod's first container.
pub fn pick_container(pod: &Pod, wanted: Option<&str>) -> Option<String> {
    let all = &pod.spec.as_ref()?.containers;
    let named = all.iter().find(|c| Some(c.name.as_str()) == wanted);
    named.or(all.first()).map(|c| c.name.clone())
}

/// The one JSON document of `logs -o json`.
#[derive(Debug, Serialize)]
pub struct LogsDocument {
    pub component: String,
    pub namespace: String,
    pub logs: Vec<LogEntry>,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct LogEntry {
    #[serde(flatten)]
    pub target: LogTarget,
    pub lines: Vec<String>,
}

/// The whole command: reach the cluster (bounded), then [`show`].
pub async fn logs(shell: &Shell, context: &str, opts: &LogsOptions) -> crate::Result<()> {
    let (client, _version) = crate::k8s::client::reach(context, REACH_TIMEOUT).await?;
    show(shell, &client, opts).await
}

/// Finds the guide's logs of the component in the cluster; what is missing
/// is returned as notes.
pub async fn find_targets(
    client: &kube::Client,
    c: &Component,
) -> crate::Result<(Vec<LogTarget>, Vec<String>)> {
    let ns = c.namespace;
    let mut targets = Vec::new();
    let mut notes = Vec::new();
    for log in c.logs {
        let job = match log {
            Log::InitJob => c.init_job,
            Log::MigrationsJob => c.migrations_job,
            Log::Server(i) => {
                let pod = format!("{}-{i}", c.statefulset);
                let found = get_opt::<Pod>(client, ns, &pod).await?;
                match found.and_then(|p| pick_container(&p, Some(c.container))) {
                    Some(container) => targets.push(LogTarget {
                        source: format!("pod/{pod}"),
                        pod,
                        container,
                        one_of_several: false,
                    }),
                    None => notes.push(format!("pod/{pod} does not exist in {ns} (yet)")),
                }
                continue;
            }
        };
        // The table names a job for every job log it lists.
        let Some(job) = job else { continue };
        if get_opt::<Job>(client, ns, job).await?.is_none() {
            notes.push(format!("job/{job} does not exist in {ns} (yet)"));
            continue;
        }
        let list = crate::k8s::logs::job_pods(client, ns, job).await?;
        if list.is_empty() {
            notes.push(format!("job/{job} has no pods left in {ns}"));
        }
        let several = list.len() > 1;
        for p in &list {
            let Some(container) = pick_container(p, None) else {
                continue;
            };
            targets.push(LogTarget {
                source: format!("job/{job}"),
                pod: p.metadata.name.clone().unwrap_or_default(),
                container,
                one_of_several: several,
            });
        }
    }
    Ok((targets, notes))
}

/// Prints the logs of `opts.component` to stdout, notes to stderr.
pub async fn show(shell: &Shell, client: &kube::Client, opts: &LogsOptions) -> crate::Result<()> {
    let c = opts.component;
    let ns = c.namespace;
    if opts.follow && shell.is_json() {
        return Err(crate::Error::Failed(
            "--follow streams lines as they come and has no JSON form: drop --output json".into(),
        ));
    }
    // Notes go to stderr in text, into the document in JSON.
    let note = |n: &str| {
        if !shell.is_json() {
            shell.status(format!("note: {n}"))
        }
    };
    let (targets, mut notes) = find_targets(client, c).await?;
    notes.iter().for_each(|n| note(n));
    if targets.is_empty() {
        return Err(crate::Error::Failed(format!(
            "no logs of {} in {ns}: none of its jobs or pods exist; is it installed? (`nvcf-dev status`)",
            c.name
        )));
    }
    if opts.follow {
        return follow(shell, client, ns, &targets, opts.tail).await;
    }
    let mut entries = Vec::new();
    for t in targets {
        match pod_logs_text(client, ns, &t.pod, &t.container, opts.tail).await {
            Ok(text) => {
                if !shell.is_json() {
                    shell.out(t.header());
                    if !text.is_empty() {
                        shell.out(text.trim_end_matches('\n'));
                    }
                }
                entries.push(LogEntry {
                    target: t,
                    lines: text.lines().map(str::to_string).collect(),
                });
            }
            Err(e) => {
                let n = format!("{}: {e}", t.source);
                note(&n);
                notes.push(n);
            }
        }
    }
    if shell.is_json() {
        shell.json(&LogsDocument {
            component: c.name.into(),
            namespace: ns.into(),
            logs: entries,
            notes,
        });
    }
    Ok(())
}

/// Streams every target at once until all end (or Ctrl-C); several are
/// prefixed, a single one is printed as is.
async fn follow(
    shell: &Shell,
    client: &kube::Client,
    ns: &str,
    targets: &[LogTarget],
    tail: Option<i64>,
) -> crate::Result<()> {
    let prefixed = targets.len() > 1;
    let mut streams = Vec::new();
    for t in targets {
        match follow_pod_logs(client, ns, &t.pod, &t.container, tail).await {
            Ok(s) => {
                let prefix = prefixed.then(|| t.prefix());
                streams.push(s.map(move |line| (prefix.clone(), line)).boxed());
            }
            Err(e) => shell.status(format!("note: {}: {e}", t.source)),
        }
    }
    let mut all = futures::stream::select_all(streams);
    while let Some((prefix, line)) = all.next().await {
        match (line, prefix) {
            (Ok(l), Some(p)) => shell.out(format!("{p} {l}")),
            (Ok(l), None) => shell.out(l),
            (Err(e), _) => shell.status(format!("note: {e}")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(containers: &[&str]) -> Pod {
        let cs: Vec<serde_json::Value> = containers
            .iter()
            .map(|n| serde_json::json!({"name": n, "image": "x"}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "openbao-server-0"},
            "spec": {"containers": cs}
        }))
        .unwrap()
    }

    #[test]
    fn the_named_container_is_preferred() {
        let p = pod(&["openbao", "auto-unseal-sidecar"]);
        assert_eq!(
            pick_container(&p, Some("openbao")).as_deref(),
            Some("openbao")
        );
        assert_eq!(
            pick_container(&pod(&["auto-unseal-sidecar", "openbao"]), Some("openbao")).as_deref(),
            Some("openbao")
        );
        assert_eq!(
            pick_container(&pod(&["server"]), Some("openbao")).as_deref(),
            Some("server")
        );
        assert_eq!(pick_container(&pod(&[]), None), None);
    }

    #[test]
    fn headers_and_prefixes_read_like_the_guide_and_kubectl() {
        let t = LogTarget {
            source: "job/openbao-server-migrations".into(),
            pod: "openbao-server-migrations-x7k2p".into(),
            container: "migrations".into(),
            one_of_several: false,
        };
        assert_eq!(t.header(), "==> job/openbao-server-migrations <==");
        assert_eq!(
            t.prefix(),
            "[pod/openbao-server-migrations-x7k2p/migrations]"
        );
        let several = LogTarget {
            one_of_several: true,
            ..t
        };
        assert_eq!(
            several.header(),
            "==> job/openbao-server-migrations (pod/openbao-server-migrations-x7k2p) <=="
        );
    }

    #[test]
    fn a_negative_tail_means_everything() {
        assert_eq!(tail_lines(100), Some(100));
        assert_eq!(tail_lines(0), Some(0));
        assert_eq!(tail_lines(-1), None);
    }
}
