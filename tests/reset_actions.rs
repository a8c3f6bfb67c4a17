//! `reset nats` as the ordered list of actions it is, end to end against a
//! fake API server (a real socket, so pod exec works): helm uninstall, the
//! stale resources, the reinstall, and then openbao's migrations re-run by
//! upgrading openbao, which the job's new uid proves, each verified.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::fake_http::{self, ExecReply};
use common::phase1_api::{list, ready_pods};
use nvcf_dev::ops::reset::{execute, ResetAction, ResetReport};
use nvcf_dev::settings::Settings;
use nvcf_dev::tools::helm::{parse_version, Helm};
use nvcf_dev::tools::runner::{Cmd, CommandRunner, RecordingRunner, RunError};
use nvcf_dev::ui::{OutputFormat, Shell};
use serde_json::{json, Value};

fn settings(state: &std::path::Path) -> Settings {
    let mut s = common::dev_settings(state);
    for (component, chart) in [
        ("nats", "helm-nvcf-nats"),
        ("openbao", "helm-nvcf-openbao-server"),
    ] {
        s.chart_paths
            .insert(component.into(), common::published_chart("current", chart));
    }
    s
}

/// The releases helm has upgraded so far.
type Upgraded = Arc<Mutex<Vec<String>>>;

/// helm from a script, noting each release it upgrades: the fake cluster
/// then holds its pods again and, for openbao-server, a new migration job
/// (a new uid), as helm running the chart's hook does.
#[derive(Debug)]
struct Helm4 {
    script: RecordingRunner,
    upgraded: Upgraded,
}

#[async_trait]
impl CommandRunner for Helm4 {
    async fn run(&self, cmd: &Cmd) -> Result<String, RunError> {
        if cmd.args[0] == "upgrade" {
            self.upgraded.lock().unwrap().push(cmd.args[2].clone());
        }
        self.script.run(cmd).await
    }
}

fn release(name: &str, ns: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v1"), "namespace": ns,
            "labels": {"owner": "helm", "name": name, "status": "deployed", "version": "1"}}})
}

fn complete_job(ns: &str, name: &str, uid: &str) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": ns, "uid": uid},
        "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}})
}

