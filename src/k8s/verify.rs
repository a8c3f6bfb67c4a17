//! The guide's Verify sections, through the API (no kubectl): pure parsers
//! and report builders, plus thin async functions that fetch pods, jobs,
//! logs and exec output.
//!
//! NATS: the nats container's log, not an exec of `wget .../routez` (no tool
//! or port needed): the server prints `Cluster name is <name>` (the guide's
//! `grep "Cluster Name"` matches nothing) and one `Route connection created`
//! per peer. OpenBao / Cassandra: exec over the websocket, kept thin
//! ([`exec_capture`]) because tower-test cannot mock a websocket upgrade;
//! its output is judged by pure functions tested on recorded output.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::AttachParams;
use kube::Api;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncReadExt;

use super::client::list_pods_jobs;
use super::error::{api_err, one_line, KubeError};
use super::readiness::{
    is_ordinal, job_has_succeeded_pod, job_state, pod_counts, pod_is_ready, pod_name, JobState,
};
use super::releases::deployed_payload;
use crate::model::Component;

/// One verified fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, ok: bool, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            ok,
            detail: detail.into(),
        }
    }
}

/// The Verify section of one component, as data for `status` and `up` (text or JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    pub component: String,
    pub checks: Vec<Check>,
}

impl HealthReport {
    pub fn new(component: &str, checks: Vec<Check>) -> Self {
        let component = component.into();
        HealthReport { component, checks }
    }

    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

// ---------------------------------------------------------------- NATS

/// What a nats-server log says about the cluster: its name (from `[INF]
/// Cluster name is <name>`), and the peers (host only) with a route up.
/// Routes are tracked by `rid`, so a route that was created and later closed
/// does not count.
pub fn parse_nats_log(log: &str) -> (Option<String>, Vec<String>) {
    let mut name = None;
    let mut routes: BTreeMap<&str, &str> = BTreeMap::new();
    for line in log.lines() {
        if let Some((_, rest)) = line.split_once("Cluster name is ") {
            name = Some(rest.trim().to_string());
            continue;
        }
        // "[INF] 10.244.0.8:6222 - rid:5 - Route connection created"
        let parts: Vec<&str> = line.split(" - ").collect();
        let [addr, rid, what, ..] = parts[..] else {
            continue;
        };
        let (addr, rid) = (addr.rsplit(' ').next().unwrap_or_default(), rid.trim());
        if !rid.starts_with("rid:") {
            continue;
        }
        if what.contains("Route connection created") {
            routes.insert(rid, addr);
        } else if what.contains("connection closed") {
            routes.remove(rid);
        }
    }
    // A peer counts once: inbound routes show its ephemeral port, solicited
    // ones :6222, and NATS 2.10 pools several routes per peer.
    let mut routes: Vec<String> = routes
        .into_values()
        .map(|a| crate::registry::reference::host_of(a).to_string())
        .collect();
    routes.sort();
    routes.dedup();
    (name, routes)
}

/// NATS is healthy when all its pods are Ready and nats-0 has a route to
/// every other server pod.
pub fn nats_report(
    c: &Component,
    pods: &[Pod],
    nats0_log: Result<impl AsRef<str>, String>,
) -> HealthReport {
    let mut checks = vec![pods_ready_check(pods)];
    match nats0_log {
        Ok(log) => {
            let (name, routes) = parse_nats_log(log.as_ref());
            let formed = match &name {
                Some(n) => format!("cluster name is {n}"),
                None => format!("{}-0 log has no `Cluster name is` line", c.statefulset),
            };
            checks.push(Check::new("cluster formed", name.is_some(), formed));
            let want = ordinal_pods(pods, c.statefulset).count().saturating_sub(1);
            let (up, peers) = (routes.len(), routes.join(", "));
            let detail = format!("{up} of {want} routes up ({peers})");
            checks.push(Check::new("routes to all peers", up >= want, detail));
        }
        Err(e) => checks.push(Check::new("cluster formed", false, e)),
    }
    HealthReport::new(c.name, checks)
}

/// "pods ready": every pod (and at least one) Ready.
fn pods_ready_check(pods: &[Pod]) -> Check {
    let c = pod_counts(pods);
    let detail = format!("{}/{} pods Ready", c.ready, c.total);
    Check::new("pods ready", c.total > 0 && c.ready == c.total, detail)
}

/// The names of the StatefulSet pods of `set`.
fn ordinal_pods<'a>(pods: &'a [Pod], set: &'a str) -> impl Iterator<Item = &'a str> {
    pods.iter()
        .map(pod_name)
        .filter(move |name| is_ordinal(name, set))
}

// ---------------------------------------------------------------- OpenBao

/// The fields of `bao status -format=json` we judge by. Every field is
/// defaulted: other OpenBao versions add or drop fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct BaoStatus {
    pub initialized: bool,
    pub sealed: bool,
    pub ha_enabled: bool,
    pub raft_committed_index: Option<u64>,
}

