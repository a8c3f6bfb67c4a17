//! The helm CLI, helm 3.13+ and helm 4, through the command runner.
//!
//! 3.13 rather than 3.12: `--plain-http` (pulling charts from the
//! local registry) and `uninstall --ignore-not-found` first shipped in 3.13.
//!
//! The flags that differ between majors are chosen from the detected version:
//! helm 4 turned `--wait` into a strategy (`--wait=watcher`) and renamed
//! `--atomic` to `--rollback-on-failure`. Values always go in files (written
//! 0600 by the caller), never with `--set`, so `ps` never shows a secret.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::runner::{Cmd, CommandRunner, Graceful, RunError};
use super::ToolError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HelmVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl std::fmt::Display for HelmVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Parses `helm version --short` output (`v3.17.3+ge4da497`) or the template
/// form (`v4.1.4`), refusing a helm older than 3.13.
pub fn parse_version(text: &str) -> Result<HelmVersion, ToolError> {
    let t = text.trim();
    // `3.17.3+ge4da497`: numbers up to the first character that is neither digit nor dot.
    let core = t.split_once('v').map_or("", |(_, c)| c);
    let core = core.split(|c: char| !c.is_ascii_digit() && c != '.').next();
    let mut n = core.unwrap_or_default().split('.').map(|n| n.parse().ok());
    let v = match (n.next().flatten(), n.next().flatten()) {
        (Some(major), Some(minor)) => HelmVersion {
            major,
            minor,
            patch: n.next().flatten().unwrap_or(0),
        },
        _ => return Err(ToolError::HelmVersion(t.to_string())),
    };
    if (v.major, v.minor) < (3, 13) {
        return Err(ToolError::HelmTooOld(v.to_string()));
    }
    Ok(v)
}

/// One `helm upgrade --install`, or `helm template` of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    pub name: String,
    pub namespace: String,
    /// `oci://…` or a local chart directory or .tgz.
    pub chart: String,
    /// None for a local chart, whose version is its own.
    pub version: Option<String>,
    pub values_file: PathBuf,
    pub wait_for_jobs: bool,
    pub timeout: Duration,
    /// The local registry speaks plain HTTP.
    pub plain_http: bool,
    /// Roll back (or uninstall a first install) when it fails. Off by
    /// default: a failed release left in place is what the diagnosis reads.
    pub rollback_on_failure: bool,
}

#[derive(Debug, Clone)]
pub struct Helm<'a> {
    runner: &'a dyn CommandRunner,
    /// The helm binary this wrapper runs.
    pub program: String,
    pub version: HelmVersion,
    /// Always passed, so helm acts on the cluster nvcf-dev checked, never on
    /// whatever the current context happens to be.
    kube_context: Option<String>,
}

impl<'a> Helm<'a> {
    pub fn new(
        runner: &'a dyn CommandRunner,
        program: impl Into<String>,
        version: HelmVersion,
    ) -> Self {
        Helm {
            runner,
            program: program.into(),
            version,
            kube_context: None,
        }
    }

    pub fn with_kube_context(mut self, context: impl Into<String>) -> Self {
        self.kube_context = Some(context.into());
        self
    }

