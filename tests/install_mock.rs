//! `Installer::install` and `reset`'s reinstall against the mocked API
//! server (tests/common/kube_mock.rs) and a scripted helm whose
//! `upgrade --install` takes a while, as the real one does: the namespace
//! watch races it, and its failure is explained from the cluster.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::kube_mock::{event, fixture, list, Reply, Req, Server, Step};
use nvcf_dev::ops::reset::{execute, ResetReport};
use nvcf_dev::phase1::install::Installer;
use nvcf_dev::tools::helm::{parse_version, Helm};
use nvcf_dev::tools::runner::{Cmd, CommandRunner, RecordingRunner, RunError};
use nvcf_dev::ui::{OutputFormat, Shell};
use serde_json::{json, Value};

/// A helm whose `upgrade` takes `upgrade_takes`, answering from a
/// RecordingRunner script; each call is logged with how many API requests
/// had been made by then, and whether `watched` was still held.
struct SlowHelm {
    script: RecordingRunner,
    upgrade_takes: Duration,
    server: Server,
    watched: &'static str,
    log: Arc<Mutex<Vec<(String, usize, bool)>>>,
}

impl std::fmt::Debug for SlowHelm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlowHelm")
    }
}

#[async_trait]
impl CommandRunner for SlowHelm {
    async fn run(&self, cmd: &Cmd) -> Result<String, RunError> {
        self.log.lock().unwrap().push((
            cmd.args.first().cloned().unwrap_or_default(),
            self.server.requests().len(),
            self.server.holds(self.watched).is_some(),
        ));
        if cmd.args.first().map(String::as_str) == Some("upgrade") {
            tokio::time::sleep(self.upgrade_takes).await;
        }
        self.script.run(cmd).await
    }
}

fn node() -> Value {
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "nvcf-dev-control-plane", "uid": "uid-n", "resourceVersion": "11",
            "labels": {"kubernetes.io/hostname": "nvcf-dev-control-plane"}}})
}

/// nats-system while helm installs: nats-1 cannot pull its image, which
/// the watch reports as it happens (helm is still waiting), and which
/// explains helm's timeout afterwards: a list after the watch's first one
/// (the diagnosis) finds it so, as an API server would.
fn nats_system() -> impl Fn(&Req) -> Reply + Send + Sync + 'static {
    let pod_lists = AtomicUsize::new(0);
    move |r: &Req| {
        let pulling = fixture("pod_nats-1_imagepullbackoff.json");
        let mut later = pulling.clone();
        later["metadata"]["resourceVersion"] = json!("2002");
        let mut pending = pulling;
        pending["status"] = json!({"phase": "Pending"});
        pending["metadata"]["resourceVersion"] = json!("2001");
        match (r.path.as_str(), r.is_watch()) {
            ("/api/v1/nodes", false) => Reply::ok(list("NodeList", vec![node()], "12")),
            ("/api/v1/namespaces/nats-system/pods", false) => {
                match pod_lists.fetch_add(1, SeqCst) {
                    0 => Reply::ok(list("PodList", vec![pending], "2001")),
                    _ => Reply::ok(list("PodList", vec![later], "2002")),
                }
            }
            ("/api/v1/namespaces/nats-system/pods", true) => Reply::Watch {
                steps: vec![
                    Step::After(Duration::from_millis(200)),
                    Step::Event(event("MODIFIED", &later)),
                ],
                close: false,
            },
            (_, true) => Reply::watch(vec![]),
            ("/api/v1/namespaces/nats-system/events", false) => {
                Reply::ok(list("EventList", vec![], "2002"))
            }
            (p, false) if p.ends_with("/jobs") => Reply::ok(list("JobList", vec![], "2001")),
            (p, _) => panic!("unexpected {} {p}", r.method),
        }
    }
}

#[tokio::test]
async fn a_helm_failure_is_one_line_with_helms_error_and_the_clusters_diagnosis() {
    let state = tempfile::tempdir().unwrap();
    let settings = common::dev_settings(state.path());
    let plan = nvcf_dev::phase1::plan::build(&settings);
    let cp = plan.component(nvcf_dev::model::ComponentId::Nats).unwrap();
    let (client, server) = Server::serve(nats_system());
    let script = RecordingRunner::new();
    script.reply("template", "").fail(
        "upgrade",
        1,
        "WARNING: Kubernetes configuration file is group-readable\nError: INSTALLATION FAILED: context deadline exceeded\n",
    );
    let log = Arc::new(Mutex::new(Vec::new()));
    let runner = SlowHelm {
        script: script.clone(),
        upgrade_takes: Duration::from_millis(1500),
        server: server.clone(),
        watched: "",
        log: log.clone(),
    };
    let (shell, cap) = Shell::capture(OutputFormat::Text);
    let dir = nvcf_dev::phase1::charts::private_dir().unwrap();
    let installer = Installer {
        shell: &shell,
        settings: &settings,
        helm: Helm::new(&runner, "helm", parse_version("v3.17.3").unwrap()),
        client: &client,
        values_dir: dir.path(),
    };
    let err = installer
        .install(cp, &nvcf_dev::phase1::lifecycle::desired(cp))
        .await
        .unwrap_err()
        .to_string();

    assert!(
        err.starts_with(
            "helm could not install nats (Error: INSTALLATION FAILED: context deadline exceeded); "
        ),
        "{err}"
    );
    assert!(
        err.contains("nats-1")
            && err.contains("cannot pull image localhost:5001/nvcf/nats-server:2.10.22-alpine"),
        "the cluster's diagnosis: {err}"
    );
    assert!(
        err.ends_with("; fix it, then run `nvcf-dev up` again"),
        "{err}"
    );
    assert!(!err.contains('\n') && !err.contains("WARNING"), "{err}");

    let calls: Vec<String> = script.calls().iter().map(|c| c.args[0].clone()).collect();
    assert_eq!(calls, ["template", "upgrade"]);
    let reqs = server.requests();
    assert!(
        reqs[0].starts_with("GET /api/v1/nodes"),
        "placement first: {reqs:#?}"
    );
    // The watch ran while helm waited: its report came before helm's failure.
    let stderr = cap.stderr();
    assert!(
        stderr.contains("   nats: ") && stderr.contains("cannot pull image"),
        "progress while helm waits: {stderr}"
    );
    assert!(stderr.contains("✗ Installing nats"), "{stderr}");
}

