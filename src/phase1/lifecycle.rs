//! What `up` does with each release, decided like ctlptl applies: from what
//! the cluster records (helm's release records, [`ReleaseRecord`]) and what
//! is wanted ([`Desired`]: chart, version, a digest of the merged values).
//!
//! | the release                                   | decision                                    |
//! |-----------------------------------------------|---------------------------------------------|
//! | absent                                        | install                                     |
//! | deployed, same chart, version, values digest  | skip helm, verify only                      |
//! | deployed, anything different (or unknown)     | upgrade, saying what changed                |
//! | latest revision failed, deployed before       | upgrade again                               |
//! | first install failed, or its post-install     | uninstall and install again (hooks run)     |
//! |   hooks never completed (upgraded over since) |                                             |
//! | pending-*, no helm of ours alive              | roll back to the last deployed revision, or |
//! |                                               |   uninstall one never deployed; then again  |
//! | pending-*, a helm still running on it         | refuse: say which process                   |
//! | uninstalling                                  | finish the uninstall, then install          |
//!
//! All pure: [`crate::phase1::ensure`] reads the cluster, [`crate::phase1::install`] acts.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::k8s::releases::{ReleaseRecord, CHART_LABEL, VALUES_LABEL, VERSION_LABEL};
use crate::model::ComponentId;
use crate::phase1::plan::{ComponentPlan, Plan};
use crate::settings::ChartSource;

/// What `up` wants a release to be.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Desired {
    /// The chart's name, or `local` for `--chart COMPONENT=PATH`.
    pub chart: String,
    /// The chart version, or `local`.
    pub version: String,
    /// [`values_digest`] of the values file helm is given.
    pub values_digest: String,
}

/// A local chart's files may change under the same version: it is always upgraded.
pub const LOCAL: &str = "local";

impl Desired {
    /// The labels the installed revision carries, so the next run can compare.
    pub fn labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (CHART_LABEL.to_string(), self.chart.clone()),
            (VERSION_LABEL.to_string(), self.version.clone()),
            (VALUES_LABEL.to_string(), self.values_digest.clone()),
        ])
    }
}

/// The desired state of every planned component. `plan` must be the plan
/// before its charts are fetched to files (its chart references and versions).
pub fn desired_all(plan: &Plan) -> BTreeMap<ComponentId, Desired> {
    plan.components
        .iter()
        .map(|cp| (cp.component.id, desired(cp)))
        .collect()
}

/// The desired state of one component: its values file's text is what
/// [`crate::phase1::charts::write_values`] writes.
pub fn desired(cp: &ComponentPlan) -> Desired {
    let (chart, version) = match &cp.chart {
        ChartSource::Oci { reference, version } => (
            label_safe(reference.rsplit('/').next().unwrap_or(reference)),
            label_safe(version),
        ),
        ChartSource::Local(_) => (LOCAL.to_string(), LOCAL.to_string()),
    };
    let yaml = serde_yaml_ng::to_string(&cp.values).unwrap_or_default();
    Desired {
        chart,
        version,
        values_digest: values_digest(&yaml),
    }
}

/// The first 40 hex digits of the values file's sha256: fits a label value
/// (63 characters at most), and a digest of the whole file reveals no value.
pub fn values_digest(values_yaml: &str) -> String {
    hex::encode(Sha256::digest(values_yaml.as_bytes()))[..40].to_string()
}

