//! `nvcf-dev up` and `down` as a user runs them, as far as this machine
//! allows. kind has no node image here, so a stand-in `kind` script makes a
//! "node" container (the test registry image) labelled the way kind labels
//! its nodes, on the `kind` network, and writes a kubeconfig that points at a
//! minimal fake API server in this process. Everything else is real: the
//! registry container, the hosts.toml files written into the node through
//! the Docker API, the network connect, the server-side applies, and the
//! mirror step, which fails cleanly because the upstream is unreachable.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// Answers /version, and server-side applies by echoing the object back.
/// Anything else gets a 404 Status, as an empty cluster would answer.
fn fake_api_server() -> (String, Arc<Mutex<Vec<String>>>) {
    common::fake_http::serve(|method, path, body| {
        if path.starts_with("/version") {
            (200, common::fake_http::VERSION.to_string())
        } else if method == "PATCH" {
            (200, body.to_string())
        } else if method == "POST" {
            (201, body.to_string())
        } else {
            (404, common::fake_http::NOT_FOUND.to_string())
        }
    })
}

struct World {
    home: tempfile::TempDir,
    bin: PathBuf,
    profile: PathBuf,
    api: String,
    cluster: String,
    registry: String,
}

impl World {
    fn new(tag: &str, port: u16) -> (World, Arc<Mutex<Vec<String>>>) {
        let image = std::env::var("NVCF_DEV_TEST_REGISTRY_IMAGE")
            .expect("run scripts/test.sh (it sets up Docker)");
        let home = tempfile::tempdir().unwrap();
        let bin = home.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        common::write_script(&bin.join("kind"), common::fake_kind::SCRIPT);
        let helm = std::env::var("NVCF_DEV_TEST_HELM4").expect("run scripts/test.sh");
        std::os::unix::fs::symlink(helm, bin.join("helm")).unwrap();
        let registry = format!("nvcf-dev-test-up-{tag}");
        let profile = home.path().join("test.yaml");
        std::fs::write(
            &profile,
            format!(
                "cassandraPassword: generate\ncluster:\n  kindConfig: single-node\n  storageSize: 1Gi\n  registry:\n    name: {registry}\n    image: {image}\n    port: {port}\n"
            ),
        )
        .unwrap();
        let (api, log) = fake_api_server();
        let w = World {
            home,
            bin,
            profile,
            api,
            cluster: format!("nvcf-dev-test-{tag}"),
            registry,
        };
        w.cleanup();
        (w, log)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = common::fake_kind::command(
            env!("CARGO_BIN_EXE_nvcf-dev").as_ref(),
            self.home.path(),
            &self.bin,
            &self.api,
        );
        cmd // The upstream is unreachable: the mirror step must fail cleanly.
            .env("REGISTRY", "127.0.0.1:1")
            .env("REPOSITORY", "my-org/my-team")
            .env("NGC_API_KEY", "fake-ngc-key-for-tests-0123456789")
            .arg("--profile")
            .arg(&self.profile)
            .args(["--cluster", &self.cluster])
            .args(args);
        cmd
    }

    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.home.path().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn node(&self) -> String {
        format!("{}-control-plane", self.cluster)
    }

