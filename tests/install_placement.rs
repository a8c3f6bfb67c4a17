//! Before helm runs, the installer renders the chart with the values it
//! will install and checks its workloads against the cluster's nodes. prod's
//! two OpenBao injectors (a required anti-affinity on the hostname, pinned to
//! `vault` nodes) cannot schedule on a cluster with one vault node: that is
//! refused in seconds, with what to change, and helm never installs.
//!
//! The chart is the published-chart stand-in rendered by the real helm; the
//! Kubernetes API is kube's tower-test mock answering the node list.

mod common;

use common::kube_mock::{list, Server};
use nvcf_dev::phase1::{install, plan};
use nvcf_dev::settings::{self, ChartSource, Flags, Purpose};
use nvcf_dev::tools::helm::{parse_version, Helm};
use nvcf_dev::tools::runner::RecordingRunner;
use serde_json::{json, Value};

fn prod() -> settings::Settings {
    let flags = Flags {
        target: settings::ContextFlags {
            context: Some("my-eks".into()),
        },
        ..Default::default()
    };
    common::resolve_settings(
        "prod",
        flags,
        &[
            ("REPOSITORY", "my-org/my-team"),
            ("NGC_API_KEY", "fake-ngc-key-for-tests-0123456789"),
            ("CASSANDRA_PASSWORD", "not-a-real-password"),
        ],
        Purpose::Apply,
    )
}

/// A kind node of kind/multi-node.yaml, labelled for `workload`.
fn node(name: &str, workload: Option<&str>) -> Value {
    let mut labels = json!({"kubernetes.io/hostname": name});
    let mut spec = json!({});
    match workload {
        Some(w) => labels["nvcf.nvidia.com/workload"] = json!(w),
        None => {
            spec = json!({"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]})
        }
    }
    json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "11", "labels": labels},
        "spec": spec})
}

#[tokio::test]
async fn prod_openbao_on_one_vault_node_is_refused_before_helm_installs() {
    let settings = prod();
    let mut p = plan::build(&settings);
    let cp = p
        .components
        .iter_mut()
        .find(|c| c.component.name == "openbao")
        .unwrap();
    let chart_dir = common::published_chart("current", "helm-nvcf-openbao-server");
    let chart = nvcf_dev::chart::read_path(&chart_dir).unwrap();
    let (values, _) =
        plan::fit_values(cp.component, &settings, &settings.image_registry(), &chart).unwrap();
    cp.values = values;
    cp.chart = ChartSource::Local(chart_dir.clone());

    // What the real helm renders for these values, served as `helm template`'s output.
    let dir = nvcf_dev::phase1::charts::private_dir().unwrap();
    let file = nvcf_dev::phase1::charts::write_values(dir.path(), "render", &cp.values).unwrap();
    let out = std::process::Command::new(common::helm4())
        .args(["template", "openbao-server"])
        .arg(&chart_dir)
        .args(["--namespace", "vault-system", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered = String::from_utf8(out.stdout).unwrap();

    let runner = RecordingRunner::new();
    runner.reply("template", &rendered);
    let nodes = vec![
        node("prod-control-plane", None),
        node("prod-worker", Some("control-plane")),
        node("prod-worker2", Some("vault")),
        node("prod-worker3", Some("cassandra")),
    ];
    let (client, server) = Server::start(move |method, uri, _| {
        assert_eq!(method, "GET", "nothing is written: {uri}");
        let path = uri.split('?').next().unwrap();
        assert_eq!(path, "/api/v1/nodes", "only the nodes are read");
        Some((200, list("NodeList", nodes.clone(), "12")))
    });
    let (shell, captured) = nvcf_dev::ui::Shell::capture(nvcf_dev::ui::OutputFormat::Text);
    let installer = install::Installer {
        shell: &shell,
        settings: &settings,
        helm: Helm::new(&runner, "helm", parse_version("v4.1.4").unwrap()),
        client: &client,
        values_dir: dir.path(),
    };
    let err = installer
        .install(cp, &nvcf_dev::phase1::lifecycle::desired(cp))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "openbao's Deployment/openbao-server-agent-injector runs 2 replicas, each on a node of its own (required anti-affinity on kubernetes.io/hostname), but only 1 node(s) fit (a node labelled nvcf.nvidia.com/workload=vault): add nodes, or lower its replicas in the profile; nothing of openbao-server was installed"
    );
    let calls: Vec<String> = runner.calls().iter().map(|c| c.command_line()).collect();
    assert_eq!(calls.len(), 1, "only the render ran: {calls:?}");
    assert!(
        calls[0].starts_with("helm template openbao-server"),
        "{calls:?}"
    );
    assert_eq!(server.requests().len(), 1);
    assert!(
        captured.stderr().contains("✗ Installing openbao"),
        "{}",
        captured.stderr()
    );
}
