//! The release lifecycle as a user meets it: one run at a time per cluster,
//! Ctrl-C giving helm time to record the failure (then saying the release's
//! state and what the next `up` does), `plan` showing each release's
//! decision, and bad input refused before anything is written.
//!
//! helm is a stand-in script (it records its argv and how it was stopped),
//! the Kubernetes API a minimal fake server in this process answering with
//! recorded release records (tests/fixtures/releases).

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cli::{nvcf_dev, one_error_line};

/// A stand-in helm: `version` answers; `uninstall`/`upgrade` write their pid,
/// then wait; on SIGTERM they write `term` (as helm records the failure) and
/// exit after a moment, unless FAKE_HELM_IGNORE_TERM.
const FAKE_HELM: &str = r#"#!/bin/sh
echo "$*" >> "$FAKE_HELM_STATE/calls"
case "$1" in
  version) echo "v3.17.3+ge4da497"; exit 0 ;;
  uninstall|upgrade|rollback)
    if [ -n "$FAKE_HELM_IGNORE_TERM" ]; then trap '' TERM INT; else
      trap 'echo term > "$FAKE_HELM_STATE/stopped"; sleep 1; exit 1' TERM INT; fi
    echo $$ > "$FAKE_HELM_STATE/helm.pid"
    i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; exit 0 ;;
  *) exit 0 ;;
esac
"#;

/// Serves /version, and the recorded release records of `release` for a
/// list of secrets labelled `name=<release>`; anything else is a 404.
fn fake_api(records: &'static str, release: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
    let body = std::fs::read_to_string(format!(
        "{}/tests/fixtures/releases/{records}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let empty = r#"{"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadataList","metadata":{},"items":[]}"#;
    common::fake_http::serve(move |_, path, _| {
        if path.starts_with("/version") {
            (200, common::fake_http::VERSION.to_string())
        } else if path.contains("/secrets?") && path.contains(&format!("name%3D{release}")) {
            (200, body.clone())
        } else if path.contains("/secrets?") {
            (200, empty.to_string())
        } else {
            (404, common::fake_http::NOT_FOUND.to_string())
        }
    })
}

struct World {
    home: tempfile::TempDir,
    bin: PathBuf,
}

impl World {
    fn new(api: &str) -> World {
        let home = tempfile::tempdir().unwrap();
        let bin = home.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        common::write_script(&bin.join("helm"), FAKE_HELM);
        std::fs::write(
            home.path().join("kubeconfig"),
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"http://{api}\"}}\nusers:\n- name: u\n  user: {{token: fake}}\ncontexts:\n- name: ctx-test\n  context: {{cluster: c, user: u}}\n- name: kind-nvcf-dev\n  context: {{cluster: c, user: u}}\ncurrent-context: ctx-test\n"
            ),
        )
        .unwrap();
        World { home, bin }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = common::cli::isolated(
            env!("CARGO_BIN_EXE_nvcf-dev").as_ref(),
            self.home.path(),
            &self.bin,
        );
        cmd.env("FAKE_HELM_STATE", self.home.path()).args(args);
        cmd
    }

    fn file(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.home.path().join(name)).ok()
    }
}

fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{path:?} never appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn alive(pid: i32) -> bool {
    let exists = unsafe { libc::kill(pid, 0) == 0 };
    exists
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// `down --context` runs `helm uninstall openbao-server` first: Ctrl-C then.
fn interrupt_during_helm(w: &World, ignore_term: bool) -> (std::process::Output, Duration) {
    let mut cmd = w.command(&["down", "--context", "ctx-test", "--yes"]);
    if ignore_term {
        cmd.env("FAKE_HELM_IGNORE_TERM", "1");
    }
    let child = cmd.stderr(Stdio::piped()).spawn().unwrap();
    wait_for(&w.home.path().join("helm.pid"));
    // Only nvcf-dev is signalled (a terminal would signal helm too): it
    // must pass the stop on to helm itself.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let at = Instant::now();
    let out = child.wait_with_output().unwrap();
    (out, at.elapsed())
}

#[test]
fn ctrl_c_lets_helm_record_the_failure_then_says_the_state_and_the_next_up() {
    let (api, _) = fake_api("failed-first-install", "openbao-server");
    let w = World::new(&api);
    let (out, took) = interrupt_during_helm(&w, false);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert_eq!(
        w.file("stopped").as_deref(),
        Some("term\n"),
        "helm got SIGTERM, not SIGKILL: {err}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "waited for helm to finish recording, no longer: {took:?}"
    );
    let last = err.lines().last().unwrap();
    assert_eq!(
        last,
        "error: interrupted: openbao-server is failed (revision 1): the next `nvcf-dev up` uninstalls it and installs it again",
        "{err}"
    );
    assert!(w
        .file("calls")
        .unwrap()
        .contains("uninstall openbao-server --namespace vault-system"));
}

#[test]
fn ctrl_c_kills_a_helm_that_does_not_stop_within_the_grace() {
    let (api, _) = fake_api("pending-upgrade", "openbao-server");
    let w = World::new(&api);
    let (out, took) = interrupt_during_helm(&w, true);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(12),
        "the grace is bounded: {took:?}"
    );
    let pid: i32 = w.file("helm.pid").unwrap().trim().parse().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(!alive(pid), "helm was killed after the grace");
    assert!(
        err.lines().last().unwrap().ends_with(
            "interrupted: helm did not stop within 5s and was killed; openbao-server is pending-upgrade (revision 3): the next `nvcf-dev up` rolls it back to revision 2, then upgrades it"
        ),
        "{err}"
    );
}

