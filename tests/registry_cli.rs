//! `nvcf-dev registry` and `nvcf-dev down` as a user runs them, against the
//! real Docker Engine. A profile gives the registry its own name and port, so
//! these tests never touch a developer's real `nvcf-dev-registry`.

mod common;

use std::process::{Command, Output};

struct Setup {
    home: tempfile::TempDir,
    profile: std::path::PathBuf,
    name: String,
}

impl Setup {
    fn new(tag: &str, port: u16) -> Setup {
        let image = std::env::var("NVCF_DEV_TEST_REGISTRY_IMAGE")
            .expect("run scripts/test.sh (it sets up Docker)");
        let home = tempfile::tempdir().unwrap();
        let name = format!("nvcf-dev-test-cli-{tag}");
        let profile = home.path().join("test.yaml");
        std::fs::write(
            &profile,
            format!(
                "cluster:\n  registry:\n    name: {name}\n    image: {image}\n    port: {port}\n"
            ),
        )
        .unwrap();
        let s = Setup {
            home,
            profile,
            name,
        };
        // A leftover of a killed run must not decide the outcome.
        s.run(&["down", "--purge", "--yes"]);
        s
    }

    fn run(&self, args: &[&str]) -> Output {
        let bin_dir = self.home.path().join("bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        common::cli::nvcf_dev(self.home.path())
            // No kind on PATH: down must find the cluster absent from Docker's labels.
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .arg("--profile")
            .arg(&self.profile)
            .args(["--cluster", &self.name])
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.run(&["down", "--purge", "--yes"]);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn docker_has(kind: &str, name: &str) -> bool {
    Command::new("docker")
        .args([kind, "inspect", name])
        .output()
        .unwrap()
        .status
        .success()
}

fn ok(out: &Output) -> (String, String) {
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn registry_up_is_idempotent_status_counts_and_down_keeps_the_volume() {
    let s = Setup::new("lifecycle", 15801);
    let (out, err) = ok(&s.run(&["registry", "up"]));
    assert_eq!(out, "localhost:15801\n");
    assert!(err.contains(": created ("), "{err}");
    let (_, err) = ok(&s.run(&["registry", "up"]));
    assert!(err.contains(": reused ("), "{err}");

    let (out, _) = ok(&s.run(&["registry", "status", "-o", "json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["running"], true);
    assert_eq!(v["address"], "localhost:15801");
    assert_eq!(v["images"], 0);

    let (_, err) = ok(&s.run(&["registry", "down"]));
    assert!(
        err.contains(&format!("volume {}-data kept", s.name)),
        "{err}"
    );
    assert!(!docker_has("container", &s.name));
    assert!(
        docker_has("volume", &format!("{}-data", s.name)),
        "mirrored images survive"
    );

    let out = s.run(&["registry", "status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not running: start it with `nvcf-dev registry up`"));
}

#[test]
fn down_removes_only_ours_asks_first_and_is_quiet_when_nothing_is_there() {
    let s = Setup::new("down", 15802);
    ok(&s.run(&["registry", "up"]));

    // Without a terminal, removing needs --yes.
    let out = s.run(&["down"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: down needs confirmation and there is no terminal to ask: add --yes"
    );
    assert!(docker_has("container", &s.name), "nothing removed");

    let (_, err) = ok(&s.run(&["down", "--yes"]));
    assert!(
        err.contains(&format!("Removing local registry {}", s.name)),
        "{err}"
    );
    assert!(!docker_has("container", &s.name));
    assert!(docker_has("volume", &format!("{}-data", s.name)));

    let (_, err) = ok(&s.run(&["down", "--yes"]));
    assert!(err.contains("Nothing to remove"), "{err}");

    let (_, err) = ok(&s.run(&["down", "--purge", "--yes"]));
    assert!(err.contains("with its volume"), "{err}");
    assert!(!docker_has("volume", &format!("{}-data", s.name)));
}

#[test]
fn a_busy_port_is_refused_and_named() {
    let s = Setup::new("busy", 15803);
    let _holder = std::net::TcpListener::bind("127.0.0.1:15803").unwrap();
    let out = s.run(&["registry", "up"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.lines().last().unwrap().contains("15803"), "{err}");
    assert!(
        !docker_has("container", &s.name),
        "nothing half-done left behind"
    );
}
