//! The binary as a user runs it: errors are one clear line with a non-zero
//! exit, and secrets never reach stdout or stderr at any verbosity.

mod common;

use common::cli::{assert_success, nvcf_dev, one_error_line};
use predicates::prelude::*;

const FAKE_KEY: &str = "fake-ngc-key-for-tests-0123456789";
const PASSWORD: &str = "not-the-real-pw-42";

#[test]
fn secrets_are_redacted_at_every_verbosity() {
    let state = tempfile::tempdir().unwrap();
    let b64 = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("$oauthtoken:{FAKE_KEY}"))
    };
    for verbosity in ["-q", "", "-v", "-vv", "-vvv"] {
        for output in ["text", "json"] {
            let mut cmd = nvcf_dev(state.path());
            cmd.env("REPOSITORY", "my-org/my-team")
                .env("NGC_API_KEY", FAKE_KEY)
                .env("CASSANDRA_PASSWORD", PASSWORD)
                .args(["plan", "--output", output]);
            if !verbosity.is_empty() {
                cmd.arg(verbosity);
            }
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "{verbosity} {output}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            for secret in [FAKE_KEY, PASSWORD, b64.as_str()] {
                assert!(
                    !all.contains(secret),
                    "{verbosity} {output}: a secret leaked"
                );
            }
            assert!(
                all.contains("<redacted>"),
                "{verbosity} {output}: the secrets' places are marked"
            );
        }
    }
}

#[test]
fn plan_json_is_one_document_of_the_promised_shape() {
    let state = tempfile::tempdir().unwrap();
    let out = nvcf_dev(state.path())
        .env("REPOSITORY", "my-org/my-team")
        .args(["plan", "-o", "json"])
        .output()
        .unwrap();
    assert_success(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["profile"], "dev");
    assert_eq!(v["cluster"], "nvcf-dev");
    assert_eq!(
        v["stages"],
        serde_json::json!([["nats", "cassandra"], ["openbao"]])
    );
    let names: Vec<&str> = v["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nats", "openbao", "cassandra"]);
    let openbao = &v["components"][1];
    assert_eq!(openbao["release"], "openbao-server");
    assert_eq!(openbao["namespace"], "vault-system");
    assert_eq!(
        openbao["chart"],
        "oci://localhost:5001/my-org/my-team/helm-nvcf-openbao-server"
    );
    assert_eq!(openbao["version"], "0.32.0");
    assert_eq!(openbao["depends_on"], serde_json::json!(["nats"]));
    assert_eq!(openbao["wait_for_jobs"], true);
    assert_eq!(openbao["values"]["openbao"]["injector"]["replicas"], 1);
    // Planning writes nothing: no password was generated.
    assert!(!state.path().join("nvcf-dev").exists());
}

#[test]
fn plan_text_names_each_release_and_namespace() {
    let state = tempfile::tempdir().unwrap();
    nvcf_dev(state.path())
        .env("REPOSITORY", "my-org/my-team")
        .arg("plan")
        .assert()
        .success()
        .stdout(predicate::str::contains("Stage 1: nats, cassandra in parallel"))
        .stdout(predicate::str::contains("Stage 2: openbao (once nats is healthy)"))
        .stdout(predicate::str::contains("openbao: release openbao-server in namespace vault-system"))
        .stdout(predicate::str::contains("helm upgrade --install openbao-server oci://localhost:5001/my-org/my-team/helm-nvcf-openbao-server --version 0.32.0 --namespace vault-system"));
}

#[test]
fn a_malformed_profile_names_the_file_and_line() {
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("broken.yaml");
    std::fs::write(
        &file,
        "cluster:\n  storageSize: 1Gi\n  kindConfig: [unclosed\n",
    )
    .unwrap();
    let out = nvcf_dev(state.path())
        .env("REPOSITORY", "o/t")
        .args(["plan", "--profile"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let line = one_error_line(&out.stderr);
    assert!(
        line.contains(&format!("malformed profile {}", file.display())),
        "{line}"
    );
    assert!(line.contains("line 3") || line.contains("line 4"), "{line}");
}

#[test]
fn an_unknown_component_lists_the_valid_ones() {
    let state = tempfile::tempdir().unwrap();
    let out = nvcf_dev(state.path())
        .env("REPOSITORY", "o/t")
        .args(["plan", "--chart-version", "vault=1.0.0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        one_error_line(&out.stderr),
        "error: unknown component `vault`: valid components are nats, openbao, cassandra"
    );
}

#[test]
fn a_missing_repository_is_named_without_prompting() {
    let state = tempfile::tempdir().unwrap();
    let out = nvcf_dev(state.path()).arg("plan").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let line = one_error_line(&out.stderr);
    assert!(
        line.starts_with("error: REPOSITORY is not set: export REPOSITORY="),
        "{line}"
    );
}

#[test]
fn an_unknown_profile_lists_the_builtin_ones() {
    let state = tempfile::tempdir().unwrap();
    let out = nvcf_dev(state.path())
        .args(["plan", "--profile", "staging"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(one_error_line(&out.stderr).contains("built-in profiles are dev, prod"));
}

#[test]
fn global_flags_go_before_or_after_the_command() {
    let state = tempfile::tempdir().unwrap();
    for args in [
        vec!["--output", "json", "plan"],
        vec!["plan", "--output", "json"],
    ] {
        let out = nvcf_dev(state.path())
            .env("REPOSITORY", "o/t")
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success());
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
    }
}

#[test]
fn completions_are_generated() {
    let state = tempfile::tempdir().unwrap();
    nvcf_dev(state.path())
        .args(["completions", "bash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("_nvcf__dev()"));
}

#[test]
fn help_teaches() {
    let state = tempfile::tempdir().unwrap();
    nvcf_dev(state.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Examples:"))
        .stdout(predicate::str::contains("REPOSITORY"));
}

#[test]
fn doctor_finds_tools_on_path_and_its_exit_code_matches_its_report() {
    let state = tempfile::tempdir().unwrap();
    let bin = state.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(
        std::env::var("NVCF_DEV_TEST_HELM4").expect("run scripts/test.sh"),
        bin.join("helm"),
    )
    .unwrap();
    // kind has no binary here: a stand-in that answers like kind does.
    common::write_script(
        &bin.join("kind"),
        "#!/bin/sh\necho 'kind v0.27.0 go1.23.4 linux/amd64'\n",
    );
    let out = nvcf_dev(state.path())
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("NGC_API_KEY", FAKE_KEY)
        .args(["doctor", "-o", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(check("helm")["status"], "pass");
    assert_eq!(check("helm")["detail"], "helm v4.1.4");
    assert_eq!(check("kind")["detail"], "kind v0.27.0");
    assert_eq!(check("credentials")["status"], "pass");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(FAKE_KEY));
    assert_eq!(
        out.status.success(),
        v["ok"] == true,
        "exit code and report agree"
    );
}