/// The exit code kube reports for an exec: Success is 0; a Failure with
/// reason NonZeroExitCode carries the code in `details.causes[ExitCode]`.
pub fn exit_code(status: &Status) -> Option<i32> {
    if status.status.as_deref() == Some("Success") {
        return Some(0);
    }
    let causes = status.details.as_ref()?.causes.as_ref()?;
    let code = causes
        .iter()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))?;
    code.message.as_deref()?.trim().parse().ok()
}

/// `bao status` exits 0 when unsealed, 2 when sealed (still printing JSON),
/// 1 on error. The JSON decides; the exit code only explains a missing one.
pub fn interpret_bao_status(stdout: &str, code: Option<i32>) -> Result<BaoStatus, String> {
    serde_json::from_str::<BaoStatus>(stdout).map_err(|e| match code {
        Some(1) => format!("bao status failed (exit 1): {}", stdout.trim()),
        Some(c) => format!("bao status printed no JSON (exit {c}): {e}"),
        None => format!("bao status printed no JSON: {e}"),
    })
}

/// The OpenBao Verify section: every server pod initialized and unsealed,
/// and both post-install jobs complete.
pub fn openbao_report(
    c: &Component,
    jobs: &[Job],
    statuses: &[(String, Result<BaoStatus, String>)],
) -> HealthReport {
    let mut checks: Vec<Check> = statuses
        .iter()
        .map(|(pod, st)| {
            let name = format!("{pod} unsealed");
            match st {
                Ok(s) => {
                    let index = s.raft_committed_index.map_or("-".into(), |i| i.to_string());
                    let detail = format!(
                        "initialized={} sealed={} ha_enabled={} raft_committed_index={index}",
                        s.initialized, s.sealed, s.ha_enabled
                    );
                    Check::new(&name, s.initialized && !s.sealed, detail)
                }
                Err(e) => Check::new(&name, false, e.clone()),
            }
        })
        .collect();
    checks.extend(job_checks(c, jobs, &[]));
    HealthReport::new(c.name, checks)
}

/// The component's init job, then its migrations job, complete.
fn job_checks(c: &Component, jobs: &[Job], pods: &[Pod]) -> Vec<Check> {
    let retrying = c.init_job_retries.then_some(pods);
    let init = c.init_job.map(|j| job_check(jobs, j, retrying));
    let migrations = c.migrations_job.map(|j| job_check(jobs, j, None));
    init.into_iter().chain(migrations).collect()
}

fn job_check(jobs: &[Job], name: &str, pods: Option<&[Pod]>) -> Check {
    let job = jobs
        .iter()
        .find(|j| j.metadata.name.as_deref() == Some(name));
    let (ok, detail) = match job.map(job_state) {
        Some(JobState::Complete) => (true, "Complete".into()),
        // A retrying init job: one Completed pod is enough (the guide).
        _ if pods.is_some_and(|p| job_has_succeeded_pod(p, name)) => (
            true,
            "one pod Completed (other pods in Error are expected retries)".into(),
        ),
        Some(JobState::Failed) => (
            false,
            format!("Failed: see `nvcf-dev logs` (kubectl logs -l job-name={name})"),
        ),
        Some(JobState::Running) => (false, "still running".into()),
        None => (
            false,
            "job not found (helm hook may have been deleted or not run)".into(),
        ),
    };
    Check::new(&format!("job {name} complete"), ok, detail)
}

// ---------------------------------------------------------------- Cassandra

/// The node lines of `nodetool status` as (code, address): the code is `U`p
/// or `D`own, then `N`ormal, `L`eaving, `J`oining or `M`oving (`UN` is
/// healthy). Headers and datacenter banners are skipped.
pub fn parse_nodetool_status(out: &str) -> Vec<(&str, &str)> {
    out.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (code, address) = (f.next()?, f.next()?);
            let mut c = code.chars();
            let (status, state) = (c.next()?, c.next()?);
            let node = code.len() == 2 && "UD".contains(status) && "NLJM".contains(state);
            node.then_some((code, address))
        })
        .collect()
}