/// Holds the lock as a running `nvcf-dev up` would: flock on the file.
/// Another process holding the cluster's lock, as a running `command` would:
/// its record written, the flock taken by a child process (util-linux
/// `flock`), so dropping it kills the holder and the OS releases the lock.
/// A lock held on a file of this process could outlive `drop` in a child
/// another test thread forks at that moment.
struct LockHolder(std::process::Child);

impl Drop for LockHolder {
    fn drop(&mut self) {
        // The whole group: flock and the command it runs.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

fn hold_lock(state: &Path, cluster: &str, command: &str) -> LockHolder {
    use std::io::BufRead;
    let dir = state.join("nvcf-dev").join(cluster);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lock");
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 125;
    std::fs::write(&path, format!("{command}\n4242\n{since}\n")).unwrap();
    // --close: only flock itself holds the lock, not the command it runs.
    let mut child = Command::new("flock")
        .args(["--exclusive", "--nonblock", "--close"])
        .arg(&path)
        .args(["-c", "echo locked; exec sleep 600"])
        .stdout(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    LockHolder(child)
}

#[test]
fn a_second_run_is_refused_naming_the_holder_and_since_when() {
    let state = tempfile::tempdir().unwrap();
    let held = hold_lock(state.path(), "nvcf-dev", "up");
    let runs: [&[&str]; 4] = [
        &["up"],
        &["down", "--yes"],
        &["reset", "openbao", "--yes"],
        &["mirror"],
    ];
    for args in runs {
        let out = nvcf_dev(state.path())
            .env("REPOSITORY", "my-org/my-team")
            .env("NGC_API_KEY", "fake-ngc-key-for-tests-0123456789")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let line = one_error_line(&out.stderr);
        assert!(
            line.starts_with(
                "error: `nvcf-dev up` (pid 4242) is working on cluster nvcf-dev since 2m0"
            ) && line
                .contains("one run at a time; wait for it to finish, or stop it (`kill 4242`)"),
            "{args:?}: {line}"
        );
    }
    // Another cluster is not blocked; a dry run takes no lock.
    let out = nvcf_dev(state.path())
        .env("REPOSITORY", "my-org/my-team")
        .args(["reset", "openbao", "--dry-run"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("is working on cluster"), "{err}");
    // Released by the OS when the holder goes: the lock is free again.
    drop(held);
    let out = nvcf_dev(state.path())
        .args(["down", "--yes", "--context", "no-such-context"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("is working on cluster"), "{err}");
}

#[test]
fn a_bad_cluster_name_is_refused_before_anything_is_written() {
    for name in ["../../../../tmp/x", "Bad Name!", ".."] {
        let state = tempfile::tempdir().unwrap();
        let out = nvcf_dev(state.path())
            .env("REPOSITORY", "my-org/my-team")
            .env("NGC_API_KEY", "fake-ngc-key-for-tests-0123456789")
            .args(["up", "--cluster", name])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let line = one_error_line(&out.stderr);
        assert!(
            line.starts_with(&format!("error: --cluster is not valid: `{name}` is not a kind cluster name: use lowercase letters, digits")),
            "{line}"
        );
        let written: Vec<_> = std::fs::read_dir(state.path()).unwrap().collect();
        assert!(written.is_empty(), "{name}: {written:?}");
    }
}

#[test]
fn plan_shows_each_release_decision_when_the_cluster_answers() {
    let (api, _) = fake_api("failed-first-install", "openbao-server");
    let w = World::new(&api);
    let out = w
        .command(&["plan"])
        .env("REPOSITORY", "my-org/my-team")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("On kind-nvcf-dev now, `up` would:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  nats (nats): not installed: install"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  openbao (openbao-server): its first install failed, so its post-install hooks never completed: uninstall and install again"),
        "{stdout}"
    );
    let out = w
        .command(&["plan", "-o", "json"])
        .env("REPOSITORY", "my-org/my-team")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["releases"][1]["decision"], "reinstall");
    assert_eq!(v["releases"][0]["decision"], "install");
    assert_eq!(
        v["components"][0]["name"], "nats",
        "still one plan document"
    );
}

#[test]
fn plan_says_nothing_about_releases_without_a_cluster() {
    let state = tempfile::tempdir().unwrap();
    let out = nvcf_dev(state.path())
        .env("REPOSITORY", "my-org/my-team")
        .arg("plan")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("`up` would"), "{stdout}");
}

#[test]
fn bad_inputs_name_the_setting_and_the_expected_form() {
    let state = tempfile::tempdir().unwrap();
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut cmd = nvcf_dev(state.path());
        cmd.env("REPOSITORY", "my-org/my-team");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        one_error_line(&out.stderr)
    };
    assert_eq!(
        run(&[("REGISTRY", "http://host")], &["plan"]),
        "error: REGISTRY is not valid: `http://host` is a URL (plain HTTP is used for loopback registries by itself): give HOST or HOST:PORT, e.g. nvcr.io"
    );
    assert_eq!(
        run(&[], &["mirror", "--dry-run", "--to", "airgap.local"]),
        "error: --to is not valid: `airgap.local` has no port: give HOST:PORT, e.g. localhost:5002"
    );
    let profile = state.path().join("p.yaml");
    std::fs::write(&profile, "cluster:\n  kindConfig: ./no-such-kind.yaml\n").unwrap();
    let line = run(&[], &["plan", "--profile", profile.to_str().unwrap()]);
    assert!(line.contains("no-such-kind.yaml"), "{line}");
    // Nothing was written by any of them.
    assert!(!state.path().join("nvcf-dev").exists());
}