    /// Finds helm on PATH and checks its version.
    pub async fn detect(runner: &'a dyn CommandRunner) -> Result<Helm<'a>, crate::Error> {
        let program = super::find("helm")?.display().to_string();
        let cmd = Cmd::new(&program).args(["version", "--short"]);
        let version = parse_version(&runner.run(&cmd).await?)?;
        Ok(Helm::new(runner, program, version))
    }

    /// Runs helm with `args`, then `--kube-context` when one is set. A command
    /// that changes `release` (in `namespace`) is told to stop on Ctrl-C (helm
    /// 3.13+ and 4 then record the failure) rather than killed.
    async fn run<S: Into<String>>(
        &self,
        args: impl IntoIterator<Item = S>,
        release: Option<(&str, &str)>,
    ) -> Result<String, RunError> {
        let mut cmd = Cmd::new(&self.program).args(args);
        if let Some(ctx) = &self.kube_context {
            cmd = cmd.args(["--kube-context", ctx]);
        }
        cmd.graceful = release.map(|(release, namespace)| Graceful {
            release: release.to_string(),
            namespace: namespace.to_string(),
            context: self.kube_context.clone(),
        });
        self.runner.run(&cmd).await
    }

    /// `helm upgrade --install` that also labels the release (with
    /// `--labels`, where this helm has it). True when helm set the labels.
    pub async fn upgrade_install_labelled(
        &self,
        r: &Release,
        labels: &BTreeMap<String, String>,
    ) -> Result<bool, RunError> {
        let mut args = upgrade_install_args(self.version.major, r);
        // helm 3.14 added `--labels` to install and upgrade; helm 4 has it.
        let labelled = (self.version.major, self.version.minor) >= (3, 14) && !labels.is_empty();
        if labelled {
            let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            args.extend(["--labels".to_string(), pairs.join(",")]);
        }
        self.run(args, Some((&r.name, &r.namespace))).await?;
        Ok(labelled)
    }

    /// `helm rollback <release> <revision>`, waiting like an install does.
    pub async fn rollback(
        &self,
        release: &str,
        namespace: &str,
        revision: u32,
        timeout: Duration,
    ) -> Result<(), RunError> {
        let args = format!("rollback {release} {revision} --namespace {namespace}");
        self.run_waiting(&args, release, namespace, timeout).await
    }

    pub async fn uninstall(
        &self,
        release: &str,
        namespace: &str,
        timeout: Duration,
    ) -> Result<(), RunError> {
        let args = format!("uninstall {release} --namespace {namespace} --ignore-not-found");
        self.run_waiting(&args, release, namespace, timeout).await
    }

    /// Runs a changing command that waits like an install: `args` (words:
    /// release and namespace names hold no spaces), then `--timeout` and this
    /// helm's wait flag.
    async fn run_waiting(
        &self,
        args: &str,
        release: &str,
        namespace: &str,
        timeout: Duration,
    ) -> Result<(), RunError> {
        let (timeout, wait) = (go_duration(timeout), wait_flag(self.version.major));
        let args = args.split_whitespace().chain(["--timeout", &timeout, wait]);
        self.run(args, Some((release, namespace))).await.map(drop)
    }

    /// The user-supplied values of the release's current revision, as JSON.
    /// They hold secrets: the caller keeps them in memory, compares, drops.
    pub async fn get_values(
        &self,
        release: &str,
        namespace: &str,
    ) -> Result<serde_json::Value, RunError> {
        let args = format!("get values {release} --namespace {namespace} --output json");
        let out = self.run(args.split_whitespace(), None).await?;
        Ok(serde_json::from_str(&out).unwrap_or(serde_json::Value::Null))
    }

    /// `helm template`, for image discovery and for checking values render.
    pub async fn template(&self, r: &Release) -> Result<String, RunError> {
        let values = r.values_file.display().to_string();
        let mut args = vec!["template", &r.name, &r.chart, "--namespace", &r.namespace];
        args.extend(["--include-crds", "-f", &values]);
        if let Some(v) = &r.version {
            args.extend(["--version", v]);
        }
        if r.plain_http {
            args.push("--plain-http");
        }
        self.run(args, None).await
    }
}

/// helm 3 takes `--wait`; helm 4 takes a wait strategy, and `watcher` is the
/// one that waits for readiness.
fn wait_flag(major: u32) -> &'static str {
    if major >= 4 {
        "--wait=watcher"
    } else {
        "--wait"
    }
}