/// The Cassandra Verify section: every node UN (and as many nodes as
/// cassandra pods), the init job done (one Completed pod is enough), the
/// migrations job complete.
pub fn cassandra_report(
    c: &Component,
    pods: &[Pod],
    jobs: &[Job],
    nodetool: Result<impl AsRef<str>, String>,
) -> HealthReport {
    let members = ordinal_pods(pods, c.statefulset).count();
    let nodes_un = match nodetool {
        Ok(out) => {
            let nodes = parse_nodetool_status(out.as_ref());
            let bad: Vec<String> = nodes
                .iter()
                .filter(|(code, _)| *code != "UN")
                .map(|(code, address)| format!("{code} {address}"))
                .collect();
            let (up, all) = (nodes.len() - bad.len(), nodes.len());
            let ok = all > 0 && bad.is_empty() && all >= members;
            let detail = if bad.is_empty() {
                format!("{up}/{all} nodes UN ({members} cassandra pods)")
            } else {
                format!("{up}/{all} nodes UN; not UN: {}", bad.join(", "))
            };
            Check::new("all nodes UN", ok, detail)
        }
        Err(e) => Check::new("all nodes UN", false, e),
    };
    let mut checks = vec![pods_ready_check(pods), nodes_un];
    checks.extend(job_checks(c, jobs, pods));
    HealthReport::new(c.name, checks)
}

/// The value at `pointer` a helm release was deployed with: the supplied
/// one, else its chart's default (helm's release payload keeps both).
fn deployed_value<'v>(release: &'v Value, pointer: &str) -> Option<&'v Value> {
    let supplied = release["config"].pointer(pointer);
    supplied.or_else(|| release["chart"]["values"].pointer(pointer))
}

/// The name of the check that the service roles' passwords agree.
const SERVICE_ROLES: &str = "service roles' password";

/// Phase 2 services log in to Cassandra as service roles, with the password
/// OpenBao's migrations store (DEFAULT_CASSANDRA_PASSWORD); the cassandra
/// chart creates those roles with `serviceRolePassword`. If the two differ,
/// Phase 1 looks healthy and every Phase 2 service fails to log in. Takes the
/// two releases' payloads; no password is ever part of the report.
pub fn service_role_password_check(openbao: Option<&Value>, cassandra: Option<&Value>) -> Check {
    let (Some(openbao), Some(cassandra)) = (openbao, cassandra) else {
        return Check::new(
            SERVICE_ROLES,
            true,
            "compared once both openbao-server and cassandra are deployed",
        );
    };
    let env = deployed_value(openbao, "/openbao/migrations/env").and_then(Value::as_array);
    let handed_out = env
        .and_then(|env| {
            env.iter()
                .find(|e| e["name"] == "DEFAULT_CASSANDRA_PASSWORD")
        })
        .and_then(|e| e["value"].as_str());
    let roles = deployed_value(cassandra, "/cassandra/serviceRolePassword");
    let (ok, detail) = match (handed_out, roles.and_then(Value::as_str)) {
        (Some(a), Some(b)) if a == b => (
            true,
            "cassandra.serviceRolePassword matches OpenBao's DEFAULT_CASSANDRA_PASSWORD",
        ),
        (Some(_), Some(_)) => (
            false,
            "cassandra.serviceRolePassword differs from OpenBao's DEFAULT_CASSANDRA_PASSWORD, so Phase 2 services cannot log in to Cassandra: run `nvcf-dev reset cassandra`, which installs both from the same password",
        ),
        (None, _) => (
            false,
            "openbao-server was deployed without DEFAULT_CASSANDRA_PASSWORD in openbao.migrations.env: run `nvcf-dev reset openbao`",
        ),
        (_, None) => (
            false,
            "cassandra was deployed without cassandra.serviceRolePassword: run `nvcf-dev reset cassandra`",
        ),
    };
    Check::new(SERVICE_ROLES, ok, detail)
}

// ---------------------------------------------------------------- async

/// What an exec produced.
#[derive(Debug, Clone, Default)]
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    /// From the Status object kube sends at the end; None if it sent none.
    pub exit_code: Option<i32>,
}