const NATS_PVC: &str = "/api/v1/namespaces/nats-system/persistentvolumeclaims/nats-js-nats-0";

/// `reset nats`: helm uninstall, then the stale resources deleted and
/// waited for (a PVC its finalizer holds until the pods are gone), then the
/// reinstall (render, placement, upgrade), in that order. helm's failure ends
/// it with one line.
#[tokio::test]
async fn reset_reinstall_uninstalls_then_deletes_and_waits_then_installs() {
    let state = tempfile::tempdir().unwrap();
    let mut settings = common::dev_settings(state.path());
    settings.chart_paths.insert(
        "nats".into(),
        common::published_chart("current", "helm-nvcf-nats"),
    );
    let nats_system = nats_system();
    let (client, server) = Server::serve(move |r: &Req| {
        if r.method == "GET" && r.path.ends_with("/persistentvolumeclaims") {
            unreachable!("the store answers PVCs")
        }
        match (r.method.as_str(), r.is_watch()) {
            // helm uninstall took the pods with it.
            ("GET", false)
                if r.path == "/api/v1/nodes"
                    || r.path.ends_with("/events")
                    || r.path.ends_with("/jobs") =>
            {
                nats_system(r)
            }
            ("GET", true) => Reply::watch(vec![]),
            ("GET", false) => Reply::ok(list("List", vec![], "3000")),
            _ => panic!("unexpected {} {}", r.method, r.uri),
        }
    });
    server.object(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "nats-js-nats-0", "namespace": "nats-system", "uid": "pvc-n0",
            "finalizers": ["kubernetes.io/pvc-protection"]},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound"}}));
    // The pvc-protection controller: lets go a while after the DELETE.
    let controller = server.clone();
    tokio::spawn(async move {
        loop {
            let terminating = controller
                .holds(NATS_PVC)
                .is_some_and(|p| !p["metadata"]["deletionTimestamp"].is_null());
            if terminating {
                tokio::time::sleep(Duration::from_millis(300)).await;
                controller.remove_finalizers(NATS_PVC);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let script = RecordingRunner::new();
    script.reply("template", "").fail(
        "upgrade",
        1,
        "Error: INSTALLATION FAILED: context deadline exceeded\n",
    );
    let log = Arc::new(Mutex::new(Vec::new()));
    let runner = SlowHelm {
        script: script.clone(),
        upgrade_takes: Duration::from_millis(300),
        server: server.clone(),
        watched: NATS_PVC,
        log: log.clone(),
    };
    let helm = Helm::new(&runner, "helm", parse_version("v3.17.3").unwrap())
        .with_kube_context("kind-nvcf-dev");
    let (shell, cap) = Shell::capture(OutputFormat::Text);
    let opts = common::reset_options("nats", false);
    let mut report = ResetReport::default();
    let err = execute(&shell, &settings, &client, helm, &opts, &mut report)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "helm could not install nats (Error: INSTALLATION FAILED: context deadline exceeded)"
        ),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");

    let lines = script.command_lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].starts_with("helm uninstall nats --namespace nats-system --ignore-not-found"),
        "{lines:#?}"
    );
    assert!(lines[1].starts_with("helm template nats "), "{lines:#?}");
    assert!(
        lines[2].starts_with("helm upgrade --install nats "),
        "{lines:#?}"
    );
    assert!(
        lines[2].contains("--kube-context kind-nvcf-dev"),
        "{lines:#?}"
    );
    let log = log.lock().unwrap().clone();
    let delete_at = server
        .requests()
        .iter()
        .position(|r| r.starts_with(&format!("DELETE {NATS_PVC}")))
        .expect("the PVC was deleted");
    assert!(
        log[0].0 == "uninstall" && log[0].1 <= delete_at,
        "uninstall first: {log:?}"
    );
    assert!(log[1].0 == "template" && log[1].1 > delete_at, "{log:?}");
    assert!(
        !log[1].2,
        "installed only once the PVC was really gone: {log:?}"
    );
    assert_eq!(
        report
            .deleted
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["persistentvolumeclaim/nats-js-nats-0 -n nats-system"]
    );
    assert!(report.reinstalled.is_empty());
    let stderr = cap.stderr();
    let uninstalled = stderr.find("Uninstalling nats in nats-system").unwrap();
    let deleted = stderr
        .find("Deleting stale resources in nats-system")
        .unwrap();
    let installing = stderr.find("Installing nats").unwrap();
    assert!(uninstalled < deleted && deleted < installing, "{stderr}");
}