/// A healthy Phase 1 where helm's uninstall took nats's objects with it.
fn route(upgraded: &Upgraded, method: &str, path: &str) -> (u16, String) {
    if method != "GET" {
        return (405, fake_http::NOT_FOUND.to_string());
    }
    let has = |release: &str| upgraded.lock().unwrap().iter().any(|r| r == release);
    let migrations = || {
        let uid = if has("openbao-server") {
            "job-after"
        } else {
            "job-before"
        };
        complete_job("vault-system", "openbao-server-migrations", uid)
    };
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    if query.contains("watch=true") {
        return (200, String::new());
    }
    let body = match route {
        "/version" => fake_http::VERSION.into(),
        "/api/v1/nodes" => list(
            "NodeList",
            vec![json!({"metadata": {"name": "nvcf-dev-control-plane",
                "labels": {"kubernetes.io/hostname": "nvcf-dev-control-plane"}}})],
        ),
        "/api/v1/namespaces/nats-system/secrets" if query.contains("owner%3Dhelm") => {
            list("SecretList", vec![release("nats", "nats-system")])
        }
        "/api/v1/namespaces/vault-system/secrets" if query.contains("owner%3Dhelm") => {
            list("SecretList", vec![release("openbao-server", "vault-system")])
        }
        "/api/v1/namespaces/nats-system/pods" if has("nats") => list(
            "PodList",
            ready_pods("nats-system", &["nats-0", "nats-1", "nats-2"]),
        ),
        "/api/v1/namespaces/vault-system/pods" => list(
            "PodList",
            ready_pods(
                "vault-system",
                &["openbao-server-0", "openbao-server-1", "openbao-server-2"],
            ),
        ),
        "/apis/batch/v1/namespaces/vault-system/jobs" => list(
            "JobList",
            vec![
                complete_job("vault-system", "openbao-server-initialize-cluster", "job-init"),
                migrations(),
            ],
        ),
        "/apis/batch/v1/namespaces/vault-system/jobs/openbao-server-migrations" => {
            migrations().to_string()
        }
        "/api/v1/namespaces/nats-system/pods/nats-0/log" => [
            "[7] 2025/06/02 09:14:05.200000 [INF] Cluster name is nats",
            "[7] 2025/06/02 09:14:06.100000 [INF] 10.244.0.9:6222 - rid:5 - Route connection created",
            "[7] 2025/06/02 09:14:06.200000 [INF] 10.244.0.10:6222 - rid:6 - Route connection created",
        ]
        .join("\n"),
        // Everything else (what reset deletes) is gone already.
        _ => list("List", vec![]),
    };
    (200, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_nats_reinstalls_it_then_reruns_openbaos_migrations_in_order() {
    let state = tempfile::tempdir().unwrap();
    let settings = settings(state.path());
    let upgraded = Upgraded::default();
    let seen = upgraded.clone();
    let (addr, api_log) = fake_http::serve_with_exec(
        move |method, path, _| route(&seen, method, path),
        |path| {
            (path.contains("/pods/openbao-server-") && path.contains("command=bao")).then(|| {
                ExecReply {
                    stdout: r#"{"type":"shamir","initialized":true,"sealed":false,"t":1,"n":1,"progress":0,"version":"2.5.5","storage_type":"raft","ha_enabled":true}"#.into(),
                    exit_code: 0,
                }
            })
        },
    );
    let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let script = RecordingRunner::new();
    let runner = Helm4 {
        script: script.clone(),
        upgraded: upgraded.clone(),
    };
    let helm = Helm::new(&runner, "helm", parse_version("v4.1.4").unwrap())
        .with_kube_context("kind-nvcf-dev");
    let (shell, cap) = Shell::capture(OutputFormat::Text);
    let opts = common::reset_options("nats", false);
    let mut report = ResetReport::default();
    let result = execute(&shell, &settings, &client, helm, &opts, &mut report).await;
    let err = cap.stderr();
    result.unwrap_or_else(|e| panic!("{e}\n{err}"));

    use nvcf_dev::model::ComponentId::{Nats, Openbao};
    assert_eq!(
        report.plan.last(),
        Some(&ResetAction::Verify { component: Openbao })
    );
    let helm_did: Vec<String> = script
        .calls()
        .iter()
        .map(|c| format!("{} {}", c.args[0], c.args[1]))
        .collect();
    assert_eq!(
        helm_did,
        [
            "uninstall nats",
            "template nats",
            "upgrade --install",
            "template openbao-server",
            "upgrade --install",
        ]
    );
    let upgrades: Vec<String> = script
        .command_lines()
        .into_iter()
        .filter(|l| l.starts_with("helm upgrade"))
        .collect();
    assert!(
        upgrades[0].starts_with("helm upgrade --install nats "),
        "{upgrades:#?}"
    );
    assert!(
        upgrades[1].starts_with("helm upgrade --install openbao-server "),
        "{upgrades:#?}"
    );
    // Labelled as `up` labels it (values before fitting to the fetched
    // chart), so the next `up` sees nothing changed and skips helm.
    let plan = nvcf_dev::phase1::plan::build(&settings);
    let desired = nvcf_dev::phase1::lifecycle::desired_all(&plan);
    let label = |id| {
        let pairs: Vec<String> = desired[&id]
            .labels()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("--labels {}", pairs.join(","))
    };
    assert!(upgrades[0].contains(&label(Nats)), "{upgrades:#?}");
    assert!(upgrades[1].contains(&label(Openbao)), "{upgrades:#?}");
    assert_eq!(report.reinstalled, [Nats.to_string(), Openbao.to_string()]);
    assert_eq!(
        report.migrations_rerun,
        Some(true),
        "the migration job is a new one after the upgrade"
    );
    assert!(report.healthy, "{:#?}", report.health);
    assert!(report.release.uninstalled);

    // Each action said what it did, in order.
    let said = [
        " ✓ Uninstalling nats in nats-system",
        " ✓ Deleting stale resources in nats-system and waiting until they are gone: 0 deleted",
        " ✓ Installing nats",
        " • openbao's migrations copy nats's secrets: upgrading openbao-server to run them again",
        " ✓ Installing openbao",
        "nats was reset and is verified on kind-nvcf-dev",
    ];
    let mut at = 0;
    for line in said {
        let found = err[at..]
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} after byte {at}:\n{err}"));
        at += found + line.len();
    }
    assert!(!err.contains("did not run job"), "{err}");
    // openbao was verified through exec in its servers.
    let log = api_log.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|l| l.contains("/pods/openbao-server-0/exec")),
        "{log:#?}"
    );
}