/// How long one check (an exec or a log read) may take. An exec stream has
/// no read timeout of its own, and `bao status` during a raft join or
/// `nodetool` while the JVM starts can stall: a stalled check is a failed check.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs `command` in a container and collects its output and exit code,
/// within [`CHECK_TIMEOUT`].
pub async fn exec_capture(
    client: &kube::Client,
    ns: &str,
    pod: &str,
    container: &str,
    command: &[&str],
) -> Result<ExecOutput, KubeError> {
    let action = format!("exec `{}` in `{pod}`/{container}", command.join(" "));
    let err = |detail| api_err(action.clone(), "check that the pod is Running", detail);
    let run = async {
        // The default attaches stdout and stderr.
        let ap = AttachParams::default().container(container);
        let mut proc = Api::<Pod>::namespaced(client.clone(), ns)
            .exec(pod, command.iter().copied(), &ap)
            .await
            .map_err(|e| err(one_line(&e)))?;
        let status = proc.take_status();
        let mut out = ExecOutput::default();
        let (mut stdout, mut stderr) = (proc.stdout(), proc.stderr());
        tokio::join!(
            async { Some(stdout.as_mut()?.read_to_string(&mut out.stdout).await) },
            async { Some(stderr.as_mut()?.read_to_string(&mut out.stderr).await) },
        );
        if let Some(status) = status {
            out.exit_code = status.await.as_ref().and_then(exit_code);
        }
        drop((stdout, stderr));
        proc.join().await.map_err(|e| err(one_line(&e)))?;
        Ok(out)
    };
    let secs = CHECK_TIMEOUT.as_secs();
    tokio::time::timeout(CHECK_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| Err(err(format!("no answer within {secs}s"))))
}

/// Verifies NATS (pods Ready, cluster formed with routes to all peers).
pub async fn verify_nats(client: &kube::Client, c: &Component) -> Result<HealthReport, KubeError> {
    let ns = c.namespace;
    let (pods, _) = list_pods_jobs(client, ns).await?;
    let pod = format!("{}-0", c.statefulset);
    let read = super::logs::pod_logs_text(client, ns, &pod, c.container, None);
    let log = match tokio::time::timeout(CHECK_TIMEOUT, read).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no log within {}s", CHECK_TIMEOUT.as_secs())),
    };
    Ok(nats_report(c, &pods, log))
}

/// Verifies OpenBao: `bao status -format=json` in every server pod, and the
/// two jobs.
pub async fn verify_openbao(
    client: &kube::Client,
    c: &Component,
) -> Result<HealthReport, KubeError> {
    let (ns, set) = (c.namespace, c.statefulset);
    let (pods, jobs) = list_pods_jobs(client, ns).await?;
    let mut servers: Vec<&str> = ordinal_pods(&pods, set).collect();
    servers.sort();
    let mut statuses = Vec::new();
    for pod in servers {
        let bao_status = ["bao", "status", "-format=json"];
        let st = match exec_capture(client, ns, pod, c.container, &bao_status).await {
            Ok(o) => interpret_bao_status(&o.stdout, o.exit_code),
            Err(e) => Err(e.to_string()),
        };
        statuses.push((pod.to_string(), st));
    }
    if statuses.is_empty() {
        let none = Err(format!("no {set} pods found"));
        statuses.push((format!("{set}-0"), none));
    }
    Ok(openbao_report(c, &jobs, &statuses))
}

