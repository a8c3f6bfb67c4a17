//! `nvcf-dev mirror` end to end, against real registries and the real helm:
//! the stand-in charts are pushed to an "upstream" docker-registry, the
//! images they deploy are discovered by the binary (dry run), generated and
//! pushed upstream, then mirrored; a re-run copies nothing, and works with
//! the upstream gone (the offline re-up).

mod common;

use std::path::Path;
use std::process::Command;

use common::cli::assert_success;
use common::registry::*;

const REPO: &str = "my-org/my-team";

fn nvcf_dev(home: &Path, upstream: &str) -> assert_cmd::Command {
    let mut cmd = common::cli::nvcf_dev(home);
    cmd.env("REGISTRY", upstream).env("REPOSITORY", REPO);
    cmd
}

fn run_json(cmd: &mut assert_cmd::Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Packages the three stand-in charts and pushes them upstream with helm.
/// The Cassandra chart's `helm.sh/images` annotation is pointed at the test
/// upstream, since nvcr.io is not reachable from tests.
fn push_charts(helm: &str, upstream: &str, work: &Path) {
    for chart in [
        "helm-nvcf-nats",
        "helm-nvcf-openbao-server",
        "helm-nvcf-cassandra",
    ] {
        let src = common::stand_in_chart(chart);
        let copy = work.join(chart);
        copy_dir(&src, &copy);
        let chart_yaml = copy.join("Chart.yaml");
        let text = std::fs::read_to_string(&chart_yaml).unwrap();
        std::fs::write(
            &chart_yaml,
            text.replace("nvcr.io/nvidia/nvcf/", &format!("{upstream}/{REPO}/")),
        )
        .unwrap();
        let out = Command::new(helm)
            .args(["package"])
            .arg(&copy)
            .arg("-d")
            .arg(work)
            .output()
            .unwrap();
        assert_success(&out);
    }
    for entry in std::fs::read_dir(work).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tgz") {
            let out = Command::new(helm)
                .arg("push")
                .arg(&path)
                .arg(format!("oci://{upstream}/{REPO}"))
                .arg("--plain-http")
                .output()
                .unwrap();
            assert_success(&out);
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// repository and tag of `host/repo:tag`.
fn repo_tag<'a>(reference: &'a str, host: &str) -> (&'a str, &'a str) {
    let rest = reference
        .strip_prefix(&format!("{host}/"))
        .unwrap_or_else(|| panic!("{reference} is not in {host}"));
    rest.rsplit_once(':').unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn mirror_discovers_copies_exactly_skips_on_rerun_and_works_offline() {
    let helm = common::helm4();
    let upstream = TestRegistry::start();
    let dest = TestRegistry::start();
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    push_charts(&helm, &upstream.host, work.path());

    // Dry run: charts are read from upstream, images discovered, nothing copied.
    let plan = run_json(nvcf_dev(home.path(), &upstream.host).args([
        "mirror",
        "--dry-run",
        "-o",
        "json",
        "--to",
        &dest.host,
    ]));
    assert_eq!(plan["dry_run"], true);
    let items = plan["items"].as_array().unwrap();
    let charts: Vec<&str> = items
        .iter()
        .filter(|i| i["kind"] == "chart")
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert_eq!(charts.len(), 3, "{charts:?}");
    let images: Vec<String> = items
        .iter()
        .filter(|i| i["kind"] == "image")
        .map(|i| i["source"].as_str().unwrap().to_string())
        .collect();
    let mut names: Vec<&str> = images
        .iter()
        .map(|i| {
            repo_tag(i, &upstream.host)
                .0
                .trim_start_matches("my-org/my-team/")
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "alpine-k8s",
            "bitnami-cassandra",
            "cassandra-exporter",
            "nats-box",
            "nats-server",
            "nats-server-config-reloader",
            "nvcf-cassandra-migrations",
            "nvcf-openbao",
            "nvcf-openbao-migrations",
            "oss-vault-k8s"
        ],
        "hook-job, initContainer, annotation and sidecar images included"
    );
    let why = |name: &str| -> Vec<String> {
        let item = items
            .iter()
            .find(|i| i["source"].as_str().unwrap().contains(&format!("/{name}:")))
            .unwrap();
        item["found_in"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert!(why("nvcf-openbao-migrations")
        .iter()
        .any(|s| s.contains("Job/openbao-server-migrations") && s.contains("hook")));
    assert!(why("cassandra-exporter")
        .iter()
        .any(|s| s.contains("helm.sh/images")));
    assert!(items.iter().all(|i| i["present"] == false));
    assert_eq!(
        Api::get_manifest_raw(&dest.client(), &format!("{REPO}/helm-nvcf-nats"), "0.5.0").await,
        None,
        "a dry run copies nothing"
    );

    // Upstream gets an image for each; one of them a multi-arch index.
    let api = upstream.client();
    for image in &images {
        let (repo, tag) = repo_tag(image, &upstream.host);
        if repo.ends_with("/nats-server") {
            let (index, _, _) = api.push_index(repo, tag).await;
            assert!(index.starts_with("sha256:"));
        } else {
            api.push_image(repo, tag, &[random(48 * 1024)], OCI_MANIFEST)
                .await;
        }
    }

    // The real mirror: every chart and image arrives with the upstream digest.
    let report = run_json(
        nvcf_dev(home.path(), &upstream.host).args(["mirror", "-o", "json", "--to", &dest.host]),
    );
    assert_eq!(report["summary"]["images"], 13);
    assert!(report["summary"]["bytes_copied"].as_u64().unwrap() > 10 * 48 * 1024);
    let dapi = dest.client();
    for item in report["items"].as_array().unwrap() {
        let (repo, tag) = repo_tag(item["source"].as_str().unwrap(), &upstream.host);
        let want = api.get_manifest_raw(repo, tag).await.unwrap();
        let got = dapi
            .get_manifest_raw(repo, tag)
            .await
            .unwrap_or_else(|| panic!("{repo}:{tag} not mirrored"));
        assert_eq!(
            digest_of(&got.0),
            digest_of(&want.0),
            "{repo}:{tag} keeps its digest"
        );
        assert_eq!(got.1, want.1, "{repo}:{tag} keeps its media type");
        dapi.verify_tree(repo, tag).await;
    }

    // A re-run copies nothing.
    let again = run_json(
        nvcf_dev(home.path(), &upstream.host).args(["mirror", "-o", "json", "--to", &dest.host]),
    );
    assert_eq!(again["summary"]["bytes_copied"], 0);
    assert_eq!(again["summary"]["images_already_present"], 13);

    // Upstream gone: what is present is never asked of it, so this still works.
    let upstream_host = upstream.host.clone();
    drop(api);
    drop(upstream);
    assert!(
        std::net::TcpStream::connect(&upstream_host).is_err(),
        "upstream is down"
    );
    let offline = run_json(
        nvcf_dev(home.path(), &upstream_host).args(["mirror", "-o", "json", "--to", &dest.host]),
    );
    assert_eq!(offline["summary"]["bytes_copied"], 0);
    assert_eq!(offline["summary"]["images_already_present"], 13);

    // --why in text names where each image was found.
    let out = nvcf_dev(home.path(), &upstream_host)
        .args(["mirror", "--dry-run", "--why", "--to", &dest.host])
        .output()
        .unwrap();
    assert_success(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("StatefulSet/openbao-server container auto-unseal-sidecar"),
        "{text}"
    );
    assert!(text.contains("present"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_upstream_is_one_clear_error() {
    common::helm4();
    let dest = TestRegistry::start();
    let home = tempfile::tempdir().unwrap();
    let out = nvcf_dev(home.path(), "127.0.0.1:1")
        .args(["mirror", "--to", &dest.host])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "{err}");
    assert!(last.contains("127.0.0.1:1"), "names the registry: {last}");
}

#[tokio::test(flavor = "multi_thread")]
async fn charts_are_fetched_for_helm_without_any_registry_login() {
    let helm = common::helm4();
    let upstream = TestRegistry::start();
    let work = tempfile::tempdir().unwrap();
    push_charts(&helm, &upstream.host, work.path());
    let state = tempfile::tempdir().unwrap();
    let host: &'static str = Box::leak(upstream.host.clone().into_boxed_str());
    let env = nvcf_dev::settings::Env::from_pairs([("REGISTRY", host), ("REPOSITORY", REPO)]);
    let ctx = nvcf_dev::settings::Context {
        env: &env,
        prompt: &nvcf_dev::settings::NoPrompt,
        state_dir: Some(state.path().into()),
    };
    let settings = nvcf_dev::settings::resolve(
        nvcf_dev::profile::load("dev").unwrap(),
        "nvcf-dev",
        &nvcf_dev::settings::Flags::default(),
        &ctx,
        nvcf_dev::settings::Purpose::Plan,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let reference = format!("{host}/{REPO}/helm-nvcf-openbao-server:0.22.1");
    let path = nvcf_dev::ops::mirror::fetch_chart_file(&settings, &reference, dir.path())
        .await
        .unwrap();
    let out = Command::new(&helm)
        .args(["show", "chart"])
        .arg(&path)
        .output()
        .unwrap();
    let chart = String::from_utf8_lossy(&out.stdout);
    assert!(
        chart.contains("name: helm-nvcf-openbao-server") && chart.contains("version: 0.22.1"),
        "{chart}"
    );

    let missing = nvcf_dev::ops::mirror::fetch_chart_file(
        &settings,
        &format!("{host}/{REPO}/helm-nvcf-nope:1.0.0"),
        dir.path(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        missing.contains("helm-nvcf-nope:1.0.0") && missing.contains("not found"),
        "{missing}"
    );
}
