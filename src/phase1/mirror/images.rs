//! Finding the images a mirror copies: each chart rendered with helm (or its
//! last render taken from the render cache), plus the values and the
//! chart's annotation.

use std::path::Path;

use super::{MirrorItem, Mirrorer};
use crate::model::Component;
use crate::phase1::charts::{fetch_chart, write_values};
use crate::phase1::install::InstallError;
use crate::phase1::plan::{self, ComponentPlan};
use crate::phase1::render_cache::{key, RenderCache};
use crate::registry::client::Registry;
use crate::registry::discover::{self, Found};
use crate::settings::ChartSource;
use crate::tools::helm::{Helm, Release};

impl Mirrorer<'_> {
    /// The destination's render cache (in the cluster's state directory),
    /// with which helm would render, by its file (path, size, modification
    /// time) without running it. None without a state directory, or when
    /// the helm cannot be told: every chart is then rendered.
    pub(super) fn render_cache(&self) -> Option<(RenderCache, String)> {
        let path = match self.helm.get() {
            Some(helm) => std::path::PathBuf::from(&helm.program),
            None => crate::tools::find("helm").ok()?,
        };
        let meta = std::fs::metadata(&path).ok()?;
        let mtime = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        let helm = format!("{} {} {mtime}", path.display(), meta.len());
        let dir = crate::state::state_dir().ok()?;
        let file = RenderCache::path_for(&dir, &self.settings.cluster);
        Some((RenderCache::load(file), helm))
    }

    /// Images of one component: its rendered pod templates (hook jobs
    /// included), values-only images (e.g. the injector's agentImage), and
    /// the chart's `helm.sh/images` annotation. An OCI chart is fetched from
    /// the destination when it is there, so no upstream access is needed
    /// (`item` is None for a local chart). The rendered images come from
    /// `cache` when it has this chart archive with these values for this
    /// helm (the cache's second half).
    pub(super) async fn discover_component(
        &self,
        cp: &ComponentPlan,
        item: Option<&MirrorItem>,
        dest: &Registry,
        dir: &Path,
        cache: Option<(&RenderCache, &str)>,
    ) -> crate::Result<Discovery> {
        let c = cp.component;
        // The archive's bytes, for the cache key; None for a local chart.
        let (info, archive, chart_path) = match (&cp.chart, item) {
            (ChartSource::Local(p), _) => (crate::chart::read_path(p)?, None, p.clone()),
            (ChartSource::Oci { .. }, None) => unreachable!("an OCI chart always has its item"),
            (ChartSource::Oci { .. }, Some(item)) => {
                // Not yet in the destination: from upstream, at once (the
                // copy into the destination runs alongside).
                let bytes = if item.present {
                    fetch_chart(dest, &item.destination).await?
                } else {
                    let upstream = self
                        .engine
                        .registry(&self.settings.upstream_registry)
                        .await?;
                    fetch_chart(&upstream, &item.source).await?
                };
                let info = crate::chart::read_archive(&bytes, &item.source)?;
                let path = dir.join(format!("{}.tgz", c.chart));
                std::fs::write(&path, &bytes).map_err(|e| {
                    crate::Error::Failed(format!("cannot write {}: {e}", path.display()))
                })?;
                (info, Some(bytes), path)
            }
        };
        let (values, fitted) =
            plan::fit_values(c, self.settings, &self.settings.upstream_registry, &info)?;
        let values_text = serde_yaml_ng::to_string(&values).map_err(|e| {
            crate::Error::Failed(format!("cannot write the {} values: {e}", c.name))
        })?;
        // A chart directory has no one digest: it is rendered every time.
        let cached = archive.zip(cache).map(|(bytes, (cache, helm))| {
            let values = values_text.as_bytes();
            (cache, key(helm, c.release, c.namespace, &bytes, values))
        });
        let hit = cached
            .as_ref()
            .and_then(|(cache, key)| cache.get(c.name, key));
        let mut found = match hit {
            Some(found) => {
                tracing::debug!("{}: rendered images from the render cache", c.name);
                found
            }
            None => {
                let found = self.render(c, &chart_path, &values, dir).await?;
                if let Some((cache, key)) = cached {
                    cache.put(c.name, key, &found);
                }
                found
            }
        };
        let mut merged = info.defaults.clone();
        crate::values::merge(&mut merged, &values);
        let from_values = discover::images_in_values(&merged, &found);
        found.extend(from_values.found);
        found.extend(discover::images_in_chart_annotation(&info.chart_yaml));
        let unresolved = from_values
            .unresolved
            .into_iter()
            .map(|u| format!("{}: {} ({})", c.name, u.path, u.reason))
            .collect();
        Ok(Discovery {
            found,
            unresolved,
            fitted,
        })
    }

    /// `helm template` of the chart with `values`: the images its pod
    /// templates name.
    async fn render(
        &self,
        c: &Component,
        chart_path: &Path,
        values: &serde_yaml_ng::Value,
        dir: &Path,
    ) -> crate::Result<Vec<Found>> {
        let file = write_values(dir, c.name, values)?;
        let helm = self.helm.get_or_try_init(|| Helm::detect(self.runner));
        let release = Release {
            name: c.release.into(),
            namespace: c.namespace.into(),
            chart: chart_path.display().to_string(),
            values_file: file,
            ..Release::default()
        };
        let rendered = helm
            .await?
            .template(&release)
            .await
            .map_err(|e| InstallError::Render {
                component: c.name,
                why: e.why(),
            })?;
        Ok(discover::images_in_manifests(&rendered)?)
    }
}

/// What one component's discovery found.
pub(super) struct Discovery {
    pub(super) found: Vec<Found>,
    pub(super) unresolved: Vec<String>,
    pub(super) fitted: crate::fit::Fitted,
}
