//! The first steps of `up` with a recording kind (there is no kind binary or
//! node image here) and the real Docker Engine: what kind is asked to do, with
//! which config on stdin, and that a cluster kind knows but whose nodes are
//! gone is refused with a clear line.

use nvcf_dev::phase1::plan;
use nvcf_dev::profile;
use nvcf_dev::runtime::Runtime;
use nvcf_dev::settings::{self, Env, Flags, NoPrompt, Purpose};
use nvcf_dev::steps::cluster::Host;
use nvcf_dev::steps::Ctx;
use nvcf_dev::tools::helm::{parse_version, Helm};
use nvcf_dev::tools::runner::RecordingRunner;
use nvcf_dev::ui::{OutputFormat, Shell};

fn ctx<'a>(cluster: &str, runner: &'a RecordingRunner) -> (Ctx<'a>, nvcf_dev::ui::Captured) {
    let state = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([("REPOSITORY", "o/t")]);
    let sctx = settings::Context {
        env: &env,
        prompt: &NoPrompt,
        state_dir: Some(state.path().into()),
    };
    let s = settings::resolve(
        profile::load("dev").unwrap(),
        cluster,
        &Flags::default(),
        &sctx,
        Purpose::Plan,
    )
    .unwrap();
    let p = plan::build(&s);
    let (shell, cap) = Shell::capture(OutputFormat::Text);
    let c = Ctx {
        shell,
        settings: s,
        plan: p,
        runner,
        helm: Helm::new(runner, "helm", parse_version("v3.17.3").unwrap()),
    };
    (c, cap)
}

async fn kind_cluster() -> Host {
    std::env::var("NVCF_DEV_TEST_DOCKER").expect("run scripts/test.sh (it sets up Docker)");
    Host::Kind {
        docker: Runtime::connect().await.unwrap(),
        kind: "kind".into(),
    }
}

/// The kind cluster step's error for `ctx` (it must fail).
async fn kind_cluster_refuses(ctx: &Ctx<'_>) -> String {
    match kind_cluster().await.connect(ctx).await {
        Ok(_) => panic!("the cluster step succeeded"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn the_kind_target_runs_registry_cluster_wiring_namespaces_mirror_install() {
    let rec = RecordingRunner::new();
    let (ctx, _) = ctx("nvcf-dev", &rec);
    let host = kind_cluster().await;
    assert_eq!(
        nvcf_dev::ops::up::titles(&host, &ctx.settings),
        [
            "Starting local registry nvcf-dev-registry on 127.0.0.1:5001",
            "Creating cluster nvcf-dev",
            "Connecting the cluster to the local registry",
            "Creating namespaces nats-system, vault-system, cassandra-system",
            "Mirroring the charts and images",
            "Installing and verifying Phase 1"
        ]
    );
}

#[tokio::test]
async fn a_new_cluster_is_created_from_the_profiles_config_on_stdin() {
    // A kubeconfig whose kind context points at a closed port: the step gets
    // as far as making the kube client, which is where kind's part ends.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kind-steps-new\n  cluster: {server: 'http://127.0.0.1:1'}\nusers:\n- name: kind-steps-new\n  user: {token: t}\ncontexts:\n- name: kind-steps-new\n  context: {cluster: kind-steps-new, user: kind-steps-new}\ncurrent-context: kind-steps-new\n",
    )
    .unwrap();
    std::env::set_var("KUBECONFIG", &kubeconfig);

    let rec = RecordingRunner::new();
    rec.reply("get clusters", "other-cluster\n");
    let (c, _) = ctx("steps-new", &rec);
    let err = kind_cluster_refuses(&c).await;
    assert!(
        err.contains("127.0.0.1:1") || err.contains("kind-steps-new"),
        "{err}"
    );

    let calls = rec.calls();
    let lines: Vec<String> = calls.iter().map(|c| c.command_line()).collect();
    assert_eq!(
        lines,
        [
            "kind get clusters",
            "kind create cluster --name steps-new --config - --wait 2m",
            "kind export kubeconfig --name steps-new"
        ]
    );
    let config = String::from_utf8(calls[1].stdin.clone().expect("config piped on stdin")).unwrap();
    assert!(config.contains("name: steps-new"), "{config}");
    assert!(
        config.contains("config_path = \"/etc/containerd/certs.d\""),
        "{config}"
    );
    assert_eq!(config.matches("config_path").count(), 1, "{config}");
}

#[tokio::test]
async fn a_cluster_whose_nodes_are_gone_is_refused_with_what_to_do() {
    let rec = RecordingRunner::new();
    rec.reply("get clusters", "steps-ghost\n");
    let (c, _) = ctx("steps-ghost", &rec);
    let err = kind_cluster_refuses(&c).await;
    assert_eq!(
        err,
        "kind knows cluster `steps-ghost` but none of its node containers exist: run `nvcf-dev down` (or `kind delete cluster --name steps-ghost`), then `nvcf-dev up` again"
    );
    assert_eq!(
        rec.command_lines(),
        ["kind get clusters"],
        "nothing created, nothing half-done"
    );
}

/// Every helm command `up`'s steps run acts on the cluster nvcf-dev checked:
/// preflight hands them a helm already on its context.
#[tokio::test]
async fn preflight_puts_helm_on_the_clusters_context() {
    let runner = RecordingRunner::new();
    runner.reply("version", "v3.17.3+ge4da497");
    let (mut c, _cap) = ctx("nvcf-dev", &runner);
    c.settings.target = nvcf_dev::settings::Target::Context {
        context: "lab-east".into(),
        registry: "registry.lab:5000".into(),
    };
    let (helm, host) = nvcf_dev::steps::cluster::preflight(&c.shell, &runner, &c.settings)
        .await
        .unwrap();
    assert!(matches!(host, Host::Existing));
    helm.get_values("nats", "nats-system").await.unwrap();
    let last = runner.command_lines().pop().unwrap();
    assert!(
        last.starts_with(&format!("{} get values nats", helm.program))
            && last.ends_with("--kube-context lab-east"),
        "{last}"
    );
}
