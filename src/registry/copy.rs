//! The copy itself: resolve each image's manifest tree upstream, copy the
//! blobs the destination lacks (mounting those it has under another
//! repository), then push the manifests bottom-up as their exact bytes.
//!
//! Crash safety comes from the order, not from local state: a registry commits
//! a blob only on the final PUT with its digest (sent only after our own sha256
//! check), and a manifest is pushed only after every blob and child manifest it
//! names is in place. A run killed at any point leaves nothing half-visible;
//! the next run HEAD-checks and carries on.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

use super::auth::CredentialSource;
use super::client::{digest_failure, Registry, MANIFEST_TYPES};
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
    /// Tries per operation on transient failures (5xx, resets, timeouts), with
    /// exponential backoff from 200 ms up to 5 s between them.
    pub attempts: u32,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            concurrency: 4,
            platform: None,
            keep_going: false,
            insecure_registries: Vec::new(),
            attempts: 5,
        }
    }
}

/// An OS/architecture\[/variant\] such as `linux/amd64` or `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(format!(
                "invalid platform {s:?}; use os/arch or os/arch/variant, e.g. linux/amd64"
            )),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// One image or chart to copy, as full references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyJob {
    pub source: String,
    pub destination: String,
}

impl CopyJob {
    /// A job copying `source` to the same repository and tag in `registry`.
    pub fn to_registry(source: &str, registry: &str) -> Result<Self, RegistryError> {
        Ok(CopyJob {
            source: source.to_string(),
            destination: super::destination_for(source, registry)?,
        })
    }
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

/// One image that failed, for `keep_going` runs.
#[derive(Debug, Clone, Serialize)]
pub struct ImageFailure {
    pub image: String,
    pub error: String,
}

#[derive(Debug, Clone)]
struct Blob {
    digest: String,
    size: u64,
}

enum Kind {
    Index(Vec<Node>),
    Manifest(Vec<Blob>),
}

/// A manifest as fetched: exact bytes, content type, and what it references.
struct Node {
    digest: String,
    content_type: String,
    raw: Bytes,
    kind: Kind,
}

impl Node {
    /// Distinct blobs under this node.
    fn blobs(&self) -> Vec<Blob> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        self.collect(&mut seen, &mut out);
        out
    }

    fn collect(&self, seen: &mut HashSet<String>, out: &mut Vec<Blob>) {
        match &self.kind {
            Kind::Index(children) => children.iter().for_each(|c| c.collect(seen, out)),
            Kind::Manifest(blobs) => {
                for b in blobs {
                    if seen.insert(b.digest.clone()) {
                        out.push(b.clone());
                    }
                }
            }
        }
    }
}

#[derive(Default)]
struct Stats {
    manifests_pushed: AtomicU64,
    blobs_copied: AtomicU64,
    blobs_mounted: AtomicU64,
    blobs_present: AtomicU64,
    bytes_copied: AtomicU64,
    bytes_skipped: AtomicU64,
}

/// Per-call context passed down the copy.
struct Run<'a> {
    stats: Stats,
    progress: &'a dyn ProgressSink,
}

/// Where a blob ended up after [`Mirror::copy_blob`].
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
    known: std::sync::Mutex<HashMap<(String, String), KnownRepos>>,
    permits: Semaphore,
}

/// Repositories of one destination registry known to hold one blob.
type KnownRepos = Arc<tokio::sync::Mutex<Vec<String>>>;