/// A label value: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends
/// (a chart version `1.0.0+build` becomes `1.0.0_build`).
pub fn label_safe(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    let mapped: String = s
        .chars()
        .map(|c| if safe(c) { c } else { '_' })
        .take(63)
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// What differs between the deployed revision and the desired one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Chart {
        from: String,
        to: String,
    },
    Version {
        from: String,
        to: String,
    },
    /// The values digest differs; `keys` are the top-level values that
    /// differ, when the deployed values could be read (names only, never values).
    Values {
        keys: Vec<String>,
    },
    /// The deployed revision carries no digest (installed by an older
    /// nvcf-dev, or by hand): what it holds is unknown.
    NotRecorded,
    /// A chart from a local directory or file may have changed at the same version.
    LocalChart,
    /// The latest revision failed; an earlier one is deployed.
    RetryFailed {
        revision: u32,
    },
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Chart { from, to } => write!(f, "chart {from} → {to}"),
            Change::Version { from, to } => write!(f, "version {from} → {to}"),
            Change::Values { keys } if keys.is_empty() => write!(f, "values changed"),
            Change::Values { keys } => write!(f, "values changed: {}", keys.join(", ")),
            Change::NotRecorded => write!(f, "installed without nvcf-dev's values digest"),
            Change::LocalChart => write!(f, "local chart"),
            Change::RetryFailed { revision } => write!(f, "revision {revision} failed"),
        }
    }
}

/// How an interrupted release is brought back to a state helm can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Recovery {
    /// `helm rollback <release> <revision>`: the last deployed revision.
    RollbackTo { revision: u32 },
    /// `helm uninstall`: nothing was ever deployed (or it was being uninstalled).
    Uninstall,
}

/// What to do with one release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    Install,
    /// Deployed and unchanged: no helm, verify only.
    Skip {
        revision: u32,
    },
    Upgrade {
        revision: u32,
        changes: Vec<Change>,
    },
    /// Uninstall and install again, so the post-install hooks run.
    Reinstall {
        why: String,
    },
    /// Left mid-operation by a helm that is gone: recover, then decide again.
    Recover {
        status: String,
        revision: u32,
        recovery: Recovery,
    },
    /// A helm process is still working on the release: act on nothing.
    Busy {
        status: String,
        pid: u32,
    },
}

/// Whether [`decide`] needs revision 1's payload to learn which of its
/// post-install hooks never completed. Only a revision 1 since superseded
/// does: a `deployed` revision 1 completed them, a `failed` one did not.
pub fn needs_first_install_payload(records: &[ReleaseRecord]) -> bool {
    records.len() > 1
        && records
            .iter()
            .any(|r| r.revision == 1 && r.status == "superseded")
}

const PENDING: [&str; 3] = ["pending-install", "pending-upgrade", "pending-rollback"];

/// The decision for one release. `incomplete_hooks`: the first install's
/// post-install hooks known never to have succeeded (empty when they did, or
/// nobody looked). `helm_pid`: a helm process running on this release right
/// now (another terminal, or one orphaned by a killed run).
pub fn decide(
    records: &[ReleaseRecord],
    desired: &Desired,
    incomplete_hooks: &[String],
    helm_pid: Option<u32>,
) -> Decision {
    let Some(latest) = records.iter().max_by_key(|r| r.revision) else {
        return Decision::Install;
    };
    let status = latest.status.as_str();
    let last_deployed = records
        .iter()
        .filter(|r| r.revision < latest.revision)
        .filter(|r| r.status == "deployed" || r.status == "superseded")
        .map(|r| r.revision)
        .max();
    if PENDING.contains(&status) || status == "uninstalling" {
        if let Some(pid) = helm_pid {
            return Decision::Busy {
                status: status.into(),
                pid,
            };
        }
        let recovery = match last_deployed {
            Some(revision) if status != "uninstalling" => Recovery::RollbackTo { revision },
            _ => Recovery::Uninstall,
        };
        return Decision::Recover {
            status: status.into(),
            revision: latest.revision,
            recovery,
        };
    }
    if status == "uninstalled" {
        // Kept with --keep-history: nothing is installed.
        return Decision::Install;
    }
    let first_failed = records
        .iter()
        .any(|r| r.revision == 1 && r.status == "failed");
    if first_failed {
        let why = if latest.revision == 1 {
            "its first install failed, so its post-install hooks never completed"
        } else {
            "its first install failed and it was upgraded since; an upgrade never runs post-install hooks"
        };
        return Decision::Reinstall { why: why.into() };
    }
    if !incomplete_hooks.is_empty() {
        return Decision::Reinstall {
            why: format!(
                "the post-install hooks of its first install never completed ({}); an upgrade never runs them",
                incomplete_hooks.join(", ")
            ),
        };
    }
    let mut changes = Vec::new();
    if status == "failed" {
        if last_deployed.is_none() {
            // Every revision failed: nothing deployed to upgrade from.
            return Decision::Reinstall {
                why: "no revision of it was ever deployed".into(),
            };
        }
        changes.push(Change::RetryFailed {
            revision: latest.revision,
        });
    }
    changes.extend(differences(latest, desired));
    let revision = latest.revision;
    if changes.is_empty() {
        Decision::Skip { revision }
    } else {
        Decision::Upgrade { revision, changes }
    }
}

