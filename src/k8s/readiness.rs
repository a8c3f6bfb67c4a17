//! Pure readiness and diagnosis over k8s-openapi objects: the guide's Verify
//! and Troubleshooting sections as functions, so they are tested without a
//! cluster and the async code only fetches.

use k8s_openapi::api::batch::v1::{Job, JobCondition};
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod, PodCondition};

/// The Job that owns a pod, from its owner reference (or, for pods whose
/// owner was orphaned, the `job-name` label the Job controller sets).
pub fn job_of(pod: &Pod) -> Option<&str> {
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.kind == "Job")
        .map(|o| o.name.as_str());
    owner.or_else(|| {
        let labels = pod.metadata.labels.as_ref()?;
        labels
            .get("batch.kubernetes.io/job-name")
            .or_else(|| labels.get("job-name"))
            .map(String::as_str)
    })
}

pub fn pod_name(pod: &Pod) -> &str {
    pod.metadata.name.as_deref().unwrap_or("<unnamed>")
}

/// Whether `name` is a pod of StatefulSet `set` (`nats-0`, `cassandra-12`).
pub fn is_ordinal(name: &str, set: &str) -> bool {
    let ordinal = name.strip_prefix(set).and_then(|r| r.strip_prefix('-'));
    ordinal.is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Unknown")
}

/// The pod's condition of type `t`, when its status is `status`.
fn pod_condition<'a>(pod: &'a Pod, t: &str, status: &str) -> Option<&'a PodCondition> {
    let conds = pod.status.as_ref()?.conditions.as_ref()?;
    conds.iter().find(|c| c.type_ == t && c.status == status)
}

/// The pod's `Ready` condition is True.
pub fn pod_is_ready(pod: &Pod) -> bool {
    pod_condition(pod, "Ready", "True").is_some()
}

/// Pods that should be Running and Ready: not job pods (those end
/// Completed/Error), not terminating.
pub fn is_serving_pod(pod: &Pod) -> bool {
    job_of(pod).is_none() && pod.metadata.deletion_timestamp.is_none() && phase(pod) != "Succeeded"
}

/// Ready/total over serving pods, like the READY column summed up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PodCounts {
    pub ready: usize,
    pub total: usize,
}

pub fn pod_counts(pods: &[Pod]) -> PodCounts {
    let serving: Vec<&Pod> = pods.iter().filter(|p| is_serving_pod(p)).collect();
    PodCounts {
        ready: serving.iter().filter(|p| pod_is_ready(p)).count(),
        total: serving.len(),
    }
}

/// A Job's outcome, from its conditions (not from counting pods: a retried
/// job has failed pods and still completes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Complete,
    Failed,
    Running,
}

/// The Job's condition of type `t`, when it is True.
fn job_condition<'a>(job: &'a Job, t: &str) -> Option<&'a JobCondition> {
    let conds = job.status.as_ref()?.conditions.as_ref()?;
    conds.iter().find(|c| c.type_ == t && c.status == "True")
}

pub fn job_state(job: &Job) -> JobState {
    match (job_condition(job, "Complete"), job_condition(job, "Failed")) {
        (Some(_), _) => JobState::Complete,
        (_, Some(_)) => JobState::Failed,
        _ => JobState::Running,
    }
}

/// The Job's Failed condition, e.g. "BackoffLimitExceeded: ...", or "failed".
pub fn job_failure_reason(job: &Job) -> String {
    let c = job_condition(job, "Failed");
    match c.map_or((None, None), |c| (c.reason.clone(), c.message.clone())) {
        (Some(r), Some(m)) => format!("{r}: {m}"),
        (r, m) => r.or(m).unwrap_or_else(|| "failed".into()),
    }
}

/// At least one pod of `job` Succeeded: enough for Cassandra's init job
/// even when its siblings ended in Error.
pub fn job_has_succeeded_pod(pods: &[Pod], job: &str) -> bool {
    pods.iter()
        .any(|p| job_of(p) == Some(job) && phase(p) == "Succeeded")
}

/// Everything serving is Ready and every job Complete. An empty namespace is
/// not ready: helm has not created anything yet.
pub fn namespace_ready(pods: &[Pod], jobs: &[Job]) -> bool {
    let c = pod_counts(pods);
    c.total > 0 && c.ready == c.total && jobs.iter().all(|j| job_state(j) == JobState::Complete)
}

fn all_container_statuses(pod: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let s = pod.status.as_ref();
    let init = s.and_then(|s| s.init_container_statuses.as_ref());
    init.into_iter()
        .chain(s.and_then(|s| s.container_statuses.as_ref()))
        .flatten()
}

