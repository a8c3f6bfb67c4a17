//! The cluster's side of the release lifecycle ([`crate::phase1::lifecycle`]):
//! observe a release (its records' labels, revision 1's payload only when a
//! superseded first install must be checked, a helm process still on it) for
//! the installer and for `plan`, and, after Ctrl-C, say what state each
//! interrupted release was left in.

use std::time::Duration;

use crate::k8s::releases::{self, ReleaseRecord};
use crate::model::Component;
use crate::phase1::lifecycle::{self, Decision, Desired};
use crate::phase1::plan::Plan;
use crate::tools::runner::Stopped;

/// How long helm gets, after Ctrl-C, to record the failure and exit.
pub const HELM_GRACE: Duration = Duration::from_secs(5);
/// Bound on reading the cluster after Ctrl-C, per release.
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The decision for `c`'s release, from what the cluster holds of it.
pub async fn observe(
    client: &kube::Client,
    c: &Component,
    desired: &Desired,
) -> Result<Decision, crate::k8s::KubeError> {
    let records = releases::read(client, c.namespace, c.release).await?;
    let mut hooks = Vec::new();
    if lifecycle::needs_first_install_payload(&records) {
        match releases::read_payload(client, c.namespace, c.release, 1).await {
            Ok(release) => hooks = releases::incomplete_post_install_hooks(&release),
            Err(e) => tracing::info!("cannot read revision 1 of {}: {e}", c.release),
        }
    }
    let pid = helm_pid_for(c.release, c.namespace);
    Ok(lifecycle::decide(&records, desired, &hooks, pid))
}

/// A helm process changing `release` in `namespace` right now (ours from a
/// run that was killed, or one started by hand), from /proc.
pub fn helm_pid_for(release: &str, namespace: &str) -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        if pid == me {
            return None;
        }
        let raw = std::fs::read(e.path().join("cmdline")).ok()?;
        let argv: Vec<&str> = raw
            .split(|b| *b == 0)
            .filter_map(|a| std::str::from_utf8(a).ok())
            .collect();
        is_helm_changing(&argv, release, namespace).then_some(pid)
    })
}

/// `helm upgrade|install|rollback|uninstall <release> … --namespace <ns>`.
pub fn is_helm_changing(argv: &[&str], release: &str, namespace: &str) -> bool {
    let is_helm = argv.first().is_some_and(|p| {
        std::path::Path::new(p)
            .file_name()
            .is_some_and(|n| n == "helm")
    });
    let changing = argv
        .iter()
        .any(|a| ["upgrade", "install", "rollback", "uninstall"].contains(a));
    let in_ns = argv
        .windows(2)
        .any(|w| (w[0] == "--namespace" || w[0] == "-n") && w[1] == namespace)
        || argv.contains(&format!("--namespace={namespace}").as_str());
    is_helm && changing && in_ns && argv[1..].contains(&release)
}

/// How long `plan` tries to reach the cluster: without one it says nothing.
const PLAN_PROBE: Duration = Duration::from_secs(3);

/// One release's decision, as `plan` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedRelease {
    pub component: &'static str,
    pub release: &'static str,
    pub namespace: &'static str,
    #[serde(flatten)]
    pub decision: Decision,
    pub summary: String,
    /// False when a secret the values hold is not set here, so the values
    /// could not be compared (chart and version still are).
    pub values_compared: bool,
}

/// What `up` would do with each release, when the cluster answers within a
/// few seconds; None (and nothing said) when there is no cluster.
pub async fn plan_decisions(
    settings: &crate::settings::Settings,
    plan: &Plan,
) -> Option<Vec<PlannedRelease>> {
    let (client, _) = crate::k8s::client::reach(&settings.kube_context(), PLAN_PROBE)
        .await
        .ok()?;
    // Without the secrets the values hold, their digest cannot be what `up` computes.
    let values_compared =
        settings.registry_credential_b64.is_some() && settings.cassandra_password.is_some();
    let mut out = Vec::new();
    for cp in &plan.components {
        let c = cp.component;
        let mut want = lifecycle::desired(cp);
        let read = tokio::time::timeout(PLAN_PROBE, async {
            if !values_compared {
                let records = releases::read(&client, c.namespace, c.release).await?;
                if let Some(d) = records.last().and_then(|r| r.values_digest.clone()) {
                    want.values_digest = d;
                }
            }
            observe(&client, c, &want).await
        })
        .await;
        let decision = read.ok()?.ok()?;
        out.push(PlannedRelease {
            component: c.name,
            release: c.release,
            namespace: c.namespace,
            summary: decision.describe(),
            decision,
            values_compared,
        });
    }
    Some(out)
}

