//! helm's release records, read from the cluster without downloading them.
//!
//! helm keeps one Secret per revision, `sh.helm.release.v1.<release>.v<revision>`,
//! labelled `owner=helm,name=<release>,status=<status>,version=<revision>`, its
//! payload base64(gzip(json)) of the whole release, values included. The
//! lifecycle decision needs only the labels, so they are read with
//! `list_metadata`: no secret value reaches this process on that path.
//!
//! nvcf-dev labels the revisions it installs ([`CHART_LABEL`],
//! [`VERSION_LABEL`], [`VALUES_LABEL`]): helm 3.14+ with `--labels`; for helm
//! 3.13, nvcf-dev patches them on after helm succeeds ([`label_revision`]).
//! The values label is a digest of the whole values file, never a value.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams};
use kube::Api;

use super::error::{api_err, one_line, KubeError, CHECK_UP, CHECK_WRITE};

/// The chart's name (the last path segment of its OCI reference), or `local`.
pub const CHART_LABEL: &str = "dev.nvcf/chart";
/// The chart version installed (label-safe), or `local`.
pub const VERSION_LABEL: &str = "dev.nvcf/chart-version";
/// The first 40 hex digits of the sha256 of the merged values file.
pub const VALUES_LABEL: &str = "dev.nvcf/values-digest";

/// One revision of a release, as its secret's labels describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    pub revision: u32,
    /// deployed, superseded, failed, pending-install, pending-upgrade,
    /// pending-rollback, uninstalling, uninstalled, unknown.
    pub status: String,
    /// nvcf-dev's labels, when this revision carries them.
    pub chart: Option<String>,
    pub chart_version: Option<String>,
    pub values_digest: Option<String>,
}

/// The records described by release secrets' labels: those of `release`
/// with a numeric revision, oldest first. Anything else is not a record.
pub fn records_from_labels<'a>(
    release: &str,
    labels: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
) -> Vec<ReleaseRecord> {
    let record = |l: &BTreeMap<String, String>| {
        (l.get("owner")? == "helm" && l.get("name")? == release).then_some(())?;
        Some(ReleaseRecord {
            revision: l.get("version")?.parse().ok()?,
            status: l.get("status")?.clone(),
            chart: l.get(CHART_LABEL).cloned(),
            chart_version: l.get(VERSION_LABEL).cloned(),
            values_digest: l.get(VALUES_LABEL).cloned(),
        })
    };
    let mut out: Vec<ReleaseRecord> = labels.into_iter().filter_map(record).collect();
    out.sort_by_key(|r| r.revision);
    out
}

/// The records of `release` in `namespace`, from the metadata (names and
/// labels, never the payload) of its release secrets.
pub async fn read(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> Result<Vec<ReleaseRecord>, KubeError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().labels(&format!("owner=helm,name={release}"));
    let list = api.list_metadata(&lp).await.map_err(|e| {
        let action = format!("list helm release secrets in `{namespace}`");
        api_err(action, CHECK_UP, one_line(&e))
    })?;
    let labels = list.items.iter().filter_map(|m| m.metadata.labels.as_ref());
    Ok(records_from_labels(release, labels))
}

/// The secret that holds one revision.
fn secret_name(release: &str, revision: u32) -> String {
    format!("sh.helm.release.v1.{release}.v{revision}")
}

/// Adds `labels` to one revision's secret (a merge patch of its labels only;
/// the payload is never read nor written). For helm 3.13, which cannot set
/// release labels itself.
pub async fn label_revision(
    client: &kube::Client,
    namespace: &str,
    release: &str,
    revision: u32,
    labels: &BTreeMap<String, String>,
) -> Result<(), KubeError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let name = secret_name(release, revision);
    let patch = serde_json::json!({"metadata": {"labels": labels}});
    api.patch_metadata(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(|e| api_err(format!("apply Secret `{name}`"), CHECK_WRITE, one_line(&e)))
}

/// One revision's whole release, decoded from its secret: read only to learn
/// whether a first install's post-install hooks completed, and whether the
/// Cassandra password agrees. It holds the values (secrets): it stays in memory.
pub async fn read_payload(
    client: &kube::Client,
    namespace: &str,
    release: &str,
    revision: u32,
) -> Result<serde_json::Value, KubeError> {
    let name = secret_name(release, revision);
    let action = format!("list helm release secret {name} in `{namespace}`");
    let err = |detail| api_err(action.clone(), CHECK_UP, detail);
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = api.get(&name).await.map_err(|e| err(one_line(&e)))?;
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .ok_or_else(|| err("it holds no release".into()))?;
    decode_payload(&data.0).map_err(err)
}