/// What differs between a revision's labels and the desired state.
fn differences(r: &ReleaseRecord, d: &Desired) -> Vec<Change> {
    if d.chart == LOCAL {
        return vec![Change::LocalChart];
    }
    let (Some(chart), Some(version), Some(digest)) = (&r.chart, &r.chart_version, &r.values_digest)
    else {
        return vec![Change::NotRecorded];
    };
    let mut out = Vec::new();
    if *chart != d.chart {
        out.push(Change::Chart {
            from: chart.clone(),
            to: d.chart.clone(),
        });
    }
    if *version != d.version {
        out.push(Change::Version {
            from: version.clone(),
            to: d.version.clone(),
        });
    }
    if *digest != d.values_digest {
        out.push(Change::Values { keys: vec![] });
    }
    out
}

/// The top-level keys whose values differ between the deployed values and
/// the desired ones (helm's user-supplied values): names only.
pub fn changed_top_level_keys(
    deployed: &serde_json::Value,
    desired: &serde_json::Value,
) -> Vec<String> {
    let empty = serde_json::Map::new();
    let a = deployed.as_object().unwrap_or(&empty);
    let b = desired.as_object().unwrap_or(&empty);
    let keys: std::collections::BTreeSet<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    keys.into_iter().cloned().collect()
}