    /// Leftovers of a killed run must not decide the outcome.
    fn cleanup(&self) {
        common::fake_kind::remove_leftovers(&self.cluster, &self.registry);
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A file from a container without a shell: `docker cp` to a directory.
fn file_in(container: &str, path: &str, into: &Path) -> String {
    let out = Command::new("docker")
        .args(["cp", &format!("{container}:{path}")])
        .arg(into)
        .output()
        .unwrap();
    assert!(out.status.success(), "{path}: {}", text(&out.stderr));
    std::fs::read_to_string(into.join(Path::new(path).file_name().unwrap())).unwrap()
}

fn gone(name: &str) -> bool {
    !Command::new("docker")
        .args(["inspect", name])
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn up_wires_registry_and_cluster_fails_cleanly_at_an_unreachable_upstream_and_down_removes_it() {
    let (w, api_log) = World::new("e2e", 15861);
    let out = w.run(&["up"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");

    // Steps in order, each ✓; then the mirror fails with one line naming the registry.
    let registry_line = format!(
        " ✓ Starting local registry {} on 127.0.0.1:15861: created",
        w.registry
    );
    assert!(err.contains(&registry_line), "{err}");
    let cluster_line = format!(
        " ✓ Creating cluster {}: created, context kind-{}",
        w.cluster, w.cluster
    );
    assert!(err.contains(&cluster_line), "{err}");
    assert!(
        err.contains(" ✓ Connecting the cluster to the local registry: 1 node"),
        "{err}"
    );
    assert!(
        err.contains(" ✓ Creating namespaces nats-system, vault-system, cassandra-system"),
        "{err}"
    );
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("error: ") && last.contains("127.0.0.1:1"),
        "{err}"
    );
    assert!(
        !err.contains("fake-ngc-key-for-tests"),
        "the key never shows"
    );

    // kind got the config on stdin, with the containerd patch.
    assert_eq!(
        w.calls(),
        [
            "get clusters".to_string(),
            format!("create cluster --name {} --config - --wait 2m", w.cluster),
            format!("export kubeconfig --name {}", w.cluster),
        ]
    );
    let config =
        std::fs::read_to_string(w.home.path().join(format!("config-{}.yaml", w.cluster))).unwrap();
    assert!(
        config.contains("config_path = \"/etc/containerd/certs.d\""),
        "{config}"
    );

    // The node has hosts.toml for the local registry and, local first, for upstream.
    let dir = tempfile::tempdir().unwrap();
    let local = file_in(
        &w.node(),
        "/etc/containerd/certs.d/localhost:15861/hosts.toml",
        dir.path(),
    );
    assert!(
        local.contains(&format!("[host.\"http://{}:5000\"]", w.registry)),
        "{local}"
    );
    let dir = tempfile::tempdir().unwrap();
    let upstream = file_in(
        &w.node(),
        "/etc/containerd/certs.d/127.0.0.1:1/hosts.toml",
        dir.path(),
    );
    assert!(
        upstream.contains(&format!("http://{}:5000", w.registry)),
        "{upstream}"
    );

    // The registry is on the kind network, so nodes reach it by name.
    let nets = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            &w.registry,
        ])
        .output()
        .unwrap();
    assert!(
        text(&nets.stdout).split_whitespace().any(|n| n == "kind"),
        "{}",
        text(&nets.stdout)
    );

    // The KEP-1755 ConfigMap and the namespaces were applied server-side.
    let log = api_log.lock().unwrap().clone();
    let applied = |needle: &str| {
        log.iter()
            .any(|l| l.starts_with("PATCH") && l.contains(needle))
    };
    assert!(
        applied("/api/v1/namespaces/kube-public/configmaps/local-registry-hosting?"),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("localRegistryHosting.v1") && l.contains("localhost:15861")),
        "{log:#?}"
    );
    for ns in ["nats-system", "vault-system", "cassandra-system"] {
        let created = log.iter().any(|l| {
            l.starts_with("POST /api/v1/namespaces?")
                && l.contains(&format!("\"name\":\"{ns}\""))
                && l.contains("dev.nvcf.managed-by")
        });
        assert!(created, "{ns} created, labelled as ours: {log:#?}");
    }

    // A re-run picks up where it stopped: everything is reused.
    let again = text(&w.run(&["up"]).stderr);
    assert!(again.contains(": reused ("), "{again}");
    assert!(
        again.contains(&format!(" ✓ Creating cluster {}: reused", w.cluster)),
        "{again}"
    );

    // After a reboot the nodes are stopped: say how to start them.
    let stopped = Command::new("docker")
        .args(["stop", "-t", "0", &w.node()])
        .output()
        .unwrap();
    assert!(stopped.status.success());
    let out = w.run(&["up"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .contains(&format!("run `docker start {}`", w.node())),
        "{err}"
    );

    // down removes the cluster and the registry, and keeps the volume.
    let out = w.run(&["down", "--yes"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(" ✓ Deleting cluster {}", w.cluster)),
        "{err}"
    );
    assert!(gone(&w.node()) && gone(&w.registry), "{err}");
    assert!(
        !gone(&format!("{}-data", w.registry)),
        "the mirrored images survive down"
    );
    let nothing = text(&w.run(&["down", "--yes"]).stderr);
    assert!(nothing.contains("Nothing to remove"), "{nothing}");
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks for existence; a zombie counts as gone for us.
    let exists = unsafe { libc::kill(pid, 0) == 0 };
    exists
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn ctrl_c_stops_cleanly_kills_kind_and_says_how_to_resume() {
    let (w, _) = World::new("ctrlc", 15862);
    let child = w
        .command(&["up"])
        .env("FAKE_KIND_SLOW", "1")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = w.home.path().join("create.pid");
    let started = std::time::Instant::now();
    while !pid_file.exists() {
        assert!(
            started.elapsed().as_secs() < 60,
            "kind create never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let kind_pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(kind_pid));

    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let interrupted = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(interrupted.elapsed().as_secs() < 5, "stops promptly");
    assert_eq!(out.status.code(), Some(130));
    let err = text(&out.stderr);
    assert!(err.contains(" ✗ Creating cluster"), "{err}");
    assert!(
        err.lines()
            .last()
            .unwrap()
            .starts_with("error: interrupted:")
            && err.contains("run the same command again"),
        "{err}"
    );
    for _ in 0..50 {
        if !alive(kind_pid) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !alive(kind_pid),
        "the kind child was killed, not left running"
    );
}
