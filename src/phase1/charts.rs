//! The charts of Phase 1: which versions the registry has (`COMPONENT=latest`
//! becomes the highest release tag there; a version it lacks is refused with
//! the versions it does have), fetching them with nvcf-dev's own credentials,
//! and the private values files helm installs them with.

use std::path::{Path, PathBuf};

use crate::model::{self, Component, ComponentId};
use crate::phase1::install::InstallError;
use crate::phase1::plan::Plan;
use crate::registry::client::Registry;
use crate::registry::{CredentialSource, RegistryError};
use crate::settings::{ChartSource, Settings};
use crate::ui::Shell;

/// The version that means "the highest release tag the registry has".
pub const LATEST: &str = "latest";

/// A chart version the registry lacks, or no release at all: what it has,
/// and what to pass instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ChartVersionError(String);

/// The error for a chart version the registry lacks, built from its tag list.
pub fn missing(
    c: &Component,
    version: &str,
    registry: &str,
    repository: &str,
    tags: &[String],
) -> ChartVersionError {
    let (chart, name) = (c.chart, c.name);
    let releases = crate::registry::release_versions(tags);
    let Some(newest) = releases.last() else {
        let tags = match tags {
            [] => String::new(),
            _ => format!(" (its tags: {})", tags.join(", ")),
        };
        return ChartVersionError(format!("{registry}/{repository} has no release of {chart}{tags}: check REPOSITORY, and that your credentials can see it"));
    };
    // The newest few are what anyone would pick from.
    let shown = &releases[releases.len().saturating_sub(8)..];
    let more = if releases.len() > shown.len() {
        "…, "
    } else {
        ""
    };
    let available = format!("{more}{}", shown.join(", "));
    ChartVersionError(format!("{chart} {version} is not in {registry}/{repository} (it has {available}): pass `--chart-version {name}={newest}` for the newest, or `{name}=latest`"))
}

/// The release tags of `c`'s chart in `registry` (an absent repository has none).
async fn tags(settings: &Settings, c: &Component, registry: &str) -> crate::Result<Vec<String>> {
    let repo = format!("{}/{}", settings.repository, c.chart);
    match crate::registry::list_tags(&credentials(settings), registry, &repo).await {
        Ok(tags) => Ok(tags),
        Err(RegistryError::NotFound { .. }) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Explains why `c`'s chart at `version` was not found in `registry`.
pub async fn explain_missing(
    settings: &Settings,
    c: &'static Component,
    version: &str,
    registry: &str,
) -> crate::Error {
    match tags(settings, c, registry).await {
        Ok(tags) => missing(c, version, registry, &settings.repository, &tags).into(),
        Err(e) => e,
    }
}

/// Replaces every `latest` chart version with the highest release tag in
/// `registry` (upstream for what to mirror; the local one for a reset, which
/// installs what was mirrored), saying which it picked.
pub async fn resolve_latest(
    settings: &mut Settings,
    shell: &Shell,
    registry: &str,
) -> crate::Result<()> {
    for c in &model::PHASE1 {
        if settings.chart_version(c) != LATEST
            || matches!(settings.chart_source(c), ChartSource::Local(_))
        {
            continue;
        }
        let tags = tags(settings, c, registry).await?;
        let Some(newest) = crate::registry::release_versions(&tags).pop() else {
            return Err(missing(c, LATEST, registry, &settings.repository, &tags).into());
        };
        shell.status(format!(
            "{} {newest} is the newest in {registry}/{}",
            c.chart, settings.repository
        ));
        settings.chart_versions.insert(c.name.to_string(), newest);
    }
    Ok(())
}

const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// Credentials: NGC_API_KEY for the upstream registry (whatever REGISTRY
/// says), else the docker config.
pub fn credentials(settings: &Settings) -> CredentialSource {
    let mut creds = CredentialSource::from_env();
    creds.ngc_api_key = settings.ngc_api_key.clone().or_else(|| {
        settings
            .registry_credential_b64
            .as_ref()
            .and_then(key_from_credential)
    });
    creds.ngc_registries = vec![settings.upstream_registry.clone()];
    creds
}

/// The API key inside REGISTRY_CREDENTIAL_B64 (`$oauthtoken:<key>`, base64),
/// for users who set only that, as the guide's variables allow.
fn key_from_credential(b64: &crate::secret::Secret) -> Option<crate::secret::Secret> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.expose().trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, key) = text.split_once(':')?;
    (user == crate::registry::auth::NGC_USER && !key.is_empty())
        .then(|| crate::secret::Secret::new(key))
}