fn waiting_reason(cs: &ContainerStatus) -> Option<&str> {
    cs.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

/// Why the scheduler will not place `pod`: its PodScheduled condition, else
/// the newest FailedScheduling event about it.
fn unschedulable_reason(pod: &Pod, events: &[Event]) -> Option<String> {
    let cond = pod_condition(pod, "PodScheduled", "False").and_then(|c| c.message.clone());
    cond.or_else(|| {
        events
            .iter()
            .filter(|e| {
                e.reason.as_deref() == Some("FailedScheduling")
                    && e.involved_object.name.as_deref() == pod.metadata.name.as_deref()
            })
            .max_by_key(|e| {
                e.last_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .or(e.event_time.as_ref().map(|t| t.0))
            })
            .and_then(|e| e.message.clone())
    })
    // The first sentence: "0/1 nodes are available: 1 Insufficient memory."
    // without the preemption tail.
    .map(|m| {
        m.split(" preemption:")
            .next()
            .unwrap_or(&m)
            .trim()
            .to_string()
    })
}

fn unschedulable_hint(reason: &str) -> &'static str {
    if reason.contains("Insufficient memory") || reason.contains("Insufficient cpu") {
        "give Docker more memory/CPU or use the dev profile (replicaCount 1)"
    } else if reason.contains("PersistentVolumeClaim") {
        "check that the storage class exists and can provision the requested size (`kubectl get sc,pvc -A`)"
    } else if reason.contains("node affinity") || reason.contains("selector") {
        "no node matches the configured nodeSelector: remove it or label a node"
    } else {
        "see `kubectl describe pod` for the scheduler's events"
    }
}

/// Why `pod` is stuck in a way that needs the user, one line each with the
/// next step: images it cannot pull, crash-looping containers, else (when
/// Pending) why the scheduler will not place it.
pub fn stuck(pod: &Pod, events: &[Event]) -> Vec<String> {
    let name = pod_name(pod);
    let mut out: Vec<String> = all_container_statuses(pod)
        .filter_map(|cs| match waiting_reason(cs) {
            Some(r @ ("ImagePullBackOff" | "ErrImagePull" | "InvalidImageName")) => Some(format!("pod {name}: cannot pull image {} for container {} ({r}); check the registry/repository in your values and the pull secret", cs.image, cs.name)),
            Some("CrashLoopBackOff") => Some(format!("pod {name}: container {} is crash-looping ({} restarts); see its previous logs: `nvcf-dev logs` or `kubectl logs {name} -c {} --previous`", cs.name, cs.restart_count, cs.name)),
            _ => None,
        })
        .collect();
    let unschedulable = (out.is_empty() && phase(pod) == "Pending")
        .then(|| unschedulable_reason(pod, events))
        .flatten();
    if let Some(reason) = unschedulable {
        let hint = unschedulable_hint(&reason);
        out.push(format!("pod {name} cannot be scheduled: {reason}; {hint}"));
    }
    out
}

/// Diagnoses a namespace from its pods, jobs and events: one line per
/// problem, with the next step.
///
/// Pods of a job that has not failed are skipped: job retries are normal
/// (the guide says so for Cassandra's init job), only a failed Job is a
/// finding. A serving pod that is Running but not Ready is reported with its
/// unready containers (e.g. an OpenBao server that is still sealed).
pub fn diagnose(pods: &[Pod], jobs: &[Job], events: &[Event]) -> Vec<String> {
    let mut out = Vec::new();
    // Job pods are judged through their Job, below.
    for pod in pods.iter().filter(|p| job_of(p).is_none()) {
        let stuck = stuck(pod, events);
        if stuck.is_empty() && is_serving_pod(pod) && !pod_is_ready(pod) {
            let (name, phase) = (pod_name(pod), phase(pod));
            let unready: Vec<&str> = all_container_statuses(pod)
                .filter(|cs| !cs.ready && cs.state.as_ref().is_none_or(|s| s.terminated.is_none()))
                .map(|cs| cs.name.as_str())
                .collect();
            out.push(if unready.is_empty() {
                format!("pod {name} is {phase} and not Ready")
            } else {
                let unready = unready.join(", ");
                format!("pod {name} is {phase} but not Ready: container(s) {unready} not ready")
            });
        }
        out.extend(stuck);
    }
    for job in jobs.iter().filter(|j| job_state(j) == JobState::Failed) {
        let jname = job.metadata.name.as_deref().unwrap_or_default();
        let reason = job_failure_reason(job);
        out.push(format!("job {jname} failed ({reason}); see its logs: `kubectl logs -l job-name={jname} --tail=100`"));
    }
    out
}