/// The deployed revision of `release`, decoded, or None when none is
/// deployed. Holds the values (secrets): it stays in memory.
pub async fn deployed_payload(
    client: &kube::Client,
    namespace: &str,
    release: &str,
) -> Result<Option<serde_json::Value>, KubeError> {
    let records = read(client, namespace, release).await?;
    let Some(r) = records.iter().rev().find(|r| r.status == "deployed") else {
        return Ok(None);
    };
    read_payload(client, namespace, release, r.revision)
        .await
        .map(Some)
}

/// helm's encoding of a release in its secret: base64 of gzip (or, from old
/// helm, plain) JSON.
pub fn decode_payload(base64_text: &[u8]) -> Result<serde_json::Value, String> {
    use base64::Engine;
    use std::io::Read;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_text.trim_ascii())
        .map_err(|e| format!("not base64: {e}"))?;
    let mut json = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut json)
            .map_err(|e| format!("not gzip: {e}"))?;
    } else {
        json = bytes;
    }
    serde_json::from_slice(&json).map_err(|e| format!("not a release: {e}"))
}

/// The post-install hooks of a release that did not succeed (never ran,
/// failed, or were still running when helm stopped), by name.
pub fn incomplete_post_install_hooks(release: &serde_json::Value) -> Vec<String> {
    let hooks = release["hooks"].as_array().into_iter().flatten();
    hooks
        .filter(|h| {
            h["events"]
                .as_array()
                .is_some_and(|ev| ev.iter().any(|e| e == "post-install"))
        })
        .filter(|h| h["last_run"]["phase"].as_str() != Some("Succeeded"))
        .map(|h| h["name"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_latest_record_of_a_recorded_release_is_last() {
        use crate::k8s::fixtures::{fixture, list};
        let secrets: Vec<Secret> = list(fixture!("secrets_helm_vault-system.json"));
        let labels = secrets.iter().filter_map(|s| s.metadata.labels.as_ref());
        let latest = records_from_labels("openbao-server", labels).pop().unwrap();
        assert_eq!((latest.revision, latest.status.as_str()), (2, "failed"));
    }

    #[test]
    fn records_come_from_helm_labels_oldest_first() {
        let all = [
            labels(&[
                ("owner", "helm"),
                ("name", "nats"),
                ("status", "deployed"),
                ("version", "2"),
                (VALUES_LABEL, "abc"),
            ]),
            labels(&[
                ("owner", "helm"),
                ("name", "nats"),
                ("status", "superseded"),
                ("version", "1"),
            ]),
            // another release, a bad revision, not helm's
            labels(&[
                ("owner", "helm"),
                ("name", "other"),
                ("status", "deployed"),
                ("version", "3"),
            ]),
            labels(&[
                ("owner", "helm"),
                ("name", "nats"),
                ("status", "deployed"),
                ("version", "x"),
            ]),
            labels(&[("name", "nats"), ("status", "deployed"), ("version", "4")]),
        ];
        let recs = records_from_labels("nats", all.iter());
        assert_eq!(
            recs.iter()
                .map(|r| (r.revision, r.status.as_str()))
                .collect::<Vec<_>>(),
            [(1, "superseded"), (2, "deployed")]
        );
        assert_eq!(recs[1].values_digest.as_deref(), Some("abc"));
        assert_eq!(recs[0].values_digest, None);
    }

    #[test]
    fn a_recorded_payload_shows_its_post_install_hooks() {
        let secret: serde_json::Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/releases/openbao-server.v1.secret.json"
        )))
        .unwrap();
        // The API's base64 of helm's base64(gzip(json)).
        use base64::Engine;
        let outer = base64::engine::general_purpose::STANDARD
            .decode(secret["data"]["release"].as_str().unwrap())
            .unwrap();
        let release = decode_payload(&outer).unwrap();
        assert_eq!(release["name"], "openbao-server");
        assert_eq!(
            incomplete_post_install_hooks(&release),
            ["openbao-server-initialize-cluster"],
            "the failed post-install job; the succeeded pre-install one is not listed"
        );
        assert!(decode_payload(b"%%%")
            .unwrap_err()
            .starts_with("not base64"));
    }
}
