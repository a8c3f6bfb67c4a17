//! The cost of deciding a warm re-`up`: all three releases deployed and
//! unchanged on a fake API server, answered by the release records `up`
//! itself labels them with. Runs the release binary's `plan` (which makes
//! the same per-release decisions `up` makes before helm) `RUNS` times and
//! prints JSON: the median wall time, the decisions, the API requests per
//! run, helm calls other than `version`, and connections to the upstream
//! registry (which must be zero). Used by scripts/bench-reup.sh.
//!
//! Usage: bench_reup <nvcf-dev binary> <helm binary>

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

// The tests' minimal apiserver loop, shared rather than copied.
#[path = "../tests/common/fake_http.rs"]
mod fake_http;

use nvcf_dev::k8s::releases::{CHART_LABEL, VALUES_LABEL, VERSION_LABEL};
use serde_json::json;

const RUNS: usize = 10;
const KEY: &str = "bench-ngc-key-0123456789";
const PASSWORD: &str = "bench-cassandra-password";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (bin, helm) = (&args[1], &args[2]);
    let home = tempfile::tempdir().unwrap();

    // Nobody may ask the upstream registry anything: count who tries.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_addr = upstream.local_addr().unwrap().to_string();
    let upstream_hits = Arc::new(AtomicUsize::new(0));
    let hits = upstream_hits.clone();
    std::thread::spawn(move || {
        for _ in upstream.incoming() {
            hits.fetch_add(1, Ordering::SeqCst);
        }
    });

    // The desired state, exactly as `up` computes it for these settings.
    let env = nvcf_dev::settings::Env::from_pairs([
        ("REPOSITORY", "my-org/my-team"),
        ("NGC_API_KEY", KEY),
        ("CASSANDRA_PASSWORD", PASSWORD),
        (
            "REGISTRY",
            Box::leak(upstream_addr.clone().into_boxed_str()),
        ),
    ]);
    let ctx = nvcf_dev::settings::Context {
        env: &env,
        prompt: &nvcf_dev::settings::NoPrompt,
        state_dir: Some(home.path().into()),
    };
    let settings = nvcf_dev::settings::resolve(
        nvcf_dev::profile::load("dev").unwrap(),
        "nvcf-dev",
        &nvcf_dev::settings::Flags::default(),
        &ctx,
        nvcf_dev::settings::Purpose::Apply,
    )
    .unwrap();
    let plan = nvcf_dev::ops::plan::build(&settings).unwrap();
    let desired = nvcf_dev::ops::ensure::desired_all(&plan);
    let mut lists = std::collections::HashMap::new();
    for cp in &plan.components {
        let d = &desired[&cp.component.id];
        let rel = cp.component.release;
        let items = json!([{"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": format!("sh.helm.release.v1.{rel}.v1"), "namespace": cp.component.namespace,
                "labels": {"owner": "helm", "name": rel, "status": "deployed", "version": "1",
                    CHART_LABEL: d.chart, VERSION_LABEL: d.version, VALUES_LABEL: d.values_digest}}}]);
        lists.insert(
            format!("name%3D{rel}"),
            json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": {}, "items": items}).to_string(),
        );
    }

    let (api_addr, requests) = fake_http::serve(move |_, path, _| {
        if path.starts_with("/version") {
            return (
                200,
                r#"{"major":"1","minor":"33","gitVersion":"v1.33.1"}"#.to_string(),
            );
        }
        lists
            .iter()
            .find(|(k, _)| path.contains(k.as_str()))
            .map(|(_, v)| (200, v.clone()))
            .unwrap_or_else(|| (404, fake_http::NOT_FOUND.to_string()))
    });

    let kubeconfig = home.path().join("kubeconfig");
    std::fs::write(&kubeconfig, format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"http://{api_addr}\"}}\nusers:\n- name: u\n  user: {{token: fake}}\ncontexts:\n- name: kind-nvcf-dev\n  context: {{cluster: c, user: u}}\ncurrent-context: kind-nvcf-dev\n")).unwrap();
    // A helm that records what it is asked.
    let bin_dir = home.path().join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let calls = home.path().join("helm-calls");
    let wrapper = bin_dir.join("helm");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec {helm} \"$@\"\n",
            calls.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    let mut times = Vec::new();
    let mut decisions = Vec::new();
    for _ in 0..RUNS {
        requests.lock().unwrap().clear();
        let started = Instant::now();
        let out = std::process::Command::new(bin)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .env("HOME", home.path())
            .env("XDG_STATE_HOME", home.path())
            .env("KUBECONFIG", &kubeconfig)
            .env("CI", "true")
            .env("REPOSITORY", "my-org/my-team")
            .env("REGISTRY", &upstream_addr)
            .env("NGC_API_KEY", KEY)
            .env("CASSANDRA_PASSWORD", PASSWORD)
            .args(["plan", "-o", "json"])
            .output()
            .unwrap();
        times.push(started.elapsed().as_secs_f64());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        decisions = v["releases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{}={}",
                    r["release"].as_str().unwrap(),
                    r["decision"].as_str().unwrap()
                )
            })
            .collect();
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let helm_calls: Vec<String> = std::fs::read_to_string(&calls)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with("version"))
        .map(str::to_string)
        .collect();
    let per_run = requests.lock().unwrap().clone();
    println!(
        "{}",
        json!({
            "runs": RUNS,
            "median_s": times[RUNS / 2],
            "max_s": times[RUNS - 1],
            "decisions": decisions,
            "api_requests_per_run": per_run,
            "helm_calls_besides_version": helm_calls,
            "upstream_connections": upstream_hits.load(Ordering::SeqCst),
        })
    );
}
