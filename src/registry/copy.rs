//! The copy itself: resolve each image's manifest tree upstream, copy the
//! blobs the destination lacks (mounting those it has under another
//! repository), then push the manifests bottom-up as their exact bytes.
//!
//! Crash safety comes from the order, not from local state: a registry commits
//! a blob only on the final PUT with its digest (sent only after our own sha256
//! check), and a manifest is pushed only after every blob and child manifest it
//! names is in place. A run killed at any point leaves nothing half-visible;
//! the next run HEAD-checks and carries on.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use futures::future::{try_join_all, BoxFuture};
use futures::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

use super::auth::CredentialSource;
use super::client::{Registry, MANIFEST_TYPES};
use super::progress::{ImageOutcome, ProgressSink};
use super::{parse_reference, RegistryError};

/// How a copy behaves.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Blob transfers in flight at once across the whole run (shared by all
    /// images), and images worked on at once. Default 4: enough to fill a
    /// link without hammering the upstream registry.
    pub concurrency: usize,
    /// Copy only this platform's manifest out of a multi-arch index and push
    /// it under the tag. `None` (default) copies the whole index so every
    /// digest is preserved.
    pub platform: Option<Platform>,
    /// `false` (default): the first failing image stops the run, because a
    /// mirror with holes is rarely useful and failing fast saves time and
    /// quota. `true`: every other image still completes and all failures are
    /// returned together in [`RegistryError::Failed`] at the end.
    pub keep_going: bool,
    /// Hosts (host or host:port) spoken to over plain HTTP besides loopback ones.
    pub insecure_registries: Vec<String>,
}

/// Tries per operation on transient failures (5xx, resets, timeouts), with
/// exponential backoff from 200 ms up to 5 s between them.
const ATTEMPTS: usize = 5;

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            concurrency: 4,
            platform: None,
            keep_going: false,
            insecure_registries: Vec::new(),
        }
    }
}

/// An OS/architecture\[/variant\] such as `linux/amd64` or `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.contains(&"") {
            return Err(format!(
                "invalid platform {s:?}; use os/arch or os/arch/variant, e.g. linux/amd64"
            ));
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variant = self.variant.as_ref().map(|v| format!("/{v}"));
        let variant = variant.unwrap_or_default();
        write!(f, "{}/{}{variant}", self.os, self.architecture)
    }
}

/// One image or chart to copy, as full references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyJob {
    pub source: String,
    pub destination: String,
}

/// What a copy did. Skipped bytes were already present or were mounted.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Images that completed (copied or already present).
    pub images: usize,
    pub images_already_present: usize,
    pub manifests_pushed: u64,
    pub blobs_copied: u64,
    pub blobs_mounted: u64,
    pub blobs_present: u64,
    pub bytes_copied: u64,
    pub bytes_skipped: u64,
    pub elapsed_secs: f64,
    /// `bytes_copied` per second of the whole run, in MiB/s.
    pub throughput_mib_s: f64,
}

impl Summary {
    /// Adds what `s` copied (its image counts and timing are not summed).
    pub fn add(&mut self, s: &Summary) {
        self.manifests_pushed += s.manifests_pushed;
        self.blobs_copied += s.blobs_copied;
        self.blobs_mounted += s.blobs_mounted;
        self.blobs_present += s.blobs_present;
        self.bytes_copied += s.bytes_copied;
        self.bytes_skipped += s.bytes_skipped;
    }

    /// Sets the time since `start`, and the throughput over it.
    pub fn finish(&mut self, start: Instant) {
        self.elapsed_secs = start.elapsed().as_secs_f64();
        if self.elapsed_secs > 0.0 {
            self.throughput_mib_s = self.bytes_copied as f64 / 1048576.0 / self.elapsed_secs;
        }
    }
}

/// One image that failed, for `keep_going` runs.
#[derive(Debug, Clone, Serialize)]
pub struct ImageFailure {
    pub image: String,
    pub error: String,
}

/// A descriptor in a manifest: a blob, or an index's child manifest.
#[derive(Debug, Clone, Deserialize)]
struct Descriptor {
    #[serde(default)]
    digest: String,
    #[serde(default)]
    size: u64,
    platform: Option<Platform>,
}

/// The fields of a manifest or index the copy reads; the bytes pushed are
/// always the ones pulled, never these re-serialized.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestFields {
    schema_version: Option<u64>,
    media_type: Option<String>,
    manifests: Option<Vec<Descriptor>>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    blobs: Vec<Descriptor>,
}