/// Verifies Cassandra: `nodetool status` in its first pod, the two jobs, and
/// whether its service roles' password is the one OpenBao's migrations hand out.
pub async fn verify_cassandra(
    client: &kube::Client,
    c: &Component,
) -> Result<HealthReport, KubeError> {
    let ns = c.namespace;
    let (pods, jobs) = list_pods_jobs(client, ns).await?;
    let first = format!("{}-0", c.statefulset);
    let ready = pods.iter().any(|p| pod_name(p) == first && pod_is_ready(p));
    let nodetool = if ready {
        let nodetool_status = ["nodetool", "status"];
        match exec_capture(client, ns, &first, c.container, &nodetool_status).await {
            Ok(ExecOutput {
                exit_code: Some(c),
                stderr,
                ..
            }) if c != 0 => Err(format!("nodetool status exited {c}: {}", one_line(&stderr))),
            Ok(o) => Ok(o.stdout),
            Err(e) => Err(e.to_string()),
        }
    } else {
        Err(format!("{first} is not Ready"))
    };
    let mut report = cassandra_report(c, &pods, &jobs, nodetool);
    let bao = &crate::model::OPENBAO;
    let (bao, cass) = tokio::join!(
        deployed_payload(client, bao.namespace, bao.release),
        deployed_payload(client, ns, c.release),
    );
    report.checks.push(match (bao, cass) {
        (Ok(bao), Ok(cass)) => service_role_password_check(bao.as_ref(), cass.as_ref()),
        (Err(e), _) | (_, Err(e)) => Check::new(SERVICE_ROLES, false, e.to_string()),
    });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::fixtures::{fixture, list, obj};
    use crate::model::{CASSANDRA, NATS, OPENBAO};

    fn release(defaults: serde_json::Value, config: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"name": "x", "chart": {"values": defaults}, "config": config})
    }

    #[test]
    fn service_role_password_must_be_what_openbao_hands_out() {
        let bao = |pw: &str| {
            release(
                serde_json::json!({"openbao": {"migrations": {"env": [{"name": "DEFAULT_CASSANDRA_PASSWORD", "value": "ch@ng3m3"}]}}}),
                serde_json::json!({"openbao": {"migrations": {"env": [
                    {"name": "DEFAULT_CASSANDRA_PASSWORD", "value": pw},
                    {"name": "ADMIN_CLIENT_ID", "value": "ncp"}]}}}),
            )
        };
        // The chart's default ch@ng3m3 applies when the values leave it out.
        let cass = |pw: Option<&str>| {
            release(
                serde_json::json!({"cassandra": {"serviceRolePassword": "ch@ng3m3", "dbUser": {"password": "cassandra"}}}),
                match pw {
                    Some(pw) => {
                        serde_json::json!({"cassandra": {"serviceRolePassword": pw, "dbUser": {"password": pw}}})
                    }
                    None => {
                        serde_json::json!({"cassandra": {"dbUser": {"password": "s3cret-gen"}}})
                    }
                },
            )
        };
        let ok =
            service_role_password_check(Some(&bao("s3cret-gen")), Some(&cass(Some("s3cret-gen"))));
        assert!(ok.ok, "{ok:?}");
        let bad = service_role_password_check(Some(&bao("s3cret-gen")), Some(&cass(None)));
        assert!(!bad.ok);
        assert!(
            bad.detail.contains("nvcf-dev reset cassandra"),
            "{}",
            bad.detail
        );
        assert!(
            !bad.detail.contains("s3cret") && !bad.detail.contains("ch@ng3m3"),
            "no password shown"
        );
        let waiting = service_role_password_check(None, Some(&cass(None)));
        assert!(waiting.ok, "openbao comes later: {waiting:?}");
    }

    #[test]
    fn nats_log_gives_cluster_name_and_routes() {
        let (name, routes) = parse_nats_log(fixture!("nats-0_nats.log"));
        assert_eq!(name.as_deref(), Some("nats"));
        assert_eq!(routes, ["10.244.0.8", "10.244.0.9"]);
        // The guide's grep would find nothing.
        assert!(!fixture!("nats-0_nats.log").contains("Cluster Name"));
    }

    #[test]
    fn closed_routes_do_not_count() {
        let log = "[7] [INF] 10.244.0.8:6222 - rid:5 - Route connection created\n[7] [INF] 10.244.0.8:6222 - rid:5 - Router connection closed: Client Closed\n";
        assert!(parse_nats_log(log).1.is_empty());
    }

    #[test]
    fn nats_report_needs_routes_to_every_peer() {
        let p0: Pod = obj(fixture!("pod_nats-0_ready.json"));
        let mut p1 = p0.clone();
        p1.metadata.name = Some("nats-1".into());
        let mut p2 = p0.clone();
        p2.metadata.name = Some("nats-2".into());
        let pods = [p0, p1, p2];
        let r = nats_report(&NATS, &pods, Ok(fixture!("nats-0_nats.log")));
        assert!(r.healthy(), "{r:?}");
        let one_route = "[INF] Cluster name is nats\n[INF] 10.244.0.8:6222 - rid:5 - Route connection created\n";
        let r = nats_report(&NATS, &pods, Ok(one_route));
        assert!(!r.healthy());
        assert_eq!(r.checks[2].detail, "1 of 2 routes up (10.244.0.8)");
    }

    #[test]
    fn exec_status_gives_exit_code() {
        let failed: Status = obj(fixture!("exec_status_exit2.json"));
        assert_eq!(exit_code(&failed), Some(2));
        let ok: Status = obj(fixture!("exec_status_success.json"));
        assert_eq!(exit_code(&ok), Some(0));
        assert_eq!(exit_code(&Status::default()), None);
    }

    #[test]
    fn bao_status_unsealed_and_sealed() {
        let s = interpret_bao_status(fixture!("bao_status_unsealed.json"), Some(0)).unwrap();
        assert!(s.initialized && !s.sealed && s.ha_enabled);
        assert_eq!(s.raft_committed_index, Some(142));
        // Sealed: exit code 2, JSON still on stdout.
        let sealed = interpret_bao_status(fixture!("bao_status_sealed.json"), Some(2)).unwrap();
        assert!(sealed.sealed);
        let err = interpret_bao_status("Error checking seal status: connection refused", Some(1))
            .unwrap_err();
        assert!(err.starts_with("bao status failed (exit 1)"), "{err}");
        // Odd JSON never panics.
        assert!(interpret_bao_status("{\"sealed\": \"yes\"}", Some(0)).is_err());
        assert_eq!(
            interpret_bao_status("{}", Some(0)).unwrap(),
            BaoStatus::default()
        );
    }

    #[test]
    fn openbao_report_flags_sealed_pods_and_missing_jobs() {
        let unsealed = interpret_bao_status(fixture!("bao_status_unsealed.json"), Some(0));
        let sealed = interpret_bao_status(fixture!("bao_status_sealed.json"), Some(2));
        let failed: Job = obj(fixture!("job_openbao-server-migrations_failed.json"));
        let r = openbao_report(
            &OPENBAO,
            &[failed],
            &[
                ("openbao-server-0".into(), unsealed),
                ("openbao-server-1".into(), sealed),
            ],
        );
        let oks: Vec<bool> = r.checks.iter().map(|c| c.ok).collect();
        assert_eq!(oks, [true, false, false, false]);
        assert!(r.checks[1].detail.contains("sealed=true"));
        assert!(r.checks[2].detail.starts_with("job not found"));
        assert!(r.checks[3].detail.starts_with("Failed"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["component"], "openbao");
    }

    #[test]
    fn nodetool_parses_one_and_three_nodes() {
        let one = parse_nodetool_status(fixture!("nodetool_status_1node.txt"));
        assert_eq!(one.len(), 1);
        assert_eq!(one[0], ("UN", "10.244.0.12"));
        let three = parse_nodetool_status(fixture!("nodetool_status_3node_one_down.txt"));
        let codes: Vec<&str> = three.iter().map(|(code, _)| *code).collect();
        assert_eq!(codes, ["UN", "UN", "DN"]);
        assert!(
            parse_nodetool_status("nodetool: Failed to connect to '127.0.0.1:7199'").is_empty()
        );
    }

    #[test]
    fn cassandra_report_accepts_init_errors_and_flags_down_nodes() {
        let mut pods: Vec<Pod> = list(fixture!("pods_cassandra-init-job.json"));
        let mut c0: Pod = obj(fixture!("pod_nats-0_ready.json"));
        c0.metadata.name = Some("cassandra-0".into());
        pods.push(c0);
        let mut jobs: Vec<Job> = list(fixture!("jobs_cassandra-system.json"));
        // The init job still running but one pod Completed: fine per the guide.
        jobs[0].status.as_mut().unwrap().conditions = None;
        let r = cassandra_report(
            &CASSANDRA,
            &pods,
            &jobs,
            Ok(fixture!("nodetool_status_1node.txt")),
        );
        assert!(r.checks[0].ok && r.checks[1].ok && r.checks[2].ok, "{r:?}");
        assert!(r.checks[2].detail.contains("expected retries"));
        assert!(!r.checks[3].ok, "migrations still running");
        let r = cassandra_report(
            &CASSANDRA,
            &pods,
            &jobs,
            Ok(fixture!("nodetool_status_3node_one_down.txt")),
        );
        assert_eq!(r.checks[1].detail, "2/3 nodes UN; not UN: DN 10.244.0.18");
        let r = cassandra_report(
            &CASSANDRA,
            &pods,
            &jobs,
            Ok(fixture!("nodetool_status_3node_up.txt")),
        );
        assert!(r.checks[1].detail.contains("UJ 10.244.0.18"));
    }

    #[test]
    fn a_peer_with_several_routes_counts_once() {
        let log = "[1] [INF] Cluster name is nats\n\
[1] [INF] 10.244.0.8:6222 - rid:5 - Route connection created\n\
[1] [INF] 10.244.0.8:43122 - rid:6 - Route connection created\n\
[1] [INF] 10.244.0.8:43124 - rid:7 - Route connection created\n";
        assert_eq!(parse_nats_log(log).1, ["10.244.0.8"]);
    }
}
