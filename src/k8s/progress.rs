//! Watching a namespace while helm installs into it: progress lines for the
//! user, and what was last seen, which explains a failed install
//! ([`diagnosis`]) instead of a bare timeout. Driven by watchers on Pods and
//! Jobs, never by polling.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::Either;
use futures::{stream, StreamExt};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::ListParams;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, watcher, Event as Watched};
use kube::runtime::WatchStreamExt;
use kube::{Api, ResourceExt};

use super::client::list_pods_jobs;
use super::error::one_line;
use super::readiness::{
    diagnose, is_ordinal, is_serving_pod, job_failure_reason, job_of, job_state, namespace_ready,
    phase, pod_is_ready, pod_name, stuck, summarize, JobState,
};
use crate::model::Component;

/// Turns object updates into de-duplicated progress lines for the user while
/// helm waits. Pure: feed it what the watchers see, in any order, as often
/// as they like.
#[derive(Debug, Default)]
pub struct ProgressTracker {
    /// What is installing: its init job may retry, its server pods' Ready
    /// may carry a note.
    pub component: Option<&'static Component>,
    ready: BTreeMap<String, bool>,
    jobs: BTreeMap<String, JobState>,
    failed_pods: BTreeSet<String>,
    problems: BTreeSet<String>,
}

impl ProgressTracker {
    pub fn on_pod(&mut self, pod: &Pod) -> Vec<String> {
        let name = pod_name(pod).to_string();
        if let Some(job) = job_of(pod) {
            if phase(pod) != "Failed" || !self.failed_pods.insert(name.clone()) {
                return vec![];
            }
            let c = self.component;
            let expected = c.is_some_and(|c| c.init_job_retries && c.init_job == Some(job));
            let retries = if expected {
                "; expected, the job retries"
            } else {
                ""
            };
            return vec![format!("pod {name} of job {job} failed{retries}")];
        }
        if !is_serving_pod(pod) {
            return vec![];
        }
        let ready = pod_is_ready(pod);
        if ready {
            let became = self.ready.insert(name.clone(), true) != Some(true);
            let server = self.component.filter(|c| is_ordinal(&name, c.statefulset));
            let note = server.and_then(|c| c.ready_note);
            let note = note.map_or(String::new(), |n| format!(" ({n})"));
            let line = format!("pod {name} ready{note}");
            return became.then_some(line).into_iter().collect();
        }
        self.ready.insert(name, false);
        // Not Ready alone is just "starting": only a stuck pod is a problem.
        let problems = stuck(pod, &[]).into_iter();
        problems
            .filter(|p| self.problems.insert(p.clone()))
            .collect()
    }

    pub fn on_job(&mut self, job: &Job) -> Vec<String> {
        let name = job.name_any();
        let state = job_state(job);
        if self.jobs.insert(name.clone(), state) == Some(state) {
            return vec![];
        }
        match state {
            JobState::Complete => vec![format!("job {name} complete")],
            JobState::Failed => {
                vec![format!("job {name} failed: {}", job_failure_reason(job))]
            }
            JobState::Running => vec![],
        }
    }
}

/// The objects in `store`, by name.
fn objects<K: Clone + ResourceExt<DynamicType = ()>>(store: &Store<K>) -> Vec<K> {
    let mut all: Vec<K> = store.state().iter().map(|o| K::clone(o)).collect();
    all.sort_by_key(|o| o.name_any());
    all
}

/// Runs `work` (e.g. `helm upgrade --install --wait`) while watching Pods
/// and Jobs in the namespace of `c`, reporting progress lines to `sink`. Returns
/// what `work` returned, and the pods and jobs as last seen, for [`diagnosis`].
pub async fn while_watching<T>(
    client: &kube::Client,
    c: &'static Component,
    sink: &(dyn Fn(String) + Send + Sync),
    work: impl std::future::Future<Output = T>,
) -> (T, Vec<Pod>, Vec<Job>) {
    let ns = c.namespace;
    let (pod_store, pod_writer) = reflector::store();
    let (job_store, job_writer) = reflector::store();
    let config = watcher::Config::default;
    let pods = watcher(Api::<Pod>::namespaced(client.clone(), ns), config())
        .default_backoff()
        .reflect(pod_writer)
        .map(|e| e.map(Either::Left));
    let jobs = watcher(Api::<Job>::namespaced(client.clone(), ns), config())
        .default_backoff()
        .reflect(job_writer)
        .map(|e| e.map(Either::Right));
    let mut updates = std::pin::pin!(stream::select(pods, jobs));
    let mut tracker = ProgressTracker {
        component: Some(c),
        ..Default::default()
    };
    tokio::pin!(work);
    let out = loop {
        let update = tokio::select! {
            out = &mut work => break out,
            update = updates.next() => update,
        };
        let lines = match update {
            // The watch only ends when the API server goes away: keep waiting
            // for the same work (dropping helm would kill it mid-install).
            None => break work.await,
            // The watcher retries with backoff.
            Some(Err(e)) => {
                tracing::debug!("watch in {ns}: {}", one_line(&e));
                continue;
            }
            Some(Ok(Either::Left(Watched::Apply(p) | Watched::InitApply(p)))) => tracker.on_pod(&p),
            Some(Ok(Either::Left(Watched::Delete(p)))) => {
                tracker.ready.remove(pod_name(&p));
                vec![]
            }
            Some(Ok(Either::Right(Watched::Apply(j) | Watched::InitApply(j)))) => {
                tracker.on_job(&j)
            }
            Some(Ok(_)) => vec![],
        };
        lines.into_iter().for_each(sink);
    };
    (out, objects(&pod_store), objects(&job_store))
}