/// A manifest as fetched: exact bytes, content type, and what it references
/// (an index its child manifests, an image manifest its blobs).
struct Node {
    digest: String,
    content_type: &'static str,
    raw: Bytes,
    children: Vec<Node>,
    blobs: Vec<Descriptor>,
}

impl Node {
    /// Distinct blobs under this node.
    fn all_blobs(&self) -> Vec<&Descriptor> {
        let mut seen = HashSet::new();
        let children = self.children.iter().flat_map(Node::all_blobs);
        let all = self.blobs.iter().chain(children);
        all.filter(|b| seen.insert(&b.digest)).collect()
    }
}

/// Where a blob ended up after [`Mirror::copy_blob`].
#[derive(Clone, Copy, PartialEq)]
enum BlobResult {
    Present,
    Mounted,
    Copied,
}

/// The copy engine. Cheap to share; reuses connections, tokens and what it
/// learned about which blobs each destination registry holds.
pub struct Mirror {
    opts: CopyOptions,
    creds: CredentialSource,
    registries: tokio::sync::Mutex<HashMap<String, Arc<Registry>>>,
    /// (destination registry, digest) -> repositories known to hold the blob.
    /// The per-digest async lock also makes two images that share a layer
    /// wait for one upload and then mount it, instead of uploading twice.
    known: Mutex<HashMap<(String, String), KnownRepos>>,
    permits: Semaphore,
}

/// Repositories of one destination registry known to hold one blob.
type KnownRepos = Arc<tokio::sync::Mutex<BTreeSet<String>>>;