fn is_sha256(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

pub(crate) fn sha256_digest(b: &[u8]) -> String {
    let hex: String = Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn descriptor(v: &serde_json::Value, image: &str) -> Result<Blob, RegistryError> {
    let digest = v.get("digest").and_then(|d| d.as_str()).unwrap_or("");
    if !is_sha256(digest) {
        return Err(RegistryError::BadManifest {
            image: image.to_string(),
            detail: format!("descriptor digest {digest:?} is not a sha256 digest"),
        });
    }
    Ok(Blob {
        digest: digest.to_string(),
        size: v.get("size").and_then(|s| s.as_u64()).unwrap_or(0),
    })
}

fn platform_of(v: &serde_json::Value) -> String {
    let p = &v["platform"];
    let mut s = format!(
        "{}/{}",
        p["os"].as_str().unwrap_or("?"),
        p["architecture"].as_str().unwrap_or("?")
    );
    if let Some(var) = p["variant"].as_str() {
        s.push('/');
        s.push_str(var);
    }
    s
}

fn platform_matches(v: &serde_json::Value, want: &Platform) -> bool {
    let p = &v["platform"];
    p["os"].as_str() == Some(want.os.as_str())
        && p["architecture"].as_str() == Some(want.architecture.as_str())
        && match &want.variant {
            Some(var) => p["variant"].as_str() == Some(var.as_str()),
            None => true,
        }
}

impl Mirror {
    pub fn new(opts: CopyOptions, creds: CredentialSource) -> Self {
        let permits = Semaphore::new(opts.concurrency.max(1));
        Mirror {
            opts,
            creds,
            registries: tokio::sync::Mutex::new(HashMap::new()),
            known: std::sync::Mutex::new(HashMap::new()),
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

    async fn retry<T, F, Fut>(&self, mut f: F) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, RegistryError>>,
    {
        let attempts = self.opts.attempts.max(1);
        let mut delay = Duration::from_millis(200);
        let mut attempt = 1;
        loop {
            match f().await {
                Err(e) if e.is_transient() && attempt < attempts => {
                    tracing::debug!("retrying in {delay:?} after: {e}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                r => return r,
            }
        }
    }

    /// Copies every job; see [`CopyOptions::keep_going`] for what a failure does.
    pub async fn copy(
        &self,
        jobs: &[CopyJob],
        progress: &dyn ProgressSink,
    ) -> Result<Summary, RegistryError> {
        let start = Instant::now();
        let run = Run {
            stats: Stats::default(),
            progress,
        };
        let mut images = 0;
        let mut present = 0;
        let mut failures = Vec::new();
        {
            // A hand-driven FuturesUnordered rather than stream::map +
            // buffer_unordered, whose closure makes the future not Send.
            let limit = self.opts.concurrency.max(1);
            let mut pending = jobs.iter();
            let mut results = futures::stream::FuturesUnordered::new();
            loop {
                while results.len() < limit {
                    match pending.next() {
                        Some(job) => results.push(self.copy_job(&run, job)),
                        None => break,
                    }
                }
                let Some((job, res)) = results.next().await else {
                    break;
                };
                match res {
                    Ok(outcome) => {
                        images += 1;
                        if outcome == ImageOutcome::AlreadyPresent {
                            present += 1;
                        }
                        progress.image_done(&job.source, &outcome);
                    }
                    Err(e) => {
                        progress.image_done(&job.source, &ImageOutcome::Failed(e.to_string()));
                        if !self.opts.keep_going {
                            return Err(e);
                        }
                        failures.push(ImageFailure {
                            image: job.source.clone(),
                            error: e.to_string(),
                        });
                    }
                }
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        let s = &run.stats;
        let bytes_copied = s.bytes_copied.load(Ordering::Relaxed);
        let summary = Summary {
            images,
            images_already_present: present,
            manifests_pushed: s.manifests_pushed.load(Ordering::Relaxed),
            blobs_copied: s.blobs_copied.load(Ordering::Relaxed),
            blobs_mounted: s.blobs_mounted.load(Ordering::Relaxed),
            blobs_present: s.blobs_present.load(Ordering::Relaxed),
            bytes_copied,
            bytes_skipped: s.bytes_skipped.load(Ordering::Relaxed),
            elapsed_secs: elapsed,
            throughput_mib_s: if elapsed > 0.0 {
                bytes_copied as f64 / 1048576.0 / elapsed
            } else {
                0.0
            },
        };
        if failures.is_empty() {
            Ok(summary)
        } else {
            Err(RegistryError::Failed {
                failures,
                summary: Box::new(summary),
            })
        }
    }

    /// Source and destination registries and repositories, the manifest
    /// tree at the source, and the reference to push it under.
    async fn resolve(&self, job: &CopyJob) -> Result<Resolved, RegistryError> {
        let s = parse_reference(&job.source)?;
        let d = parse_reference(&job.destination)?;
        let reference = s.digest().or(s.tag()).unwrap_or("latest").to_string();
        let src = self.registry(s.registry()).await?;
        let dst = self.registry(d.registry()).await?;
        let src_repo = s.repository().to_string();
        let root = self
            .retry(|| {
                self.fetch_tree(
                    &src,
                    &src_repo,
                    &reference,
                    &job.source,
                    self.opts.platform.as_ref(),
                )
            })
            .await?;
        // Push under the tag; a digest-only destination is pushed by the digest
        // actually copied (which differs from the source digest in platform mode).
        let push_ref = d
            .tag()
            .map(str::to_string)
            .unwrap_or_else(|| root.digest.clone());
        Ok(Resolved {
            src,
            src_repo,
            dst,
            dst_repo: d.repository().to_string(),
            root,
            push_ref,
        })
    }

    async fn copy_job<'j>(
        &self,
        run: &Run<'_>,
        job: &'j CopyJob,
    ) -> (&'j CopyJob, Result<ImageOutcome, RegistryError>) {
        (job, self.copy_image(run, job).await)
    }

    async fn copy_image(
        &self,
        run: &Run<'_>,
        job: &CopyJob,
    ) -> Result<ImageOutcome, RegistryError> {
        self.copy_image_inner(run, job)
            .await
            .map_err(|e| e.for_image(&job.source))
    }

    async fn copy_image_inner(
        &self,
        run: &Run<'_>,
        job: &CopyJob,
    ) -> Result<ImageOutcome, RegistryError> {
        let Resolved {
            src,
            src_repo,
            dst,
            dst_repo,
            root,
            push_ref,
        } = self.resolve(job).await?;
        let total: u64 = root.blobs().iter().map(|b| b.size).sum();
        run.progress.image_started(&job.source, Some(total));
        let head = self
            .retry(|| dst.head_manifest(&dst_repo, &push_ref))
            .await?;
        let ctx = Ctx {
            run,
            src: &src,
            src_repo: &src_repo,
            dst: &dst,
            dst_repo: &dst_repo,
            image: &job.source,
            accounted: std::sync::Mutex::new(HashSet::new()),
        };
        if head.as_deref() == Some(root.digest.as_str()) {
            self.skip_node(&ctx, &root).await;
            return Ok(ImageOutcome::AlreadyPresent);
        }
        self.copy_node(&ctx, &root, push_ref).await?;
        Ok(ImageOutcome::Copied)
    }

    /// Accounts for the blobs of a manifest the destination already has, and
    /// remembers they are there so other repositories can mount them.
    async fn skip_node(&self, ctx: &Ctx<'_>, node: &Node) {
        for b in node.blobs() {
            let entry = self.known_entry(&ctx.dst.host, &b.digest);
            let mut repos = entry.lock().await;
            if !repos.iter().any(|r| r == ctx.dst_repo) {
                repos.push(ctx.dst_repo.to_string());
            }
            drop(repos);
            self.account(ctx, &b, BlobResult::Present);
        }
    }

    /// Counts a blob once per image, however many manifests in it share it.
    fn account(&self, ctx: &Ctx<'_>, blob: &Blob, result: BlobResult) {
        let first = ctx
            .accounted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(blob.digest.clone());
        if !first {
            return;
        }
        let s = &ctx.run.stats;
        match result {
            BlobResult::Copied => {
                s.blobs_copied.fetch_add(1, Ordering::Relaxed);
                s.bytes_copied.fetch_add(blob.size, Ordering::Relaxed);
            }
            BlobResult::Mounted | BlobResult::Present => {
                if matches!(result, BlobResult::Mounted) {
                    s.blobs_mounted.fetch_add(1, Ordering::Relaxed);
                } else {
                    s.blobs_present.fetch_add(1, Ordering::Relaxed);
                }
                s.bytes_skipped.fetch_add(blob.size, Ordering::Relaxed);
                ctx.run.progress.blob_skipped(ctx.image, blob.size);
            }
        }
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
            let (raw, _) = src.get_manifest(repo, reference).await?.ok_or_else(|| {
                RegistryError::NotFound {
                    image: if reference.starts_with("sha256:") && !image.contains(reference) {
                        format!("{image} (manifest {reference})")
                    } else {
                        image.to_string()
                    },
                    registry: src.host.clone(),
                }
            })?;
            let digest = sha256_digest(&raw);
            if reference.starts_with("sha256:") && reference != digest {
                return Err(RegistryError::DigestMismatch {
                    image: image.to_string(),
                    digest: reference.to_string(),
                    actual: digest,
                });
            }
            let v: serde_json::Value =
                serde_json::from_slice(&raw).map_err(|e| RegistryError::BadManifest {
                    image: image.to_string(),
                    detail: format!("not JSON: {e}"),
                })?;
            if v.get("schemaVersion").and_then(|s| s.as_u64()) == Some(1) {
                return Err(RegistryError::BadManifest {
                    image: image.to_string(),
                    detail: "Docker schema 1 manifest".into(),
                });
            }
            // oci-client does not hand back the Content-Type, so the type is
            // the manifest's own mediaType, else what its shape says.
            let content_type = match v.get("mediaType").and_then(|m| m.as_str()) {
                Some(mt) if MANIFEST_TYPES.contains(&mt) => mt.to_string(),
                _ if v.get("manifests").is_some() => MANIFEST_TYPES[0].to_string(),
                _ => MANIFEST_TYPES[1].to_string(),
            };
            if let Some(entries) = v.get("manifests").and_then(|m| m.as_array()) {
                if let Some(want) = platform {
                    let chosen = entries
                        .iter()
                        .find(|e| platform_matches(e, want))
                        .ok_or_else(|| RegistryError::PlatformNotFound {
                            image: image.to_string(),
                            platform: want.to_string(),
                            available: entries
                                .iter()
                                .map(platform_of)
                                .collect::<Vec<_>>()
                                .join(", "),
                        })?;
                    let d = descriptor(chosen, image)?;
                    return self.fetch_tree(src, repo, &d.digest, image, platform).await;
                }
                let mut children = Vec::new();
                for e in entries {
                    let d = descriptor(e, image)?;
                    children.push(async move {
                        let d = d;
                        self.fetch_tree(src, repo, &d.digest, image, None).await
                    });
                }
                let children = futures::future::try_join_all(children).await?;
                return Ok(Node {
                    digest,
                    content_type,
                    raw,
                    kind: Kind::Index(children),
                });
            }
            let mut blobs = Vec::new();
            if let Some(c) = v.get("config") {
                blobs.push(descriptor(c, image)?);
            }
            for key in ["layers", "blobs"] {
                if let Some(arr) = v.get(key).and_then(|l| l.as_array()) {
                    for l in arr {
                        blobs.push(descriptor(l, image)?);
                    }
                }
            }
            Ok(Node {
                digest,
                content_type,
                raw,
                kind: Kind::Manifest(blobs),
            })
        }
        .boxed()
    }

    /// Copies what `node` references, then pushes `node` under `push_ref`.
    fn copy_node<'a>(
        &'a self,
        ctx: &'a Ctx<'a>,
        node: &'a Node,
        push_ref: String,
    ) -> BoxFuture<'a, Result<(), RegistryError>> {
        async move {
            match &node.kind {
                Kind::Index(children) => {
                    let copies = children.iter().map(|c| async move {
                        let head = self
                            .retry(|| ctx.dst.head_manifest(ctx.dst_repo, &c.digest))
                            .await?;
                        if head.is_some() {
                            self.skip_node(ctx, c).await;
                            return Ok(());
                        }
                        self.copy_node(ctx, c, c.digest.clone()).await
                    });
                    futures::future::try_join_all(copies).await?;
                }
                Kind::Manifest(blobs) => {
                    let mut seen = HashSet::new();
                    let copies = blobs
                        .iter()
                        .filter(|b| seen.insert(b.digest.clone()))
                        .map(|b| self.copy_blob(ctx, b));
                    futures::future::try_join_all(copies).await?;
                }
            }
            self.retry(|| {
                ctx.dst
                    .put_manifest(ctx.dst_repo, &push_ref, &node.raw, &node.content_type)
            })
            .await?;
            ctx.run
                .stats
                .manifests_pushed
                .fetch_add(1, Ordering::Relaxed);
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

    async fn copy_blob(&self, ctx: &Ctx<'_>, blob: &Blob) -> Result<(), RegistryError> {
        let entry = self.known_entry(&ctx.dst.host, &blob.digest);
        let mut repos = entry.lock().await;
        let result = if repos.iter().any(|r| r == ctx.dst_repo) {
            BlobResult::Present
        } else {
            let _permit = self
                .permits
                .acquire()
                .await
                .expect("the semaphore is never closed");
            let from = repos.first().cloned();
            self.retry(|| self.copy_blob_once(ctx, blob, from.as_deref()))
                .await?
        };
        if !repos.iter().any(|r| r == ctx.dst_repo) {
            repos.push(ctx.dst_repo.to_string());
        }
        drop(repos);
        self.account(ctx, blob, result);
        Ok(())
    }

    async fn copy_blob_once(
        &self,
        ctx: &Ctx<'_>,
        blob: &Blob,
        mount_from: Option<&str>,
    ) -> Result<BlobResult, RegistryError> {
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
    }

    /// Pipes the upstream GET into the destination's PUT. oci-client's
    /// stream checks the digest at its end; on a digest or size mismatch the
    /// PUT body ends in an error, so the registry never receives a complete
    /// upload. Memory stays at a few chunks whatever the size.
    async fn stream_blob(&self, ctx: &Ctx<'_>, blob: &Blob) -> Result<(), RegistryError> {
        let mut source = ctx
            .src
            .blob_stream(ctx.src_repo, &blob.digest)
            .await?
            .ok_or_else(|| RegistryError::Http {
                registry: ctx.src.host.clone(),
                what: format!("fetching blob {} of {}", blob.digest, ctx.image),
                status: 404,
                detail: "the manifest names a blob the registry does not have".into(),
            })?;
        let size = match (blob.size, source.content_length) {
            (0, Some(n)) => n,
            (n, _) => n,
        };
        let (tx, rx) = tokio::sync::mpsc::channel::<
            Result<Bytes, oci_client::errors::OciDistributionError>,
        >(8);
        let body = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let upload = ctx.dst.push_blob(ctx.dst_repo, &blob.digest, size, body);
        let refuse = |why: &str| Err(std::io::Error::other(why.to_string()).into());
        let pump = async move {
            let mut n: u64 = 0;
            while let Some(chunk) = source.next().await {
                match chunk {
                    Ok(c) => {
                        n += c.len() as u64;
                        ctx.run.progress.bytes_copied(ctx.image, c.len() as u64);
                        if tx.send(Ok(c)).await.is_err() {
                            // The upload ended early; its own error says why.
                            return Ok(());
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(refuse("source stream failed")).await;
                        return Err(match digest_failure(&e) {
                            Some((_, actual)) => RegistryError::DigestMismatch {
                                image: ctx.image.to_string(),
                                digest: blob.digest.clone(),
                                actual,
                            },
                            None => RegistryError::Unreachable {
                                registry: ctx.src.host.clone(),
                                detail: format!("reading blob {}: {e}", blob.digest),
                            },
                        });
                    }
                }
            }
            if n != size {
                let _ = tx.send(refuse("size mismatch")).await;
                return Err(RegistryError::DigestMismatch {
                    image: ctx.image.to_string(),
                    digest: blob.digest.clone(),
                    actual: format!("{} ({n} bytes instead of {size})", blob.digest),
                });
            }
            Ok(())
        };
        let (pumped, uploaded) = tokio::join!(pump, upload);
        // A verification failure wins over the upload error it caused.
        pumped?;
        uploaded
    }
}

/// A job's two ends and the manifest tree found at the source.
struct Resolved {
    src: Arc<Registry>,
    src_repo: String,
    dst: Arc<Registry>,
    dst_repo: String,
    root: Node,
    /// The destination's tag, or the digest copied when it has none.
    push_ref: String,
}

struct Ctx<'a> {
    run: &'a Run<'a>,
    src: &'a Registry,
    src_repo: &'a str,
    dst: &'a Registry,
    dst_repo: &'a str,
    image: &'a str,
    /// Digests already counted in the summary for this image.
    accounted: std::sync::Mutex<HashSet<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let e: serde_json::Value = serde_json::json!({"platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}});
        assert!(platform_matches(&e, &"linux/arm64".parse().unwrap()));
        assert!(platform_matches(&e, &"linux/arm64/v8".parse().unwrap()));
        assert!(!platform_matches(&e, &"linux/arm64/v7".parse().unwrap()));
        assert!(!platform_matches(&e, &"linux/amd64".parse().unwrap()));
        assert_eq!(platform_of(&e), "linux/arm64/v8");
    }

    #[test]
    fn only_lowercase_sha256_digests_are_accepted() {
        assert!(is_sha256(&sha256_digest(b"x")));
        assert!(!is_sha256("sha256:../../etc"));
        assert!(!is_sha256("sha512:00"));
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_are_retried_with_backoff_and_others_are_not() {
        let m = Mirror::new(CopyOptions::default(), CredentialSource::anonymous());
        let calls = std::sync::atomic::AtomicU32::new(0);
        let err = |status| RegistryError::Http {
            registry: "r".into(),
            what: "x".into(),
            status,
            detail: String::new(),
        };
        let r = m
            .retry(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0..=2 => Err(err(503)),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls.swap(0, Ordering::SeqCst), 4);
        let r: Result<(), _> = m
            .retry(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(err(500))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.swap(0, Ordering::SeqCst), 5, "bounded at 5 tries");
        let r: Result<(), _> = m
            .retry(|| async {
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
        let m = Mirror::new(CopyOptions::default(), CredentialSource::anonymous());
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
