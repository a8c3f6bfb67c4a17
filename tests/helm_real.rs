//! The exact helm command lines nvcf-dev runs, given to the real helm 3 and
//! helm 4 binaries: every flag must parse (a flag one major lacks fails before
//! any cluster is contacted), `--dry-run=client` renders with helm 4 where no
//! cluster is needed, and `helm lint` accepts the generated values.

mod common;

use std::path::PathBuf;
use std::process::Command;

use nvcf_dev::model::PHASE1;
use nvcf_dev::ops::install::{private_dir, write_values};
use nvcf_dev::ops::plan;
use nvcf_dev::profile;
use nvcf_dev::settings::{self, Env, Flags, NoPrompt, Purpose};
use nvcf_dev::tools::helm::{parse_version, upgrade_install_args};

fn dev_plan(flags: Flags) -> (settings::Settings, plan::Plan) {
    let state = tempfile::tempdir().unwrap();
    let env = Env::from_pairs([
        ("REPOSITORY", "my-org/my-team"),
        ("NGC_API_KEY", "fake-ngc-key-for-tests-0123456789"),
    ]);
    let ctx = settings::Context {
        env: &env,
        prompt: &NoPrompt,
        state_dir: Some(state.path().into()),
    };
    let s = settings::resolve(
        profile::load("dev").unwrap(),
        "nvcf-dev",
        &flags,
        &ctx,
        Purpose::Apply,
    )
    .unwrap();
    let p = plan::build(&s).unwrap();
    (s, p)
}

fn helm_major(helm: &str) -> u32 {
    let out = Command::new(helm)
        .args(["version", "--short"])
        .output()
        .unwrap();
    parse_version(&String::from_utf8_lossy(&out.stdout))
        .unwrap()
        .major
}

#[test]
fn both_helm_majors_accept_every_flag_we_pass() {
    for helm in [common::helm3(), common::helm4()] {
        let major = helm_major(&helm);
        for rollback in [false, true] {
            let flags = Flags {
                rollback_on_failure: rollback,
                ..Default::default()
            };
            let (s, p) = dev_plan(flags);
            let dir = private_dir().unwrap();
            for cp in &p.components {
                let values = write_values(dir.path(), cp.component.name, &cp.values).unwrap();
                let mut release = cp.release(&s, values);
                // The stand-in chart instead of the registry: only flags are under test.
                release.chart = common::stand_in_chart(cp.component.chart)
                    .display()
                    .to_string();
                release.version = None;
                let mut args = upgrade_install_args(major, &release);
                args.extend([
                    "--kube-context".into(),
                    "kind-nvcf-dev".into(),
                    "--dry-run=client".into(),
                ]);
                let out = Command::new(&helm)
                    .args(&args)
                    .env("KUBECONFIG", "/nonexistent")
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    !err.contains("unknown flag")
                        && !err.contains("invalid argument")
                        && !err.contains("unknown shorthand"),
                    "helm {major} rejects our flags {args:?}: {err}"
                );
                assert!(
                    err.to_lowercase()
                        .contains("kubernetes cluster unreachable")
                        || err.contains("context \"kind-nvcf-dev\" does not exist")
                        || out.status.success(),
                    "helm {major} got past flag parsing: {err}"
                );
            }
        }
    }
}

#[test]
fn helm4_renders_an_install_offline_with_our_values() {
    let helm = common::helm4();
    let (_, p) = dev_plan(Flags::default());
    let dir = private_dir().unwrap();
    for cp in &p.components {
        let values = write_values(dir.path(), cp.component.name, &cp.values).unwrap();
        let out = Command::new(&helm)
            .args(["install", cp.component.release])
            .arg(common::stand_in_chart(cp.component.chart))
            .args([
                "--namespace",
                cp.component.namespace,
                "--dry-run=client",
                "-f",
            ])
            .arg(&values)
            .env("KUBECONFIG", "/nonexistent")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            cp.component.name,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("NAMESPACE: {}", cp.component.namespace)),
            "{stdout}"
        );
        assert!(
            stdout.contains("localhost:5001/my-org/my-team/"),
            "images from the local registry: {stdout}"
        );
    }
}

#[test]
fn helm_lint_accepts_the_generated_values_with_both_majors() {
    for helm in [common::helm3(), common::helm4()] {
        let (_, p) = dev_plan(Flags::default());
        let dir = private_dir().unwrap();
        for c in &PHASE1 {
            let cp = p.component(c.name).unwrap();
            let values: PathBuf = write_values(dir.path(), c.name, &cp.values).unwrap();
            let out = Command::new(&helm)
                .arg("lint")
                .arg(common::stand_in_chart(c.chart))
                .arg("-f")
                .arg(&values)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{helm} lint {}: {}",
                c.name,
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}