/// Fetches `reference`'s chart archive into `dir` with nvcf-dev's own
/// credentials, so helm installs a local file and never needs a registry
/// login (which would store the key in helm's config).
pub async fn fetch_chart_file(
    settings: &Settings,
    reference: &str,
    dir: &Path,
) -> crate::Result<std::path::PathBuf> {
    let r = crate::registry::parse_reference(reference)?;
    let creds = credentials(settings).resolve(r.registry()).await?;
    let reg = Registry::connect(r.registry(), creds, &[])?;
    let bytes = fetch_chart(&reg, reference).await?;
    let name = r.repository().rsplit('/').next().unwrap_or("chart");
    let path = dir.join(format!("{name}-{}.tgz", r.tag().unwrap_or("latest")));
    std::fs::write(&path, bytes)
        .map_err(|e| crate::Error::Failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// The chart archive of an OCI helm chart, digest-verified.
pub async fn fetch_chart(reg: &Registry, reference: &str) -> Result<Vec<u8>, RegistryError> {
    let r = crate::registry::parse_reference(reference)?;
    let tag = r.tag().unwrap_or("latest");
    let not_found = || RegistryError::NotFound {
        image: reference.to_string(),
        registry: r.registry().to_string(),
    };
    let (raw, _) = reg
        .get_manifest(r.repository(), tag)
        .await?
        .ok_or_else(not_found)?;
    let manifest: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| RegistryError::BadManifest {
            image: reference.into(),
            detail: e.to_string(),
        })?;
    let layer = manifest["layers"]
        .as_array()
        .and_then(|ls| ls.iter().find(|l| l["mediaType"] == HELM_CHART_LAYER))
        .and_then(|l| l["digest"].as_str())
        .ok_or_else(|| RegistryError::BadManifest {
            image: reference.into(),
            detail: "no helm chart layer: is this a helm chart?".into(),
        })?
        .to_string();
    let bytes = reg
        .pull_blob(r.repository(), &layer)
        .await?
        .ok_or_else(not_found)?;
    Ok(bytes.to_vec())
}

/// A directory only we can read (0700), removed when dropped: values files
/// holding secrets live here, never on a command line.
pub fn private_dir() -> std::io::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix("nvcf-dev-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
}

/// Writes `values` as `<component>-values.yaml`, mode 0600.
pub fn write_values(
    dir: &Path,
    component: &'static str,
    values: &serde_yaml_ng::Value,
) -> Result<PathBuf, InstallError> {
    let path = dir.join(format!("{component}-values.yaml"));
    serde_yaml_ng::to_string(values)
        .map_err(std::io::Error::other)
        .and_then(|text| crate::state::write_private(&path, text.as_bytes(), false))
        .map_err(|source| InstallError::Values { component, source })?;
    Ok(path)
}

/// The plan with the charts of `components` fetched into a private
/// directory ([`fetch_chart_file`]) and their values fitted to them: what an
/// install runs from, with the directory to write values files in (they hold
/// secrets; it goes when dropped). Done before anything is installed or
/// removed, so a chart that cannot be had, or values it would refuse, stop
/// the command while the cluster is untouched.
pub async fn prepare_charts(
    plan: &Plan,
    settings: &Settings,
    shell: &Shell,
    components: &[ComponentId],
) -> crate::Result<(Plan, tempfile::TempDir)> {
    let dir = private_dir().map_err(crate::Error::TempDir)?;
    let mut plan = plan.clone();
    for cp in &mut plan.components {
        if !components.contains(&cp.component.id) {
            continue;
        }
        let path = match &cp.chart {
            ChartSource::Oci { reference, version } => {
                let oci = format!("{}:{version}", reference.trim_start_matches("oci://"));
                match fetch_chart_file(settings, &oci, dir.path()).await {
                    Err(crate::Error::Registry(RegistryError::NotFound { registry, .. })) => {
                        return Err(
                            explain_missing(settings, cp.component, version, &registry).await
                        )
                    }
                    other => other?,
                }
            }
            ChartSource::Local(path) => path.clone(),
        };
        let chart = crate::chart::read_path(&path)?;
        let (values, fitted) = crate::phase1::plan::fit_values(
            cp.component,
            settings,
            &settings.image_registry(),
            &chart,
        )?;
        report_fit(shell, cp.component.name, &fitted);
        cp.values = values;
        cp.chart = ChartSource::Local(path);
    }
    Ok((plan, dir))
}

/// What fitting changed (with `-v`) and the profile keys the chart ignores
/// (always: a key that does nothing is a mistake the user wants to hear of).
pub fn report_fit(shell: &Shell, component: &str, fitted: &crate::fit::Fitted) {
    for note in &fitted.notes {
        tracing::info!("{component}: {note}");
    }
    for unread in &fitted.unread {
        shell.warn(unread);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_missing_version_names_what_the_registry_has_and_the_flag() {
        let err = missing(
            &model::NATS,
            "0.5.0",
            "nvcr.io",
            "o/t",
            &tags(&["0.8.0", "0.7.1", "latest", "0.7.2", "0.9.0-rc.1"]),
        );
        assert_eq!(
            err.to_string(),
            "helm-nvcf-nats 0.5.0 is not in nvcr.io/o/t (it has 0.7.1, 0.7.2, 0.8.0): pass `--chart-version nats=0.8.0` for the newest, or `nats=latest`"
        );
    }

    #[test]
    fn a_long_list_shows_the_newest_eight() {
        let many: Vec<String> = (0..12).map(|i| format!("0.{i}.0")).collect();
        let err = missing(&model::CASSANDRA, "9.9.9", "r", "o/t", &many).to_string();
        assert!(err.contains("(it has …, 0.4.0, 0.5.0,"), "{err}");
        assert!(
            err.contains("0.11.0): pass `--chart-version cassandra=0.11.0`"),
            "{err}"
        );
    }

    #[test]
    fn no_release_at_all_says_to_check_the_repository() {
        let err = missing(&model::OPENBAO, "latest", "nvcr.io", "o/t", &[]).to_string();
        assert_eq!(
            err,
            "nvcr.io/o/t has no release of helm-nvcf-openbao-server: check REPOSITORY, and that your credentials can see it"
        );
        let err = missing(&model::OPENBAO, "latest", "nvcr.io", "o/t", &tags(&["dev"])).to_string();
        assert!(err.contains("(its tags: dev)"), "{err}");
    }

    #[test]
    fn the_key_is_taken_from_the_registry_credential() {
        use base64::Engine;
        let b64 = |s: &str| {
            crate::secret::Secret::new(base64::engine::general_purpose::STANDARD.encode(s))
        };
        assert_eq!(
            key_from_credential(&b64("$oauthtoken:nvapi-fake"))
                .unwrap()
                .expose(),
            "nvapi-fake"
        );
        assert!(key_from_credential(&b64("someone:else")).is_none());
        assert!(key_from_credential(&crate::secret::Secret::new("not base64!")).is_none());
    }

    #[test]
    fn values_files_are_private() {
        let dir = private_dir().unwrap();
        use std::os::unix::fs::PermissionsExt;
        let dir_mode = std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str("a: secret").unwrap();
        let path = write_values(dir.path(), "openbao", &v).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a: secret\n");
        let kept = dir.path().to_path_buf();
        drop(dir);
        assert!(!kept.exists(), "removed afterwards");
    }
}