fn is_sha256(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

pub(crate) fn sha256_digest(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// Runs `f` up to [`ATTEMPTS`] times while it fails transiently.
async fn retry<T, F, Fut>(f: F) -> Result<T, RegistryError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RegistryError>>,
{
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(ATTEMPTS - 1);
    f.retry(backoff)
        .when(RegistryError::is_transient)
        .notify(|e, delay| tracing::debug!("retrying in {delay:?} after: {e}"))
        .await
}

fn platform_matches(d: &Descriptor, want: &Platform) -> bool {
    d.platform.as_ref().is_some_and(|p| {
        p.os == want.os
            && p.architecture == want.architecture
            && (want.variant.is_none() || p.variant == want.variant)
    })
}

impl Mirror {
    pub fn new(opts: CopyOptions, creds: CredentialSource) -> Self {
        let permits = Semaphore::new(opts.concurrency.max(1));
        Mirror {
            opts,
            creds,
            registries: Default::default(),
            known: Default::default(),
            permits,
        }
    }

    /// The client for `host`, made once per engine: every request to a
    /// host shares one connection pool and token cache.
    pub async fn registry(&self, host: &str) -> Result<Arc<Registry>, RegistryError> {
        let mut map = self.registries.lock().await;
        if let Some(r) = map.get(host) {
            return Ok(r.clone());
        }
        let creds = self.creds.resolve(host).await?;
        let r = Arc::new(Registry::connect(
            host,
            creds,
            &self.opts.insecure_registries,
        )?);
        map.insert(host.to_string(), r.clone());
        Ok(r)
    }

    /// Copies every job; see [`CopyOptions::keep_going`] for what a failure does.
    pub async fn copy(
        &self,
        jobs: &[CopyJob],
        progress: &dyn ProgressSink,
    ) -> Result<Summary, RegistryError> {
        let start = Instant::now();
        let run = Run {
            summary: Default::default(),
            progress,
        };
        // The futures are made first: a closure inside the stream would make
        // the copy's future not Send.
        let images: Vec<_> = jobs
            .iter()
            .map(|job| {
                self.copy_image(&run, job)
                    .map(move |r| (job, r.map_err(|e| e.for_image(&job.source))))
            })
            .collect();
        let mut results =
            futures::stream::iter(images).buffer_unordered(self.opts.concurrency.max(1));
        let mut failures = Vec::new();
        while let Some((job, res)) = results.next().await {
            let outcome = res.as_ref().map_or_else(
                |e| ImageOutcome::Failed(e.to_string()),
                |outcome| outcome.clone(),
            );
            progress.image_done(&job.source, &outcome);
            match res {
                Ok(outcome) => run.count(|s| {
                    s.images += 1;
                    s.images_already_present +=
                        usize::from(outcome == ImageOutcome::AlreadyPresent);
                }),
                Err(e) if !self.opts.keep_going => return Err(e),
                Err(e) => failures.push(ImageFailure {
                    image: job.source.clone(),
                    error: e.to_string(),
                }),
            }
        }
        drop(results);
        let mut summary = run.summary.into_inner().unwrap_or_else(|e| e.into_inner());
        summary.finish(start);
        if failures.is_empty() {
            Ok(summary)
        } else {
            Err(RegistryError::Failed {
                failures,
                summary: Box::new(summary),
            })
        }
    }

    async fn copy_image(
        &self,
        run: &Run<'_>,
        job: &CopyJob,
    ) -> Result<ImageOutcome, RegistryError> {
        let s = parse_reference(&job.source)?;
        let d = parse_reference(&job.destination)?;
        let reference = s.digest().or(s.tag()).unwrap_or("latest");
        let src = self.registry(s.registry()).await?;
        let dst = self.registry(d.registry()).await?;
        let platform = self.opts.platform.as_ref();
        let root =
            retry(|| self.fetch_tree(&src, s.repository(), reference, &job.source, platform))
                .await?;
        // Push under the tag; a digest-only destination is pushed by the digest
        // actually copied (which differs from the source digest in platform mode).
        let push_ref = d.tag().map_or_else(|| root.digest.clone(), str::to_string);
        let blobs = root.all_blobs();
        let total = blobs.iter().map(|b| b.size).sum();
        run.progress.image_started(&job.source, total);
        let head = retry(|| dst.head_manifest(d.repository(), &push_ref)).await?;
        let ctx = Ctx {
            run,
            src: &src,
            src_repo: s.repository(),
            dst: &dst,
            dst_repo: d.repository(),
            image: &job.source,
        };
        if head.as_deref() == Some(root.digest.as_str()) {
            // Remembered as there, so other repositories can mount them.
            for b in blobs {
                let entry = self.known_entry(&dst.host, &b.digest);
                entry.lock().await.insert(ctx.dst_repo.to_string());
                ctx.account(b, BlobResult::Present);
            }
            return Ok(ImageOutcome::AlreadyPresent);
        }
        // Every blob of the tree, once, before any manifest that names it.
        try_join_all(blobs.into_iter().map(|b| self.copy_blob(&ctx, b))).await?;
        self.push_node(&ctx, &root, push_ref).await?;
        Ok(ImageOutcome::Copied)
    }

    /// Fetches a manifest and, for an index, its children (or only the child
    /// for `platform`, which then stands in for the index).
    fn fetch_tree<'a>(
        &'a self,
        src: &'a Registry,
        repo: &'a str,
        reference: &'a str,
        image: &'a str,
        platform: Option<&'a Platform>,
    ) -> BoxFuture<'a, Result<Node, RegistryError>> {
        async move {
            let by_digest = reference.starts_with("sha256:");
            let (raw, _) = src.get_manifest(repo, reference).await?.ok_or_else(|| {
                RegistryError::NotFound {
                    image: if by_digest && !image.contains(reference) {
                        format!("{image} (manifest {reference})")
                    } else {
                        image.to_string()
                    },
                    registry: src.host.clone(),
                }
            })?;
            // oci-client checked the bytes against a digest reference.
            let digest = sha256_digest(&raw);
            let bad = |detail: String| RegistryError::BadManifest {
                image: image.to_string(),
                detail,
            };
            let m: ManifestFields =
                serde_json::from_slice(&raw).map_err(|e| bad(format!("not JSON: {e}")))?;
            if m.schema_version == Some(1) {
                return Err(bad("Docker schema 1 manifest".into()));
            }
            // oci-client does not hand back the Content-Type, so the type is
            // the manifest's own mediaType, else what its shape says.
            let by_shape = MANIFEST_TYPES[if m.manifests.is_some() { 0 } else { 1 }];
            let stated = MANIFEST_TYPES
                .into_iter()
                .find(|t| m.media_type.as_deref() == Some(*t));
            let content_type = stated.unwrap_or(by_shape);
            let sha256 = |d: &Descriptor| match is_sha256(&d.digest) {
                true => Ok(d.digest.clone()),
                false => Err(bad(format!(
                    "descriptor digest {:?} is not a sha256 digest",
                    d.digest
                ))),
            };
            let mut node = Node {
                digest,
                content_type,
                raw,
                children: Vec::new(),
                blobs: Vec::new(),
            };
            if let Some(entries) = m.manifests {
                if let Some(want) = platform {
                    let chosen = entries
                        .iter()
                        .find(|e| platform_matches(e, want))
                        .ok_or_else(|| RegistryError::PlatformNotFound {
                            image: image.to_string(),
                            platform: want.to_string(),
                            available: entries
                                .iter()
                                .map(|e| {
                                    e.platform.as_ref().map_or("?/?".into(), |p| p.to_string())
                                })
                                .collect::<Vec<_>>()
                                .join(", "),
                        })?;
                    let digest = sha256(chosen)?;
                    return self.fetch_tree(src, repo, &digest, image, platform).await;
                }
                let digests = entries.iter().map(sha256).collect::<Result<Vec<_>, _>>()?;
                let children = digests
                    .iter()
                    .map(|d| self.fetch_tree(src, repo, d, image, None));
                node.children = try_join_all(children).await?;
            } else {
                let blobs = m.config.into_iter().chain(m.layers).chain(m.blobs);
                node.blobs = blobs.collect();
                for b in &node.blobs {
                    sha256(b)?;
                }
            }
            Ok(node)
        }
        .boxed()
    }

    /// Pushes the child manifests the destination lacks, then `node` under
    /// `push_ref`.
    fn push_node<'a>(
        &'a self,
        ctx: &'a Ctx<'a>,
        node: &'a Node,
        push_ref: String,
    ) -> BoxFuture<'a, Result<(), RegistryError>> {
        async move {
            let children = node.children.iter().map(|c| async move {
                if retry(|| ctx.dst.head_manifest(ctx.dst_repo, &c.digest))
                    .await?
                    .is_none()
                {
                    self.push_node(ctx, c, c.digest.clone()).await?;
                }
                Ok(())
            });
            try_join_all(children).await?;
            retry(|| {
                ctx.dst
                    .put_manifest(ctx.dst_repo, &push_ref, &node.raw, node.content_type)
            })
            .await?;
            ctx.run.count(|s| s.manifests_pushed += 1);
            Ok(())
        }
        .boxed()
    }

    fn known_entry(&self, registry: &str, digest: &str) -> KnownRepos {
        let mut map = self.known.lock().unwrap_or_else(|e| e.into_inner());
        map.entry((registry.to_string(), digest.to_string()))
            .or_default()
            .clone()
    }

    async fn copy_blob(&self, ctx: &Ctx<'_>, blob: &Descriptor) -> Result<(), RegistryError> {
        let entry = self.known_entry(&ctx.dst.host, &blob.digest);
        let mut repos = entry.lock().await;
        let result = if repos.contains(ctx.dst_repo) {
            BlobResult::Present
        } else {
            let _permit = self
                .permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            // Any repository already holding the blob can lend it by a mount.
            let mount_from = repos.first();
            retry(|| async {
                if ctx.dst.head_blob(ctx.dst_repo, &blob.digest).await? {
                    return Ok(BlobResult::Present);
                }
                if let Some(from) = mount_from {
                    if ctx.dst.mount_blob(ctx.dst_repo, &blob.digest, from).await? {
                        return Ok(BlobResult::Mounted);
                    }
                }
                self.stream_blob(ctx, blob).await?;
                Ok(BlobResult::Copied)
            })
            .await?
        };
        repos.insert(ctx.dst_repo.to_string());
        drop(repos);
        ctx.account(blob, result);
        Ok(())
    }

    /// Pipes the upstream GET into the destination's PUT. oci-client's
    /// stream checks the digest at its end; on a digest or size mismatch the
    /// PUT body ends in an error, so the registry never receives a complete
    /// upload. Memory stays at a few chunks whatever the size.
    async fn stream_blob(&self, ctx: &Ctx<'_>, blob: &Descriptor) -> Result<(), RegistryError> {
        let missing = || {
            let what = format!("fetching blob {} of {}", blob.digest, ctx.image);
            let detail = "the manifest names a blob the registry does not have";
            ctx.src.status_error(&what, 404, detail.into())
        };
        let source = ctx.src.blob_stream(ctx.src_repo, &blob.digest).await?;
        let mut source = source.ok_or_else(missing)?;
        let size = match blob.size {
            0 => source.content_length.unwrap_or(0),
            n => n,
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<
            Result<Bytes, oci_client::errors::OciDistributionError>,
        >(8);
        let body = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let upload = ctx.dst.push_blob(ctx.dst_repo, &blob.digest, size, body);
        let pump = async move {
            let mut n: u64 = 0;
            let failure = loop {
                match source.next().await {
                    Some(Ok(c)) => {
                        n += c.len() as u64;
                        ctx.run.progress.bytes_copied(ctx.image, c.len() as u64);
                        if tx.send(Ok(c)).await.is_err() {
                            // The upload ended early; its own error says why.
                            return Ok(());
                        }
                    }
                    Some(Err(e)) => break ctx.src.read_error(ctx.image, &blob.digest, &e),
                    None if n != size => {
                        break RegistryError::DigestMismatch {
                            image: ctx.image.to_string(),
                            digest: blob.digest.clone(),
                            actual: format!("{} ({n} bytes instead of {size})", blob.digest),
                        }
                    }
                    None => return Ok(()),
                }
            };
            // A body that ends in an error aborts the PUT.
            let _ = tx
                .send(Err(std::io::Error::other("verification failed").into()))
                .await;
            Err(failure)
        };
        let (pumped, uploaded) = tokio::join!(pump, upload);
        // A verification failure wins over the upload error it caused.
        pumped?;
        uploaded
    }
}