impl Decision {
    /// One line for the user: the state found, and what `up` does about it.
    pub fn describe(&self) -> String {
        match self {
            Decision::Install => "not installed: install".into(),
            Decision::Skip { revision } => format!(
                "deployed (revision {revision}), same chart, version and values: skip helm, verify only"
            ),
            Decision::Upgrade { revision, changes } => format!(
                "deployed (revision {revision}), {}: upgrade",
                changes
                    .iter()
                    .map(Change::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Decision::Reinstall { why } => format!("{why}: uninstall and install again"),
            Decision::Recover {
                status,
                revision,
                recovery: Recovery::RollbackTo { revision: to },
            } => format!(
                "left {status} (revision {revision}) by a helm that is gone: roll back to revision {to}, the last deployed, then carry on"
            ),
            Decision::Recover {
                status, revision, ..
            } => format!(
                "left {status} (revision {revision}) by a helm that is gone, never deployed: uninstall it, then install"
            ),
            Decision::Busy { status, pid } => format!(
                "{status}: helm (pid {pid}) is still working on it; wait for it to finish or stop it (`kill {pid}`), then run `nvcf-dev up` again"
            ),
        }
    }
}

/// After Ctrl-C stopped helm: the state it left `release` in, and what the
/// next `up` will do about it. `desired` is unknown here, so an unchanged
/// deployed release reads as "upgraded if anything changed".
pub fn after_interrupt(release: &str, records: &[ReleaseRecord]) -> String {
    let Some(latest) = records.iter().max_by_key(|r| r.revision) else {
        return format!("{release} is not installed: the next `nvcf-dev up` installs it");
    };
    let what = match decide(records, &Desired::default(), &[], None) {
        Decision::Install => "installs it".to_string(),
        Decision::Skip { .. } | Decision::Upgrade { .. } => {
            "verifies it, and upgrades it only if something changed".to_string()
        }
        Decision::Recover {
            recovery: Recovery::RollbackTo { revision },
            ..
        } => format!("rolls it back to revision {revision}, then upgrades it"),
        Decision::Reinstall { .. } | Decision::Recover { .. } => {
            "uninstalls it and installs it again".to_string()
        }
        Decision::Busy { .. } => unreachable!("no helm pid was given"),
    };
    format!(
        "{release} is {} (revision {}): the next `nvcf-dev up` {what}",
        latest.status, latest.revision
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;
    use kube::core::{ObjectList, PartialObjectMeta};

    /// A recorded `list_metadata` answer (tests/fixtures/releases/<case>.json).
    fn records(case: &str) -> Vec<ReleaseRecord> {
        let path = format!(
            "{}/tests/fixtures/releases/{case}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let list: ObjectList<PartialObjectMeta<Secret>> = serde_json::from_str(&text).unwrap();
        let name = list
            .items
            .first()
            .and_then(|m| m.metadata.labels.as_ref()?.get("name").cloned())
            .unwrap_or_default();
        crate::k8s::releases::records_from_labels(
            &name,
            list.items.iter().filter_map(|m| m.metadata.labels.as_ref()),
        )
    }

    /// What the fixtures were recorded with.
    fn desired() -> Desired {
        Desired {
            chart: "helm-nvcf-openbao-server".into(),
            version: "0.22.1".into(),
            values_digest: "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f708192a3b".into(),
        }
    }

    fn decide_case(case: &str) -> Decision {
        decide(&records(case), &desired(), &[], None)
    }

    #[test]
    fn absent_is_installed() {
        assert_eq!(decide_case("absent"), Decision::Install);
        assert_eq!(decide(&[], &desired(), &[], None), Decision::Install);
    }

    #[test]
    fn deployed_and_unchanged_is_skipped() {
        let d = decide_case("deployed-same");
        assert_eq!(d, Decision::Skip { revision: 2 });
        assert!(
            d.describe().contains("skip helm, verify only"),
            "{}",
            d.describe()
        );
    }

    #[test]
    fn deployed_and_different_is_upgraded_saying_what_changed() {
        let mut newer = desired();
        newer.version = "0.22.2".into();
        let d = decide(&records("deployed-same"), &newer, &[], None);
        assert_eq!(
            d,
            Decision::Upgrade {
                revision: 2,
                changes: vec![Change::Version {
                    from: "0.22.1".into(),
                    to: "0.22.2".into()
                }]
            }
        );
        assert!(d.describe().contains("version 0.22.1 → 0.22.2: upgrade"));
        let mut other_values = desired();
        other_values.values_digest = "0".repeat(40);
        assert_eq!(
            decide(&records("deployed-same"), &other_values, &[], None),
            Decision::Upgrade {
                revision: 2,
                changes: vec![Change::Values { keys: vec![] }]
            }
        );
    }

    #[test]
    fn deployed_without_our_labels_is_upgraded() {
        assert_eq!(
            decide_case("deployed-unlabelled"),
            Decision::Upgrade {
                revision: 1,
                changes: vec![Change::NotRecorded]
            }
        );
    }

    #[test]
    fn a_local_chart_is_always_upgraded() {
        let mut local = desired();
        local.chart = LOCAL.into();
        local.version = LOCAL.into();
        assert!(matches!(
            decide(&records("deployed-same"), &local, &[], None),
            Decision::Upgrade { changes, .. } if changes == [Change::LocalChart]
        ));
    }

    #[test]
    fn a_failed_first_install_is_reinstalled_never_upgraded() {
        let d = decide_case("failed-first-install");
        assert!(
            matches!(&d, Decision::Reinstall { why } if why.contains("first install failed")),
            "{d:?}"
        );
        assert!(d.describe().ends_with("uninstall and install again"));
    }

    #[test]
    fn upgraded_over_a_failed_first_install_is_reinstalled() {
        // helm 4 keeps revision 1 `failed` after an upgrade over it.
        let d = decide_case("upgraded-over-failed-install");
        assert!(
            matches!(&d, Decision::Reinstall { why } if why.contains("upgraded since")),
            "{d:?}"
        );
        // helm 3 marks it `superseded`: only its payload tells.
        let recs = records("upgraded-over-superseded-install");
        assert!(needs_first_install_payload(&recs));
        let hooks = ["openbao-server-initialize-cluster".to_string()];
        let d = decide(&recs, &desired(), &hooks, None);
        assert!(
            matches!(&d, Decision::Reinstall { why } if why.contains("openbao-server-initialize-cluster")),
            "{d:?}"
        );
        assert_eq!(
            decide(&recs, &desired(), &[], None),
            Decision::Skip { revision: 2 },
            "hooks completed: an ordinary deployed release"
        );
        assert!(!needs_first_install_payload(&records("deployed-single")));
    }

    #[test]
    fn a_failed_upgrade_is_upgraded_again() {
        assert_eq!(
            decide_case("failed-upgrade"),
            Decision::Upgrade {
                revision: 2,
                changes: vec![Change::RetryFailed { revision: 2 }]
            }
        );
    }

    #[test]
    fn pending_upgrade_rolls_back_to_the_last_deployed_revision() {
        let d = decide_case("pending-upgrade");
        assert_eq!(
            d,
            Decision::Recover {
                status: "pending-upgrade".into(),
                revision: 3,
                recovery: Recovery::RollbackTo { revision: 2 }
            }
        );
        assert!(d.describe().contains("roll back to revision 2"));
    }

    #[test]
    fn pending_install_never_deployed_is_uninstalled() {
        assert_eq!(
            decide_case("pending-install"),
            Decision::Recover {
                status: "pending-install".into(),
                revision: 1,
                recovery: Recovery::Uninstall
            }
        );
    }

    #[test]
    fn pending_with_a_live_helm_is_left_alone() {
        let d = decide(&records("pending-install"), &desired(), &[], Some(4242));
        assert_eq!(
            d,
            Decision::Busy {
                status: "pending-install".into(),
                pid: 4242
            }
        );
        assert!(d.describe().contains("kill 4242"));
        // A live helm on a deployed release does not block it (only pending ones are in use).
        assert_eq!(
            decide(&records("deployed-same"), &desired(), &[], Some(1)),
            Decision::Skip { revision: 2 }
        );
    }

    #[test]
    fn changed_keys_are_names_only() {
        let a = serde_json::json!({"global": {"x": 1}, "openbao": {"pw": "s3cret"}, "gone": 1});
        let b = serde_json::json!({"global": {"x": 1}, "openbao": {"pw": "other"}, "new": 2});
        assert_eq!(changed_top_level_keys(&a, &b), ["gone", "new", "openbao"]);
    }

    #[test]
    fn digests_and_labels_are_label_safe() {
        let d = values_digest("a: 1\n");
        assert_eq!(d.len(), 40);
        assert!(d.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(d, values_digest("a: 2\n"));
        assert_eq!(label_safe("1.0.0+build.1"), "1.0.0_build.1");
        assert_eq!(label_safe(&"x".repeat(80)).len(), 63);
    }

    #[test]
    fn after_interrupt_says_state_and_next_step() {
        assert_eq!(
            after_interrupt("openbao-server", &records("failed-first-install")),
            "openbao-server is failed (revision 1): the next `nvcf-dev up` uninstalls it and installs it again"
        );
        assert_eq!(
            after_interrupt("openbao-server", &records("pending-upgrade")),
            "openbao-server is pending-upgrade (revision 3): the next `nvcf-dev up` rolls it back to revision 2, then upgrades it"
        );
        assert!(after_interrupt("nats", &[]).contains("installs it"));
    }
}
