//! Chart versions as the registry has them: `COMPONENT=latest` becomes the
//! highest release tag there, and a version the registry lacks is refused
//! with the versions it does have and the flag to pass.

use crate::model::{self, Component};
use crate::registry::RegistryError;
use crate::settings::{ChartSource, Settings};
use crate::ui::Shell;

/// The version that means "the highest release tag the registry has".
pub const LATEST: &str = "latest";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChartVersionError {
    #[error("{chart} {version} is not in {registry}/{repository} (it has {available}): pass `--chart-version {component}={newest}` for the newest, or `{component}=latest`")]
    Missing {
        component: &'static str,
        chart: &'static str,
        version: String,
        registry: String,
        repository: String,
        available: String,
        newest: String,
    },
    #[error("{registry}/{repository} has no release of {chart}{}: check REPOSITORY, and that your credentials can see it", if .tags.is_empty() { String::new() } else { format!(" (its tags: {})", .tags) })]
    NoRelease {
        chart: &'static str,
        registry: String,
        repository: String,
        tags: String,
    },
}

/// The error for a chart version the registry lacks, built from its tag list.
pub fn missing(
    c: &'static Component,
    version: &str,
    registry: &str,
    repository: &str,
    tags: &[String],
) -> ChartVersionError {
    let releases = crate::registry::release_versions(tags);
    match releases.last() {
        Some(newest) => {
            // The newest few are what anyone would pick from.
            let shown: Vec<&str> = releases
                .iter()
                .rev()
                .take(8)
                .rev()
                .map(String::as_str)
                .collect();
            let more = if releases.len() > shown.len() {
                "…, "
            } else {
                ""
            };
            ChartVersionError::Missing {
                component: c.name,
                chart: c.chart,
                version: version.to_string(),
                registry: registry.to_string(),
                repository: repository.to_string(),
                available: format!("{more}{}", shown.join(", ")),
                newest: newest.clone(),
            }
        }
        None => ChartVersionError::NoRelease {
            chart: c.chart,
            registry: registry.to_string(),
            repository: repository.to_string(),
            tags: tags.join(", "),
        },
    }
}

/// The release tags of `c`'s chart in `registry` (an absent repository has none).
async fn tags(settings: &Settings, c: &Component, registry: &str) -> crate::Result<Vec<String>> {
    let repo = format!("{}/{}", settings.repository, c.chart);
    match crate::registry::list_tags(&crate::ops::mirror::credentials(settings), registry, &repo)
        .await
    {
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
        let Some(newest) = crate::registry::highest_semver(&tags) else {
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
}