/// The argv of `helm upgrade --install`, in the form helm `major` takes.
pub fn upgrade_install_args(major: u32, r: &Release) -> Vec<String> {
    let (timeout, values) = (go_duration(r.timeout), r.values_file.display().to_string());
    let mut a: Vec<&str> = vec!["upgrade", "--install", &r.name, &r.chart];
    if let Some(v) = &r.version {
        a.extend(["--version", v]);
    }
    a.extend(["--namespace", &r.namespace, wait_flag(major)]);
    if r.wait_for_jobs {
        a.push("--wait-for-jobs");
    }
    a.extend(["--timeout", &timeout]);
    if r.plain_http {
        a.push("--plain-http");
    }
    if r.rollback_on_failure {
        // helm 4 renamed --atomic.
        a.push(if major >= 4 {
            "--rollback-on-failure"
        } else {
            "--atomic"
        });
    }
    a.extend(["-f", &values]);
    a.into_iter().map(String::from).collect()
}

/// A Go duration, as helm's `--timeout` takes, in whole seconds: 15m0s
/// reads better as 15m.
pub fn go_duration(d: Duration) -> String {
    use jiff::fmt::friendly::{Designator, Spacing, SpanPrinter};
    const GO: SpanPrinter = SpanPrinter::new()
        .designator(Designator::Compact)
        .spacing(Spacing::None);
    GO.unsigned_duration_to_string(&Duration::from_secs(d.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::runner::RecordingRunner;

    fn openbao() -> Release {
        Release {
            name: "openbao-server".into(),
            namespace: "vault-system".into(),
            chart: "oci://localhost:5001/org/team/helm-nvcf-openbao-server".into(),
            version: Some("0.22.1".into()),
            values_file: PathBuf::from("/tmp/x/openbao-values.yaml"),
            wait_for_jobs: true,
            timeout: Duration::from_secs(900),
            plain_http: true,
            rollback_on_failure: false,
        }
    }

    #[test]
    fn parses_real_version_strings() {
        assert_eq!(
            parse_version("v3.17.3+ge4da497\n").unwrap(),
            HelmVersion {
                major: 3,
                minor: 17,
                patch: 3
            }
        );
        assert_eq!(parse_version("v4.1.4+g05fa379").unwrap().major, 4);
        assert!(parse_version("command not found").is_err());
    }

    #[test]
    fn old_helm_is_refused_with_the_version() {
        let err = parse_version("v3.12.3").unwrap_err().to_string();
        assert!(
            err.starts_with("`helm` v3.12.3 is too old: nvcf-dev needs 3.13 or later, or 4"),
            "{err}"
        );
        parse_version("v3.13.0").unwrap();
        parse_version("v4.0.0").unwrap();
    }

    #[tokio::test]
    async fn helm3_form_matches_the_guide() {
        let rec = RecordingRunner::new();
        let helm = Helm::new(&rec, "helm", parse_version("v3.17.3").unwrap());
        helm.upgrade_install_labelled(&openbao(), &Default::default())
            .await
            .unwrap();
        assert_eq!(
            rec.command_lines(),
            ["helm upgrade --install openbao-server oci://localhost:5001/org/team/helm-nvcf-openbao-server --version 0.22.1 --namespace vault-system --wait --wait-for-jobs --timeout 15m --plain-http -f /tmp/x/openbao-values.yaml"]
        );
    }

    #[tokio::test]
    async fn helm4_form_uses_the_watcher_strategy() {
        let rec = RecordingRunner::new();
        let helm = Helm::new(&rec, "helm", parse_version("v4.1.4").unwrap());
        let mut nats = openbao();
        nats.name = "nats".into();
        nats.wait_for_jobs = false;
        nats.plain_http = false;
        helm.upgrade_install_labelled(&nats, &Default::default())
            .await
            .unwrap();
        let call = &rec.calls()[0];
        assert!(
            call.args.contains(&"--wait=watcher".to_string()),
            "{:?}",
            call.args
        );
        assert!(!call.args.contains(&"--wait".to_string()));
        assert!(!call.args.contains(&"--wait-for-jobs".to_string()));
        assert!(!call.args.contains(&"--plain-http".to_string()));
        assert!(call.stdin.is_none());
    }

    #[test]
    fn rollback_on_failure_is_atomic_in_helm3() {
        let mut r = openbao();
        r.rollback_on_failure = true;
        assert!(upgrade_install_args(3, &r).contains(&"--atomic".to_string()));
        let h4 = upgrade_install_args(4, &r);
        assert!(h4.contains(&"--rollback-on-failure".to_string()));
        assert!(!h4.contains(&"--atomic".to_string()));
    }

    #[tokio::test]
    async fn uninstall_forms() {
        let rec = RecordingRunner::new();
        Helm::new(&rec, "helm", parse_version("v3.17.3").unwrap())
            .uninstall("openbao-server", "vault-system", Duration::from_secs(300))
            .await
            .unwrap();
        Helm::new(&rec, "helm", parse_version("v4.1.4").unwrap())
            .with_kube_context("kind-nvcf-dev")
            .uninstall("openbao-server", "vault-system", Duration::from_secs(300))
            .await
            .unwrap();
        assert_eq!(
            rec.command_lines(),
            [
                "helm uninstall openbao-server --namespace vault-system --ignore-not-found --timeout 5m --wait",
                "helm uninstall openbao-server --namespace vault-system --ignore-not-found --timeout 5m --wait=watcher --kube-context kind-nvcf-dev"
            ]
        );
    }

    #[tokio::test]
    async fn labels_rollback_and_values_forms() {
        let labels = std::collections::BTreeMap::from([
            ("dev.nvcf/chart-version".to_string(), "0.22.1".to_string()),
            ("dev.nvcf/values-digest".to_string(), "ab12".to_string()),
        ]);
        let rec = RecordingRunner::new();
        let h313 = Helm::new(&rec, "helm", parse_version("v3.13.3").unwrap());
        assert!(!h313
            .upgrade_install_labelled(&openbao(), &labels)
            .await
            .unwrap());
        assert!(
            !rec.calls()[0].args.contains(&"--labels".to_string()),
            "3.13 has no --labels"
        );
        let h4 = Helm::new(&rec, "helm", parse_version("v4.1.4").unwrap());
        assert!(h4
            .upgrade_install_labelled(&openbao(), &labels)
            .await
            .unwrap());
        assert!(rec.command_lines()[1].ends_with(
            "-f /tmp/x/openbao-values.yaml --labels dev.nvcf/chart-version=0.22.1,dev.nvcf/values-digest=ab12"
        ));
        h4.with_kube_context("kind-nvcf-dev")
            .rollback(
                "openbao-server",
                "vault-system",
                2,
                Duration::from_secs(900),
            )
            .await
            .unwrap();
        assert_eq!(
            rec.command_lines()[2],
            "helm rollback openbao-server 2 --namespace vault-system --timeout 15m --wait=watcher --kube-context kind-nvcf-dev"
        );
        let graceful = rec.calls()[2].graceful.clone().unwrap();
        assert_eq!(
            (graceful.release.as_str(), graceful.context.as_deref()),
            ("openbao-server", Some("kind-nvcf-dev"))
        );
        rec.reply("get values", r#"{"a":1}"#);
        let v = h313.get_values("nats", "nats-system").await.unwrap();
        assert_eq!(v["a"], 1);
        assert_eq!(
            rec.command_lines()[3],
            "helm get values nats --namespace nats-system --output json"
        );
        assert!(
            rec.calls()[3].graceful.is_none(),
            "reading is simply killed"
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(900)), "15m");
        assert_eq!(go_duration(Duration::from_secs(45)), "45s");
        assert_eq!(go_duration(Duration::from_secs(3661)), "1h1m1s");
        assert_eq!(go_duration(Duration::from_millis(90_500)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(7200)), "2h");
        assert_eq!(go_duration(Duration::from_secs(90000)), "25h");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }
}
