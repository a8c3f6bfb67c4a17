//! The mirror's render cache, through the binary with the real helm: a warm
//! run renders nothing, and a changed value, a changed chart (re-pushed
//! under the same tag) or a corrupt cache file renders again and finds what
//! the charts now deploy.

mod common;

use std::path::{Path, PathBuf};

use common::cli::assert_success;
use common::registry::TestRegistry;

const REPO: &str = "my-org/my-team";

/// A `helm` that logs each subcommand to `log`, then runs the real one.
fn logging_helm(dir: &Path, real: &str, log: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("helm");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{}'\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

struct Env {
    upstream: TestRegistry,
    dest: TestRegistry,
    home: tempfile::TempDir,
    bin: PathBuf,
    log: PathBuf,
}

impl Env {
    /// `mirror --dry-run -o json` with `profile` (a file in home) if given:
    /// the report, and how many `helm template` ran.
    fn dry_run(&self, profile: Option<&str>) -> (serde_json::Value, usize) {
        let before = self.templates();
        let mut cmd = common::cli::nvcf_dev(self.home.path());
        cmd.env(
            "PATH",
            format!(
                "{}:{}",
                self.bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("REGISTRY", &self.upstream.host)
        .env("REPOSITORY", REPO)
        .args(["mirror", "--dry-run", "-o", "json", "--to", &self.dest.host]);
        if let Some(text) = profile {
            let p = self.home.path().join("mine.yaml");
            std::fs::write(&p, text).unwrap();
            cmd.arg("--profile").arg(p);
        }
        let out = cmd.output().unwrap();
        assert_success(&out);
        (
            serde_json::from_slice(&out.stdout).unwrap(),
            self.templates() - before,
        )
    }

    fn templates(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == "template")
            .count()
    }

    fn cache_files(&self) -> Vec<PathBuf> {
        let dir = self.home.path().join("nvcf-dev");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten() {
            let path = entry.unwrap().path().join("render-cache.json");
            if path.exists() {
                out.push(path);
            }
        }
        out
    }
}

/// Image sources of a report, sorted, with where each was found.
fn images(report: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "image")
        .map(|i| {
            (
                i["source"].as_str().unwrap().to_string(),
                i["found_in"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    out.sort();
    out
}

fn setup() -> (Env, tempfile::TempDir) {
    let helm = common::helm4();
    let upstream = TestRegistry::start();
    let dest = TestRegistry::start();
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    common::charts::push_charts(&helm, &upstream.host, REPO, work.path(), "current");
    let log = home.path().join("helm.log");
    let bin = logging_helm(home.path(), &helm, &log);
    (
        Env {
            upstream,
            dest,
            home,
            bin,
            log,
        },
        work,
    )
}

#[test]
fn a_warm_mirror_renders_nothing_and_any_change_renders_again() {
    let (env, work) = setup();

    let (cold, rendered) = env.dry_run(None);
    assert_eq!(rendered, 3, "the first run renders every chart");
    let files = env.cache_files();
    assert_eq!(files.len(), 1, "{files:?}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // Hit: the same charts and values render nothing, and find the same.
    let (warm, rendered) = env.dry_run(None);
    assert_eq!(rendered, 0, "a warm run renders nothing");
    assert_eq!(images(&warm), images(&cold));

    // A changed value renders that chart again: the rendered nats-box
    // container now names the new tag, and the old one is gone. (The
    // default profile with one override, so only nats's values change.)
    let dev =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/dev.yaml"))
            .unwrap();
    assert!(
        dev.contains("\n  nats: {}\n"),
        "the dev profile's nats values"
    );
    let profile = dev.replace(
        "\n  nats: {}\n",
        "\n  nats:\n    nats:\n      natsBox:\n        container:\n          image:\n            tag: 9.9.9-test\n",
    );
    let (changed, rendered) = env.dry_run(Some(&profile));
    assert_eq!(rendered, 1, "only the chart whose values changed");
    let found = images(&changed);
    let nats_box: Vec<&(String, Vec<String>)> = found
        .iter()
        .filter(|(s, _)| s.contains("/nats-box:"))
        .collect();
    assert_eq!(nats_box.len(), 1, "{found:?}");
    assert!(nats_box[0].0.ends_with(":9.9.9-test"), "{found:?}");
    assert!(
        nats_box[0].1.iter().any(|s| s.starts_with("Deployment/")),
        "found in the rendered Deployment, not only in the values: {found:?}"
    );

    // A changed chart under the same tag: a new image in its templates.
    let chart = work.path().join("helm-nvcf-nats");
    std::fs::write(
        chart.join("templates/extra-job.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: extra\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: extra\n          image: example.test/cache-probe:1.0\n",
    )
    .unwrap();
    let out = work.path().join("repushed");
    std::fs::create_dir_all(&out).unwrap();
    common::charts::push_chart_dir(&common::helm4(), &env.upstream.host, REPO, &chart, &out);
    let (repushed, rendered) = env.dry_run(None);
    assert_eq!(rendered, 1, "only the chart that changed");
    assert!(
        images(&repushed)
            .iter()
            .any(|(s, from)| s == "example.test/cache-probe:1.0"
                && from.iter().any(|f| f == "Job/extra container extra")),
        "{:?}",
        images(&repushed)
    );
}

#[test]
fn a_corrupt_cache_file_is_ignored_and_replaced() {
    let (env, _work) = setup();
    let (cold, _) = env.dry_run(None);
    let file = env.cache_files().pop().expect("a cache file");
    for junk in [
        &b"{\"format\":1,\"entries\":{\"nats\":"[..],
        &[0xff, 0xfe, 0x00][..],
    ] {
        std::fs::write(&file, junk).unwrap();
        let (again, rendered) = env.dry_run(None);
        assert_eq!(rendered, 3, "nothing trusted from a corrupt file");
        assert_eq!(images(&again), images(&cold));
    }
    let text = std::fs::read(&file).unwrap();
    assert!(
        serde_json::from_slice::<serde_json::Value>(&text).is_ok(),
        "rewritten whole"
    );
    let (_, rendered) = env.dry_run(None);
    assert_eq!(rendered, 0, "and used again");
}