/// `plan`'s text: what `up` would do with each release on the cluster.
pub fn print_decisions(
    shell: &crate::ui::Shell,
    settings: &crate::settings::Settings,
    releases: &[PlannedRelease],
) {
    shell.out("");
    shell.out(format!("On {} now, `up` would:", settings.kube_context()));
    for r in releases {
        shell.out(format!("  {} ({}): {}", r.component, r.release, r.summary));
    }
    if releases.iter().any(|r| !r.values_compared) {
        shell.out("  (values not compared: set NGC_API_KEY or REGISTRY_CREDENTIAL_B64, and CASSANDRA_PASSWORD unless generated, to compare them)");
    }
}

/// After Ctrl-C: for each release helm was changing, whether helm stopped
/// in time, the state it left the release in, and what the next `up` does.
pub async fn interrupted_report(stopped: &[Stopped]) -> String {
    let mut lines = Vec::new();
    for s in stopped {
        let g = &s.what;
        let grace = HELM_GRACE.as_secs();
        let killed = if s.in_time {
            String::new()
        } else {
            format!("helm did not stop within {grace}s and was killed; ")
        };
        let state = match read_after_interrupt(g).await {
            Ok(records) => lifecycle::after_interrupt(&g.release, &records),
            Err(e) => format!(
                "the state of {} could not be read ({e}); the next `nvcf-dev up` reads it and recovers it",
                g.release
            ),
        };
        lines.push(format!("{killed}{state}"));
    }
    lines.join("; ")
}

/// The records of an interrupted release, or why they could not be read.
async fn read_after_interrupt(
    g: &crate::tools::runner::Graceful,
) -> Result<Vec<ReleaseRecord>, String> {
    let context = g.context.as_deref().ok_or("no kube context")?;
    let read = async {
        let (client, _) = crate::k8s::client::connect(context).await?;
        releases::read(&client, &g.namespace, &g.release).await
    };
    match tokio::time::timeout(REPORT_TIMEOUT, read).await {
        Ok(records) => records.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {}s", REPORT_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_helm_changing_the_release_is_recognised() {
        let argv = [
            "/usr/local/bin/helm",
            "upgrade",
            "--install",
            "openbao-server",
            "oci://x",
            "--namespace",
            "vault-system",
        ];
        assert!(is_helm_changing(&argv, "openbao-server", "vault-system"));
        assert!(!is_helm_changing(&argv, "nats", "vault-system"));
        assert!(!is_helm_changing(&argv, "openbao-server", "nats-system"));
        let status = ["helm", "status", "openbao-server", "-n", "vault-system"];
        assert!(!is_helm_changing(&status, "openbao-server", "vault-system"));
        let other = ["vim", "upgrade", "openbao-server", "-n", "vault-system"];
        assert!(!is_helm_changing(&other, "openbao-server", "vault-system"));
    }

    #[tokio::test]
    async fn a_live_helm_process_is_found_in_proc() {
        // A process whose argv looks like helm's: `exec -a helm`. The release
        // is named after this test process, so a copy of this test running
        // at the same time (another checkout) is never the one found.
        let release = format!("nvcf-dev-test-rel-{}", std::process::id());
        let mut child = std::process::Command::new("bash")
            .args([
                "-c",
                &format!("exec -a helm bash -c 'sleep 30; true' upgrade {release} --namespace nvcf-dev-test-ns"),
            ])
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut found = None;
        // Up to 10 s: a loaded CI machine may take a while to exec.
        for _ in 0..500 {
            found = helm_pid_for(&release, "nvcf-dev-test-ns");
            if found.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, Some(pid));
        assert_eq!(helm_pid_for(&release, "nvcf-dev-test-ns"), None);
    }
}