/// One `copy` call: its running totals and where progress goes.
struct Run<'a> {
    summary: Mutex<Summary>,
    progress: &'a dyn ProgressSink,
}

impl Run<'_> {
    fn count(&self, f: impl FnOnce(&mut Summary)) {
        f(&mut self.summary.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// One image's two ends.
struct Ctx<'a> {
    run: &'a Run<'a>,
    src: &'a Registry,
    src_repo: &'a str,
    dst: &'a Registry,
    dst_repo: &'a str,
    image: &'a str,
}

impl Ctx<'_> {
    fn account(&self, blob: &Descriptor, result: BlobResult) {
        self.run.count(|s| match result {
            BlobResult::Copied => {
                s.blobs_copied += 1;
                s.bytes_copied += blob.size;
            }
            BlobResult::Mounted => s.blobs_mounted += 1,
            BlobResult::Present => s.blobs_present += 1,
        });
        if result != BlobResult::Copied {
            self.run.count(|s| s.bytes_skipped += blob.size);
            self.run.progress.blob_skipped(self.image, blob.size);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn parses_platforms() {
        let p: Platform = "linux/amd64".parse().unwrap();
        assert_eq!(p.to_string(), "linux/amd64");
        assert_eq!(p.variant, None);
        let p: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!(p.variant.as_deref(), Some("v8"));
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux/".parse::<Platform>().is_err());
    }

    #[test]
    fn platform_matching_ignores_variant_unless_asked() {
        let e: Descriptor = serde_json::from_value(serde_json::json!({"platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}})).unwrap();
        assert!(platform_matches(&e, &"linux/arm64".parse().unwrap()));
        assert!(platform_matches(&e, &"linux/arm64/v8".parse().unwrap()));
        assert!(!platform_matches(&e, &"linux/arm64/v7".parse().unwrap()));
        assert!(!platform_matches(&e, &"linux/amd64".parse().unwrap()));
    }

    #[test]
    fn only_lowercase_sha256_digests_are_accepted() {
        assert!(is_sha256(&sha256_digest(b"x")));
        assert!(!is_sha256("sha256:../../etc"));
        assert!(!is_sha256("sha512:00"));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_with_backoff_and_others_are_not() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let err = |status| RegistryError::Http {
            registry: "r".into(),
            what: "x".into(),
            status,
            detail: String::new(),
        };
        let r = retry(|| async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err(err(503)),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.swap(0, Ordering::SeqCst), 4);
        let r: Result<(), _> = retry(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err(500))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.swap(0, Ordering::SeqCst), 5, "bounded at 5 tries");
        let r: Result<(), _> = retry(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(err(404))
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    /// Callers spawn copies onto the runtime, so the futures must be Send.
    #[test]
    fn copy_futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let m = Mirror::new(CopyOptions::default(), CredentialSource::default());
        let jobs: Vec<CopyJob> = Vec::new();
        let progress = crate::registry::NoProgress;
        assert_send(&m.copy(&jobs, &progress));
    }

    #[test]
    fn summary_serializes() {
        let s = serde_json::to_value(Summary::default()).unwrap();
        assert!(s.get("bytes_copied").is_some());
        assert!(s.get("throughput_mib_s").is_some());
    }
}
