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
    common::charts::push_charts(&helm, &upstream.host, REPO, work.path(), "current");

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
            "bitnami-cassandra",
            "nats-box",
            "nats-server",
            "nats-server-config-reloader",
            "nvcf-cassandra-migrations",
            "nvcf-openbao",
            "nvcf-openbao-migrations",
            "oss-vault-k8s"
        ],
        "hook-job and sidecar images included; none for keys the charts do not read"
    );
    assert_eq!(
        plan["unresolved"],
        serde_json::json!([]),
        "no 'no tag decides it' for the guide's nkeyJob or initialization images"
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
    // The chart's own auto-unseal sidecar, on the server's image and tag.
    let bao = items
        .iter()
        .find(|i| i["source"].as_str().unwrap().contains("/nvcf-openbao:"))
        .unwrap();
    assert!(
        bao["source"].as_str().unwrap().ends_with(":2.5.5-nv-1.3.1"),
        "{bao}"
    );
    assert!(why("nvcf-openbao")
        .iter()
        .any(|s| s == "StatefulSet/openbao-server container auto-unseal-sidecar"));
    assert!(items.iter().all(|i| i["present"] == false));
    assert_eq!(
        Api::get_manifest_raw(&dest.client(), &format!("{REPO}/helm-nvcf-nats"), "0.8.0").await,
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
    assert_eq!(report["summary"]["images"], 11);
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
    assert_eq!(again["summary"]["images_already_present"], 11);

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
    assert_eq!(offline["summary"]["images_already_present"], 11);

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
    common::charts::push_charts(&helm, &upstream.host, REPO, work.path(), "current");
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
    let reference = format!("{host}/{REPO}/helm-nvcf-openbao-server:0.32.0");
    let path = nvcf_dev::phase1::charts::fetch_chart_file(&settings, &reference, dir.path())
        .await
        .unwrap();
    let out = Command::new(&helm)
        .args(["show", "chart"])
        .arg(&path)
        .output()
        .unwrap();
    let chart = String::from_utf8_lossy(&out.stdout);
    assert!(
        chart.contains("name: helm-nvcf-openbao-server") && chart.contains("version: 0.32.0"),
        "{chart}"
    );

    let missing = nvcf_dev::phase1::charts::fetch_chart_file(
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

/// The earlier series (Bitnami's cassandra inside helm-nvcf-cassandra 0.17.0)
/// mirrors too, through `--chart-version`: the keys that series reads (the
/// seed-discovery init container) bring their image, the ones it does not
/// (cassandra.initialization) bring nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_bitnami_series_mirrors_through_chart_version_flags() {
    let helm = common::helm3();
    let upstream = TestRegistry::start();
    let dest = TestRegistry::start();
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    common::charts::push_charts(&helm, &upstream.host, REPO, work.path(), "bitnami");
    let mut cmd = nvcf_dev(home.path(), &upstream.host);
    cmd.args(["mirror", "--dry-run", "-o", "json", "--to", &dest.host]);
    for v in common::series_versions("bitnami") {
        cmd.args(["--chart-version", v]);
    }
    let plan = run_json(&mut cmd);
    let items = plan["items"].as_array().unwrap();
    let found_in = |name: &str| -> Vec<String> {
        items
            .iter()
            .filter(|i| i["source"].as_str().unwrap().contains(&format!("/{name}:")))
            .flat_map(|i| i["found_in"].as_array().unwrap().clone())
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        found_in("bitnami-cassandra")
            .iter()
            .any(|s| s == "StatefulSet/cassandra initContainer dynamic-seed-discovery"),
        "{:?}",
        found_in("bitnami-cassandra")
    );
    assert!(
        found_in("alpine-k8s").is_empty(),
        "no image for keys no chart reads"
    );
    let charts: Vec<&str> = items
        .iter()
        .filter(|i| i["kind"] == "chart")
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert!(
        charts
            .iter()
            .any(|c| c.ends_with("helm-nvcf-cassandra:0.17.0")),
        "{charts:?}"
    );
    assert_eq!(plan["unresolved"], serde_json::json!([]));
}

fn profile(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("mine.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What the charts refuse is refused before anything is copied, in one line:
/// a tag the user pinned that the OpenBao chart would fail on (before helm
/// runs, naming both tags), and a chart's own `fail` (helm's `Error:` line,
/// not its "Use --debug flag" hint). A key the chart never reads is a warning.
#[tokio::test(flavor = "multi_thread")]
async fn values_the_charts_refuse_are_one_line_and_unread_keys_are_named() {
    let helm = common::helm4();
    let upstream = TestRegistry::start();
    let dest = TestRegistry::start();
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    common::charts::push_charts(&helm, &upstream.host, REPO, work.path(), "bitnami");
    let versions = common::series_versions("bitnami");
    let run = |profile_text: &str| {
        let p = profile(home.path(), profile_text);
        let mut cmd = nvcf_dev(home.path(), &upstream.host);
        cmd.args(["mirror", "--dry-run", "--to", &dest.host, "--profile"])
            .arg(&p);
        for v in versions {
            cmd.args(["--chart-version", v]);
        }
        cmd.output().unwrap()
    };

    let out = run("values:\n  openbao:\n    openbao:\n      injector:\n        agentImage:\n          tag: 2.2.2-nv-1\n");
    let (code, err) = (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err.lines().last().unwrap(),
        "error: the profile's values.openbao.openbao.injector.agentImage.tag is 2.2.2-nv-1, but helm-nvcf-openbao-server 0.30.25 runs the OpenBao server at 2.5.5-nv-1.3.1 (openbao.server.image.tag) and refuses to render unless they are equal: remove the override from the profile, or set both tags to the same value"
    );

    let out = run("values:\n  cassandra:\n    cassandra:\n      global:\n        security:\n          allowInsecureImages: false\n");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("error: the cassandra chart does not render with these values (Error: execution error at (helm-nvcf-cassandra/charts/cassandra/templates/NOTES.txt:6:3): Original containers have been substituted"),
        "helm's own Error: line: {last}"
    );
    assert!(
        last.ends_with("fix the profile's values.cassandra, then run the command again"),
        "{last}"
    );
    assert!(!last.contains("--debug"), "not helm's hint: {last}");

    let out = run("values:\n  cassandra:\n    cassandra:\n      maxHeapSize: 512M\n");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: helm-nvcf-cassandra 0.17.0 has no value `cassandra.maxHeapSize`, so the profile's values.cassandra.cassandra.maxHeapSize does nothing (did you mean `cassandra.jvm.maxHeapSize`?)"),
        "{err}"
    );
}

/// `COMPONENT=latest` is the highest release tag upstream; a version
/// upstream lacks is refused naming the versions it has and the flag.
#[tokio::test(flavor = "multi_thread")]
async fn chart_versions_are_what_the_registry_has() {
    let helm = common::helm4();
    let upstream = TestRegistry::start();
    let dest = TestRegistry::start();
    let home = tempfile::tempdir().unwrap();
    for series in ["bitnami", "current"] {
        let work = tempfile::tempdir().unwrap();
        common::charts::push_charts(&helm, &upstream.host, REPO, work.path(), series);
    }
    let out = nvcf_dev(home.path(), &upstream.host)
        .args(["mirror", "--dry-run", "--to", &dest.host])
        .args(["--chart-version", "nats=0.5.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().last().unwrap(),
        format!("error: helm-nvcf-nats 0.5.0 is not in {}/{REPO} (it has 0.7.2, 0.8.0): pass `--chart-version nats=0.8.0` for the newest, or `nats=latest`", upstream.host)
    );

    let report = run_json(
        nvcf_dev(home.path(), &upstream.host)
            .args(["mirror", "--dry-run", "-o", "json", "--to", &dest.host])
            .args([
                "--chart-version",
                "openbao=latest",
                "--chart-version",
                "cassandra=0.17.0",
            ]),
    );
    let charts: Vec<&str> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "chart")
        .map(|i| i["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        charts,
        [
            format!("{}/{REPO}/helm-nvcf-nats:0.8.0", upstream.host),
            format!("{}/{REPO}/helm-nvcf-openbao-server:0.32.0", upstream.host),
            format!("{}/{REPO}/helm-nvcf-cassandra:0.17.0", upstream.host),
        ]
    );
}