/// Why `ns` is not ready: [`diagnose`] of its pods and jobs plus its
/// events, e.g. "pod cassandra-1 cannot be scheduled: 0/1 nodes are
/// available: 1 Insufficient memory."; None when nothing is wrong there.
/// The namespace is read again (helm can fail before the watch has seen
/// why); what the watch last saw (`seen_pods`, `seen_jobs`) explains it when
/// the read fails, takes longer than [`READ_AGAIN`] or finds nothing wrong
/// (helm's rollback may have removed the failing pods). Events that cannot
/// be listed only make the diagnosis poorer.
pub async fn diagnosis(
    client: &kube::Client,
    ns: &str,
    seen_pods: &[Pod],
    seen_jobs: &[Job],
) -> Option<String> {
    let events = async {
        let api = Api::<Event>::namespaced(client.clone(), ns);
        api.list(&ListParams::default()).await.map(|l| l.items)
    };
    let read = tokio::time::timeout(READ_AGAIN, async {
        tokio::join!(list_pods_jobs(client, ns), events)
    });
    let (now, events) = match read.await {
        Ok((now, events)) => (now.ok(), events.unwrap_or_default()),
        Err(_) => (None, vec![]),
    };
    let seen = (seen_pods.to_vec(), seen_jobs.to_vec());
    let (pods, jobs) = [now, Some(seen)]
        .into_iter()
        .flatten()
        .find(|(pods, jobs)| pods.len() + jobs.len() > 0 && !namespace_ready(pods, jobs))?;
    Some(summarize(&diagnose(&pods, &jobs, &events)))
}

/// How long a failed install's diagnosis waits for the namespace's state.
const READ_AGAIN: std::time::Duration = std::time::Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::fixtures::{fixture, list, obj};

    #[test]
    fn tracker_reports_transitions_once() {
        let mut t = ProgressTracker::default();
        let ready: Pod = obj(fixture!("pod_nats-0_ready.json"));
        assert_eq!(t.on_pod(&ready), ["pod nats-0 ready"]);
        assert!(t.on_pod(&ready).is_empty());
        let pulling: Pod = obj(fixture!("pod_nats-1_imagepullbackoff.json"));
        let evs = t.on_pod(&pulling);
        assert!(
            matches!(&evs[..], [p] if p.contains("cannot pull image") && p.contains("nats-server:2.10.22-alpine"))
        );
        assert!(t.on_pod(&pulling).is_empty());
    }

    #[test]
    fn cassandra_init_errors_are_expected_and_completion_reported() {
        let mut t = ProgressTracker {
            component: Some(&crate::model::CASSANDRA),
            ..Default::default()
        };
        let pods: Vec<Pod> = list(fixture!("pods_cassandra-init-job.json"));
        let evs: Vec<String> = pods.iter().flat_map(|p| t.on_pod(p)).collect();
        assert_eq!(evs.len(), 2);
        assert!(evs.iter().all(
            |e| e.contains("of job cassandra-initialize-cluster failed; expected, the job retries")
        ));
        let jobs: Vec<Job> = list(fixture!("jobs_cassandra-system.json"));
        assert_eq!(
            t.on_job(&jobs[0]),
            ["job cassandra-initialize-cluster complete"]
        );
        assert!(t.on_job(&jobs[1]).is_empty());
    }

    #[test]
    fn openbao_server_ready_carries_the_sealed_caveat() {
        let mut pod: Pod = obj(fixture!("pod_nats-0_ready.json"));
        pod.metadata.name = Some("openbao-server-0".into());
        let mut t = ProgressTracker {
            component: Some(&crate::model::OPENBAO),
            ..Default::default()
        };
        let evs = t.on_pod(&pod);
        assert!(
            matches!(&evs[..], [l] if l.starts_with("pod openbao-server-0 ready (") && l.contains("unsealed"))
        );
    }
}
