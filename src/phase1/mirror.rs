//! The mirror (of `nvcf-dev mirror` and `up`'s mirror step): copies the three
//! charts, while rendering them to find their images (`images`), then those
//! images from the upstream registry into the local one (or `--to`). What the
//! destination already holds under the same tag is not asked of the upstream
//! at all, so a second `up` works with upstream cut off.

mod images;

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::phase1::charts::{self, credentials, private_dir};
use crate::phase1::plan::Plan;
use crate::registry::client::Registry;
use crate::registry::discover::{self, Found};
use crate::registry::{
    destination_for, CopyJob, CopyOptions, Mirror, NoProgress, ProgressSink, RegistryError,
    ShellProgress, Summary,
};
use crate::settings::{ChartSource, Settings};
use crate::tools::helm::Helm;
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

/// Presence checks asked of the destination at once.
const HEADS_IN_FLIGHT: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct MirrorOptions {
    /// Destination registry (host:port); the local registry when None.
    pub to: Option<String>,
    /// List what would be copied; copy nothing.
    pub dry_run: bool,
    /// How images are copied.
    pub copy: CopyOptions,
    /// Warn of profile values the charts do not read. `up` leaves that to
    /// its install step, which fits the same values to the same charts.
    pub report_fit: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct MirrorItem {
    pub kind: &'static str,
    pub source: String,
    pub destination: String,
    /// The destination already has this tag.
    pub present: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub found_in: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct MirrorReport {
    pub destination: String,
    pub dry_run: bool,
    pub items: Vec<MirrorItem>,
    /// Values images whose tag nothing decides, so they cannot be mirrored.
    pub unresolved: Vec<String>,
    pub summary: Summary,
}

pub struct Mirrorer<'a> {
    pub shell: &'a Shell,
    pub settings: &'a Settings,
    runner: &'a dyn CommandRunner,
    /// helm for the renders, run for its version on first use, so a mirror
    /// whose renders all come from the cache never starts helm.
    helm: tokio::sync::OnceCell<Helm<'a>>,
    pub opts: MirrorOptions,
    /// The copy engine, whose registry clients (one connection pool and
    /// token cache per host) serve the presence checks and chart pulls too.
    engine: Mirror,
}

impl<'a> Mirrorer<'a> {
    /// With `helm` the one a caller checked already (`up`'s preflight);
    /// without, helm is found on PATH now, so a missing helm stops the
    /// command before anything is copied.
    pub fn new(
        shell: &'a Shell,
        settings: &'a Settings,
        runner: &'a dyn CommandRunner,
        helm: Option<Helm<'a>>,
        opts: MirrorOptions,
    ) -> crate::Result<Self> {
        if helm.is_none() {
            crate::tools::find("helm")?;
        }
        let engine = Mirror::new(opts.copy.clone(), credentials(settings));
        Ok(Mirrorer {
            shell,
            settings,
            runner,
            helm: tokio::sync::OnceCell::new_with(helm),
            opts,
            engine,
        })
    }

    /// Whether the destination has `reference`'s tag already.
    async fn present(&self, dest: &Registry, reference: &str) -> Result<bool, RegistryError> {
        let r = crate::registry::parse_reference(reference)?;
        let tag = r.tag().or(r.digest()).unwrap_or("latest");
        Ok(dest.head_manifest(r.repository(), tag).await?.is_some())
    }

    /// `source` as an item: its place in the destination, and whether it is there.
    async fn item(
        &self,
        dest: &Registry,
        kind: &'static str,
        source: String,
        found_in: Vec<String>,
    ) -> Result<MirrorItem, RegistryError> {
        let destination = destination_for(&source, &dest.host)?;
        let present = self.present(dest, &destination).await?;
        Ok(MirrorItem {
            kind,
            source,
            destination,
            present,
            found_in,
        })
    }

    /// Mirrors the plan's charts and images. With `dry_run`, only reports.
    pub async fn run(&self, plan: &Plan) -> crate::Result<MirrorReport> {
        let dest_host = self
            .opts
            .to
            .clone()
            .unwrap_or_else(|| format!("localhost:{}", self.settings.registry.host_port));
        let dest = self.engine.registry(&dest_host).await?;
        let mut summary = Summary::default();
        let started = std::time::Instant::now();

        // 1. Charts, asked of the destination all at once; None for a local one.
        let (dest, dest_host) = (&dest, dest_host.as_str());
        let charts = futures::future::try_join_all(plan.components.iter().map(|cp| async move {
            if !matches!(cp.chart, ChartSource::Oci { .. }) {
                return Ok(None);
            }
            let source = self.settings.upstream_chart(cp.component);
            let found_in = vec![format!("component {}", cp.component.name)];
            self.item(dest, "chart", source, found_in).await.map(Some)
        }))
        .await?;
        // A chart the destination lacks must be upstream: if it is not, say
        // which versions are.
        for (cp, item) in plan.components.iter().zip(&charts) {
            let Some(item) = item.as_ref().filter(|i| !i.present) else {
                continue;
            };
            let upstream = self
                .engine
                .registry(&self.settings.upstream_registry)
                .await?;
            if !self.present(&upstream, &item.source).await? {
                let c = cp.component;
                return Err(charts::explain_missing(
                    self.settings,
                    c,
                    &self.settings.chart_version(c),
                    &self.settings.upstream_registry,
                )
                .await);
            }
        }
        // 2. Images, found by rendering each chart with the profile's values:
        // all charts at once, and not at all when the render cache knows
        // the chart and values. Charts the destination lacks are read from
        // upstream while they are being copied there.
        let missing = missing_jobs(charts.iter().flatten());
        let copy_charts = !self.opts.dry_run && !missing.is_empty();
        let step = self.shell.step(if copy_charts {
            format!(
                "Mirroring {} chart{} and finding the images they deploy",
                missing.len(),
                if missing.len() == 1 { "" } else { "s" }
            )
        } else {
            "Finding the images the charts deploy".to_string()
        });
        let dir = private_dir().map_err(crate::Error::TempDir)?;
        let cache = self.render_cache();
        let discover =
            futures::future::join_all(plan.components.iter().zip(&charts).map(|(cp, item)| {
                let cache = cache.as_ref().map(|(c, helm)| (c, helm.as_str()));
                self.discover_component(cp, item.as_ref(), dest, dir.path(), cache)
            }));
        let copy = async {
            match copy_charts {
                true => self.engine.copy(&missing, &NoProgress).await,
                false => Ok(Summary::default()),
            }
        };
        let (copied, discoveries) = tokio::join!(copy, discover);
        summary.add(&copied?);
        let mut found: Vec<Found> = Vec::new();
        let mut unresolved = Vec::new();
        // In plan order, so the first failing component is the one named.
        for (cp, d) in plan.components.iter().zip(discoveries) {
            let d = d?;
            if self.opts.report_fit {
                charts::report_fit(self.shell, cp.component.name, &d.fitted);
            }
            found.extend(d.found);
            unresolved.extend(d.unresolved);
        }
        if let Some((cache, _)) = &cache {
            if let Err(e) = cache.save() {
                tracing::debug!("render cache not saved: {e}");
            }
        }
        drop(dir);
        let images = discover::merge_found(found);
        step.done_with(format!("{} images", images.len()));

        // HEADs in flight together, answers kept in order.
        // (The futures are made first: a closure inside the stream would
        // make the command's future not Send.)
        let heads: Vec<_> = images
            .iter()
            .map(|i| self.item(dest, "image", i.image.clone(), i.sources.clone()))
            .collect();
        let image_items: Vec<MirrorItem> = futures::stream::iter(heads)
            .buffered(HEADS_IN_FLIGHT)
            .try_collect()
            .await?;
        let missing = missing_jobs(&image_items);
        let mut items: Vec<MirrorItem> = charts.into_iter().flatten().collect();
        items.extend(image_items);
        summary.images_already_present += items.iter().filter(|i| i.present).count();
        if !self.opts.dry_run && !missing.is_empty() {
            let progress: Box<dyn ProgressSink> = if self.shell.is_json() || self.shell.is_quiet() {
                Box::new(NoProgress)
            } else {
                Box::new(ShellProgress::new(self.shell, missing.len()))
            };
            summary.add(&self.engine.copy(&missing, progress.as_ref()).await?);
        }
        summary.images = items.len();
        summary.finish(started);
        Ok(MirrorReport {
            destination: dest_host.to_string(),
            dry_run: self.opts.dry_run,
            items,
            unresolved,
            summary,
        })
    }
}

/// Registries the mirrored images came from besides `upstream`, so the
/// cluster can be told to look in the local registry for them too.
pub fn other_registries(report: &MirrorReport, upstream: &str) -> Vec<String> {
    let hosts: std::collections::BTreeSet<String> = report
        .items
        .iter()
        .filter_map(|i| crate::registry::parse_reference(&i.source).ok())
        .map(|r| r.registry().to_string())
        .filter(|h| h != upstream)
        .collect();
    hosts.into_iter().collect()
}

/// Copy jobs for the items the destination does not have yet.
fn missing_jobs<'i>(items: impl IntoIterator<Item = &'i MirrorItem>) -> Vec<CopyJob> {
    items
        .into_iter()
        .filter(|i| !i.present)
        .map(|i| CopyJob {
            source: i.source.clone(),
            destination: i.destination.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(source: &str) -> MirrorItem {
        MirrorItem {
            kind: "image",
            source: source.into(),
            destination: String::new(),
            present: false,
            found_in: vec![],
        }
    }

    #[test]
    fn other_registries_are_the_sources_beyond_upstream() {
        let report = MirrorReport {
            destination: "localhost:5001".into(),
            dry_run: false,
            items: vec![
                item("nvcr.io/org/team/nats-server:2.10"),
                item("busybox:1.36"),
                item("quay.io/x/y:1"),
                item("docker.io/library/alpine:3"),
            ],
            unresolved: vec![],
            summary: Summary::default(),
        };
        assert_eq!(
            other_registries(&report, "nvcr.io"),
            ["docker.io", "quay.io"]
        );
    }

    #[test]
    fn missing_jobs_skip_what_is_present() {
        let mut present = item("nvcr.io/a/b:1");
        present.present = true;
        let jobs = missing_jobs(&[present, item("nvcr.io/a/c:1")]);
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].source, "nvcr.io/a/c:1");
    }
}
