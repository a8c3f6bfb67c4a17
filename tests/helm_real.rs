//! The exact helm command lines nvcf-dev runs, given to the real helm 3 and
//! helm 4 binaries: every flag must parse (a flag one major lacks fails before
//! any cluster is contacted), `--dry-run=client` renders with helm 4 where no
//! cluster is needed, and `helm lint` accepts the generated values. The charts
//! are the stand-ins of the published ones (tests/charts/PUBLISHED.md), and
//! the values what helm gets: the plan's, fitted to the chart.

mod common;

use std::path::PathBuf;
use std::process::Command;

use nvcf_dev::model::{Component, PHASE1};
use nvcf_dev::phase1::charts::{private_dir, write_values};
use nvcf_dev::phase1::plan;
use nvcf_dev::settings::{self, Flags, Purpose};
use nvcf_dev::tools::helm::{parse_version, upgrade_install_args};

fn dev_plan(flags: Flags) -> (settings::Settings, plan::Plan) {
    let s = common::resolve_settings(
        "dev",
        flags,
        &[
            ("REPOSITORY", "my-org/my-team"),
            ("NGC_API_KEY", "fake-ngc-key-for-tests-0123456789"),
        ],
        Purpose::Apply,
    );
    let p = plan::build(&s);
    (s, p)
}

/// The plan's values fitted to a published stand-in, as `up` fits them to
/// the chart it pulled, written where helm reads them.
fn fitted_values(
    s: &settings::Settings,
    c: &Component,
    series: &str,
    dir: &std::path::Path,
) -> PathBuf {
    let info = nvcf_dev::chart::read_path(&common::published_chart(series, c.chart)).unwrap();
    let (values, _) = plan::fit_values(c, s, &s.image_registry(), &info)
        .unwrap_or_else(|e| panic!("{series} {}: {e}", c.name));
    write_values(dir, c.name, &values).unwrap()
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
                let values = fitted_values(&s, cp.component, "current", dir.path());
                let mut release = cp.release(&s, values);
                // The stand-in chart instead of the registry: only flags are under test.
                release.chart = common::published_chart("current", cp.component.chart)
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
    let (s, p) = dev_plan(Flags::default());
    let dir = private_dir().unwrap();
    for cp in &p.components {
        let values = fitted_values(&s, cp.component, "current", dir.path());
        let out = Command::new(&helm)
            .args(["install", cp.component.release])
            .arg(common::published_chart("current", cp.component.chart))
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

/// `helm lint --strict` of a published stand-in: success, and the output.
/// Lint reports a template's `fail` only as information and still passes,
/// so callers look for that too (see [`template_fails`]).
fn lint(helm: &str, series: &str, c: &Component, values: &std::path::Path) -> (bool, String) {
    let out = Command::new(helm)
        .args(["lint", "--strict"])
        .arg(common::published_chart(series, c.chart))
        .arg("-f")
        .arg(values)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success() && text.contains("0 chart(s) failed"),
        text,
    )
}

/// The lines where lint reports a template's `fail`: helm 3 logs
/// "[INFO] Fail: MESSAGE", helm 4 `level=INFO msg="funcMap fail" message=...`.
fn template_fails(lint_output: &str) -> Vec<&str> {
    lint_output
        .lines()
        .filter(|l| l.contains("Fail: ") || l.contains("funcMap fail"))
        .collect()
}

#[test]
fn helm_lint_accepts_the_fitted_values_with_both_majors_and_both_series() {
    let (s, _) = dev_plan(Flags::default());
    for helm in [common::helm3(), common::helm4()] {
        for series in ["current", "bitnami"] {
            let dir = private_dir().unwrap();
            for c in &PHASE1 {
                let values = fitted_values(&s, c, series, dir.path());
                let (ok, text) = lint(&helm, series, c, &values);
                assert!(
                    ok && template_fails(&text).is_empty(),
                    "{helm} lint {series} {}: {text}",
                    c.name
                );
            }
        }
    }
}

#[test]
fn helm_lint_reports_the_plans_values_unfitted() {
    // So the lint above can fail: the guide's stale sidecar tag, unfitted,
    // makes the published openbao chart `fail`, which lint reports (as INFO).
    let (_, p) = dev_plan(Flags::default());
    let dir = private_dir().unwrap();
    let cp = p.component(nvcf_dev::model::ComponentId::Openbao).unwrap();
    let values = write_values(dir.path(), "openbao", &cp.values).unwrap();
    for helm in [common::helm3(), common::helm4()] {
        for series in ["current", "bitnami"] {
            let (_, text) = lint(&helm, series, cp.component, &values);
            let fails = template_fails(&text);
            assert!(
                fails.len() == 1 && fails[0].contains("OpenBao image tag mismatch"),
                "{helm} lint {series}: {text}"
            );
        }
    }
}

/// Every other helm command the release lifecycle runs (labelled upgrade,
/// rollback, get values, uninstall), as the wrapper builds it for the helm
/// at hand, is accepted by that real helm: only the missing cluster stops it.
#[tokio::test]
async fn both_helm_majors_accept_the_lifecycle_commands_we_build() {
    use nvcf_dev::tools::helm::Helm;
    use nvcf_dev::tools::runner::RecordingRunner;
    use std::collections::BTreeMap;
    use std::time::Duration;
    for helm in [common::helm3(), common::helm4()] {
        let version = parse_version(&String::from_utf8_lossy(
            &Command::new(&helm)
                .args(["version", "--short"])
                .output()
                .unwrap()
                .stdout,
        ))
        .unwrap();
        let rec = RecordingRunner::new();
        let wrapper = Helm::new(&rec, helm.clone(), version).with_kube_context("kind-nvcf-dev");
        let (s, p) = dev_plan(Flags::default());
        let dir = private_dir().unwrap();
        let cp = &p.components[0];
        let mut release = cp.release(&s, fitted_values(&s, cp.component, "current", dir.path()));
        release.chart = common::published_chart("current", cp.component.chart)
            .display()
            .to_string();
        release.version = None;
        let labels = BTreeMap::from([
            ("dev.nvcf/chart".to_string(), "helm-nvcf-nats".to_string()),
            ("dev.nvcf/values-digest".to_string(), "0123abcd".to_string()),
        ]);
        let labelled = wrapper
            .upgrade_install_labelled(&release, &labels)
            .await
            .unwrap();
        assert_eq!(labelled, version.major >= 4 || version.minor >= 14);
        wrapper
            .rollback("nats", "nats-system", 1, Duration::from_secs(300))
            .await
            .unwrap();
        wrapper.get_values("nats", "nats-system").await.unwrap();
        wrapper
            .uninstall("nats", "nats-system", Duration::from_secs(300))
            .await
            .unwrap();
        let calls = rec.calls();
        assert_eq!(calls.len(), 4);
        for call in calls {
            let mut argv: Vec<String> = call.args.clone();
            if argv[0] == "upgrade" {
                argv.push("--dry-run=client".into());
            }
            let out = Command::new(&helm)
                .args(&argv)
                .env("KUBECONFIG", "/nonexistent")
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            for refusal in [
                "unknown flag",
                "invalid argument",
                "accepts",
                "unknown command",
                "required flag",
            ] {
                assert!(!err.contains(refusal), "{helm} {argv:?}: {err}");
            }
        }
    }
}