/// Joins findings into the one line an error message may carry.
pub fn summarize(findings: &[String]) -> String {
    if findings.is_empty() {
        "no failing pod or job found; `nvcf-dev status` shows what is still starting".into()
    } else {
        findings.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::fixtures::{fixture, list, obj};

    #[test]
    fn counts_ready_serving_pods_and_ignores_job_pods() {
        let mut pods: Vec<Pod> = list(fixture!("pods_cassandra-init-job.json"));
        pods.push(obj(fixture!("pod_nats-0_ready.json")));
        pods.push(obj(fixture!("pod_cassandra-1_pending.json")));
        assert_eq!(pod_counts(&pods), PodCounts { ready: 1, total: 2 });
    }

    #[test]
    fn job_states_come_from_conditions() {
        let jobs: Vec<Job> = list(fixture!("jobs_cassandra-system.json"));
        assert_eq!(job_state(&jobs[0]), JobState::Complete);
        assert_eq!(job_state(&jobs[1]), JobState::Running);
        let failed: Job = obj(fixture!("job_openbao-server-migrations_failed.json"));
        assert_eq!(job_state(&failed), JobState::Failed);
        assert_eq!(
            job_failure_reason(&failed),
            "BackoffLimitExceeded: Job has reached the specified backoff limit"
        );
    }

    #[test]
    fn cassandra_init_errors_are_fine_when_one_pod_completed() {
        let pods: Vec<Pod> = list(fixture!("pods_cassandra-init-job.json"));
        let jobs: Vec<Job> = list(fixture!("jobs_cassandra-system.json"));
        assert!(job_has_succeeded_pod(&pods, "cassandra-initialize-cluster"));
        assert!(!job_has_succeeded_pod(
            &pods[..2],
            "cassandra-initialize-cluster"
        ));
        // Two pods in Error, yet nothing to report: the job completed.
        assert!(diagnose(&pods, &jobs[..1], &[]).is_empty());
    }

    #[test]
    fn pending_pod_reports_the_scheduler_reason() {
        let pod: Pod = obj(fixture!("pod_cassandra-1_pending.json"));
        let f = diagnose(&[pod], &[], &[]);
        assert_eq!(f.len(), 1);
        assert!(f[0].starts_with(
            "pod cassandra-1 cannot be scheduled: 0/1 nodes are available: 1 Insufficient memory.; "
        ));
    }

    #[test]
    fn pending_pod_without_condition_message_uses_failed_scheduling_event() {
        let pod: Pod = obj(fixture!(
            "pod_cassandra-2_pending_no_condition_message.json"
        ));
        let events: Vec<Event> = list(fixture!("events_cassandra-system.json"));
        let f = diagnose(&[pod], &[], &events);
        assert_eq!(f.len(), 1);
        assert!(f[0].starts_with(
            "pod cassandra-2 cannot be scheduled: 0/1 nodes are available: 1 Insufficient memory."
        ));
    }

    #[test]
    fn unbound_pvc_points_at_the_storage_class() {
        let mut pod: Pod = obj(fixture!("pod_cassandra-1_pending.json"));
        let conds = pod.status.as_mut().unwrap().conditions.as_mut().unwrap();
        conds[0].message = Some("0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".into());
        let f = diagnose(&[pod], &[], &[]);
        assert!(f[0].contains("unbound immediate PersistentVolumeClaims"));
        assert!(f[0].contains("storage class"));
    }

    #[test]
    fn image_pull_backoff_names_the_image() {
        let pod: Pod = obj(fixture!("pod_nats-1_imagepullbackoff.json"));
        let f = diagnose(&[pod], &[], &[]);
        assert_eq!(f, ["pod nats-1: cannot pull image localhost:5001/nvcf/nats-server:2.10.22-alpine for container nats (ImagePullBackOff); check the registry/repository in your values and the pull secret"]);
    }

    #[test]
    fn crash_loop_names_the_container_and_failed_job_is_named() {
        let pod: Pod = obj(fixture!("pod_openbao-server-1_crashloop.json"));
        let job: Job = obj(fixture!("job_openbao-server-migrations_failed.json"));
        let f = diagnose(&[pod], &[job], &[]);
        assert!(f[0]
            .starts_with("pod openbao-server-1: container openbao is crash-looping (5 restarts)"));
        assert!(f[1].starts_with("job openbao-server-migrations failed (BackoffLimitExceeded: "));
        assert!(summarize(&f).contains("job openbao-server-migrations failed"));
    }

    #[test]
    fn namespace_is_ready_only_when_jobs_complete() {
        let pods: Vec<Pod> = vec![obj(fixture!("pod_nats-0_ready.json"))];
        let jobs: Vec<Job> = list(fixture!("jobs_cassandra-system.json"));
        assert!(namespace_ready(&pods, &jobs[..1]));
        assert!(!namespace_ready(&pods, &jobs));
        assert!(!namespace_ready(&[], &[]));
    }
}
