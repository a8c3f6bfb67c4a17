//! The copy engine against real registries: each test starts its own
//! `docker-registry` processes on free loopback ports, pushes generated
//! images/indexes/charts over the HTTP API, and checks digests on the other side.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use nvcf_dev::registry::{
    CopyJob, CopyOptions, CredentialSource, ImageOutcome, Mirror, NoProgress, ProgressSink,
    RegistryError,
};
use nvcf_dev::secret::Secret;
use rand::RngCore;
use sha2::{Digest, Sha256};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

fn registry_bin() -> PathBuf {
    for p in ["/usr/bin/docker-registry", "/usr/local/bin/docker-registry"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    if let Ok(p) = which::which("docker-registry") {
        return p;
    }
    panic!("the docker-registry binary is missing; run scripts/test.sh (it installs the test environment)");
}

/// A `docker-registry` child process on a free 127.0.0.1 port, killed on drop.
struct TestRegistry {
    child: Child,
    host: String,
    dir: tempfile::TempDir,
    login: Option<(String, String)>,
}

impl TestRegistry {
    fn start() -> Self {
        Self::start_inner(None)
    }

    fn start_with_login(user: &str, pass: &str) -> Self {
        Self::start_inner(Some((user.to_string(), pass.to_string())))
    }

    fn start_inner(login: Option<(String, String)>) -> Self {
        let bin = registry_bin();
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((user, pass)) = &login {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd is missing; run scripts/test.sh");
            assert!(out.status.success());
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, &out.stdout).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                path.display()
            ));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let mut child = Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start docker-registry; run scripts/test.sh");
        let host = format!("127.0.0.1:{port}");
        for _ in 0..200 {
            if std::net::TcpStream::connect(&host).is_ok() {
                return TestRegistry {
                    child,
                    host,
                    dir,
                    login,
                };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("docker-registry did not start on {host}");
    }

    fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    fn client(&self) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("http://{}", self.host),
            login: self.login.clone(),
        }
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn digest_of(b: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(b))
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::rng().fill_bytes(&mut v);
    v
}

/// Just enough of the distribution API to build fixtures and inspect results.
struct Api {
    http: reqwest::Client,
    base: String,
    login: Option<(String, String)>,
}

impl Api {
    fn req(&self, m: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(m, url);
        match &self.login {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }

    async fn push_blob(&self, repo: &str, data: &[u8]) -> serde_json::Value {
        let digest = digest_of(data);
        let resp = self
            .req(
                reqwest::Method::POST,
                &format!("{}/v2/{repo}/blobs/uploads/", self.base),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "start upload");
        let loc = resp.headers()["location"].to_str().unwrap().to_string();
        let url = if loc.starts_with("http") {
            loc
        } else {
            format!("{}{loc}", self.base)
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let resp = self
            .req(reqwest::Method::PUT, &format!("{url}{sep}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "finish upload");
        serde_json::json!({"digest": digest, "size": data.len()})
    }

    async fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &serde_json::Value,
    ) -> String {
        let raw = serde_json::to_vec(body).unwrap();
        let resp = self
            .req(
                reqwest::Method::PUT,
                &format!("{}/v2/{repo}/manifests/{reference}", self.base),
            )
            .header("content-type", media_type)
            .body(raw.clone())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert_eq!(status, 201, "push manifest: {}", resp.text().await.unwrap());
        digest_of(&raw)
    }

    /// An image with `layers`; returns the manifest digest.
    async fn push_image(
        &self,
        repo: &str,
        tag: &str,
        layers: &[Vec<u8>],
        media_type: &str,
    ) -> String {
        let (config_type, layer_type) = if media_type == DOCKER_MANIFEST {
            (
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        } else {
            (
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        };
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","nonce":"{}"}}"#,
            digest_of(&random(8))
        );
        let mut c = self.push_blob(repo, config.as_bytes()).await;
        c["mediaType"] = config_type.into();
        let mut ls = Vec::new();
        for l in layers {
            let mut d = self.push_blob(repo, l).await;
            d["mediaType"] = layer_type.into();
            ls.push(d);
        }
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": media_type, "config": c, "layers": ls});
        self.push_manifest(repo, tag, media_type, &m).await
    }

    /// A two-platform OCI index; returns (index digest, amd64 digest, arm64 digest).
    async fn push_index(&self, repo: &str, tag: &str) -> (String, String, String) {
        let base = random(64 * 1024);
        let amd = self
            .push_image(
                repo,
                "amd64-tmp",
                &[base.clone(), random(32 * 1024)],
                OCI_MANIFEST,
            )
            .await;
        let arm = self
            .push_image(repo, "arm64-tmp", &[base, random(32 * 1024)], OCI_MANIFEST)
            .await;
        let size = |d: &str| {
            let d = d.to_string();
            async move { self.get_manifest_raw(repo, &d).await.unwrap().0.len() }
        };
        let idx = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": amd, "size": size(&amd).await, "platform": {"os": "linux", "architecture": "amd64"}},
                {"mediaType": OCI_MANIFEST, "digest": arm, "size": size(&arm).await, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}}
            ]
        });
        let d = self.push_manifest(repo, tag, OCI_INDEX, &idx).await;
        (d, amd, arm)
    }

    /// A helm chart stored as an OCI artifact.
    async fn push_chart(&self, repo: &str, tag: &str) -> String {
        let mut c = self
            .push_blob(
                repo,
                br#"{"name":"nats","version":"1.0.0","apiVersion":"v2"}"#,
            )
            .await;
        c["mediaType"] = "application/vnd.cncf.helm.config.v1+json".into();
        let mut l = self.push_blob(repo, &random(20 * 1024)).await;
        l["mediaType"] = "application/vnd.cncf.helm.chart.content.v1.tar+gzip".into();
        let m = serde_json::json!({"schemaVersion": 2, "config": c, "layers": [l]});
        self.push_manifest(repo, tag, OCI_MANIFEST, &m).await
    }

    async fn get_manifest_raw(&self, repo: &str, reference: &str) -> Option<(Vec<u8>, String)> {
        let resp = self
            .req(
                reqwest::Method::GET,
                &format!("{}/v2/{repo}/manifests/{reference}", self.base),
            )
            .header("accept", ACCEPT)
            .send()
            .await
            .unwrap();
        if resp.status() == 404 {
            return None;
        }
        assert!(resp.status().is_success(), "{}", resp.status());
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        Some((resp.bytes().await.unwrap().to_vec(), ct))
    }

    async fn blob(&self, repo: &str, digest: &str) -> Option<Vec<u8>> {
        let resp = self
            .req(
                reqwest::Method::GET,
                &format!("{}/v2/{repo}/blobs/{digest}", self.base),
            )
            .send()
            .await
            .unwrap();
        if resp.status() == 404 {
            return None;
        }
        Some(resp.bytes().await.unwrap().to_vec())
    }

    /// Checks that `reference` and everything under it is present and verifies.
    async fn verify_tree(&self, repo: &str, reference: &str) {
        let (raw, _) = self
            .get_manifest_raw(repo, reference)
            .await
            .unwrap_or_else(|| panic!("{repo}:{reference} missing"));
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        if let Some(ms) = v["manifests"].as_array() {
            for m in ms {
                Box::pin(self.verify_tree(repo, m["digest"].as_str().unwrap())).await;
            }
            return;
        }
        let mut descs = vec![v["config"].clone()];
        descs.extend(v["layers"].as_array().unwrap().iter().cloned());
        for d in descs {
            let digest = d["digest"].as_str().unwrap();
            let data = self
                .blob(repo, digest)
                .await
                .unwrap_or_else(|| panic!("blob {digest} missing in {repo}"));
            assert_eq!(digest_of(&data), digest);
        }
    }
}

fn mirror() -> Mirror {
    Mirror::new(CopyOptions::default(), CredentialSource::anonymous())
}

fn job(src: &TestRegistry, path: &str, dst: &TestRegistry) -> CopyJob {
    CopyJob::to_registry(&format!("{}/{path}", src.host), &dst.host).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_images_indexes_and_charts_byte_for_byte_and_skips_on_rerun() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    let s = src.client();
    let d = dst.client();
    let app = s
        .push_image(
            "org/team/app",
            "1.0",
            &[random(100_000), random(50_000)],
            DOCKER_MANIFEST,
        )
        .await;
    let (idx, _, _) = s.push_index("org/multi", "2.0").await;
    let chart = s.push_chart("org/charts/nats", "1.0.0").await;
    let jobs = vec![
        job(&src, "org/team/app:1.0", &dst),
        job(&src, "org/multi:2.0", &dst),
        job(&src, "org/charts/nats:1.0.0", &dst),
    ];
    assert_eq!(
        jobs[0].destination,
        format!("{}/org/team/app:1.0", dst.host)
    );

    let m = mirror();
    let plan = m.plan(&jobs).await.unwrap();
    assert!(plan
        .items
        .iter()
        .all(|i| !i.present && i.blobs_missing == i.blobs));

    let sum = m.copy(&jobs, &NoProgress).await.unwrap();
    assert_eq!(sum.images, 3);
    assert!(sum.blobs_copied >= 3 + 4 + 2, "{sum:?}");
    for (repo, tag, digest) in [
        ("org/team/app", "1.0", &app),
        ("org/multi", "2.0", &idx),
        ("org/charts/nats", "1.0.0", &chart),
    ] {
        let (src_raw, src_ct) = s.get_manifest_raw(repo, tag).await.unwrap();
        let (dst_raw, dst_ct) = d.get_manifest_raw(repo, tag).await.unwrap();
        assert_eq!(src_raw, dst_raw, "{repo}: manifest bytes differ");
        assert_eq!(src_ct, dst_ct);
        assert_eq!(&digest_of(&dst_raw), digest);
        d.verify_tree(repo, tag).await;
    }

    // A fresh engine (no memory of the first run) finds everything present.
    let again = mirror().copy(&jobs, &NoProgress).await.unwrap();
    assert_eq!(again.images_already_present, 3, "{again:?}");
    assert_eq!(again.blobs_copied, 0);
    assert_eq!(again.bytes_copied, 0);
    assert_eq!(again.manifests_pushed, 0);
    assert_eq!(again.bytes_skipped, sum.bytes_copied + sum.bytes_skipped);
    let plan = mirror().plan(&jobs).await.unwrap();
    assert!(plan.items.iter().all(|i| i.present));
    assert_eq!(plan.bytes_missing, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_option_pushes_that_platforms_manifest_under_the_tag() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    let (_, _, arm) = src.client().push_index("org/multi", "2.0").await;
    let opts = CopyOptions {
        platform: Some("linux/arm64".parse().unwrap()),
        ..CopyOptions::default()
    };
    let m = Mirror::new(opts, CredentialSource::anonymous());
    m.copy(&[job(&src, "org/multi:2.0", &dst)], &NoProgress)
        .await
        .unwrap();
    let (raw, ct) = dst
        .client()
        .get_manifest_raw("org/multi", "2.0")
        .await
        .unwrap();
    assert_eq!(digest_of(&raw), arm);
    assert_eq!(ct, OCI_MANIFEST);
    dst.client().verify_tree("org/multi", "2.0").await;

    let opts = CopyOptions {
        platform: Some("windows/amd64".parse().unwrap()),
        ..CopyOptions::default()
    };
    let err = Mirror::new(opts, CredentialSource::anonymous())
        .copy(&[job(&src, "org/multi:2.0", &dst)], &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("windows/amd64") && err.contains("linux/arm64/v8"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_layers_are_uploaded_once_and_mounted_elsewhere() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    let s = src.client();
    let base = random(512 * 1024);
    for repo in ["org/a", "org/b", "org/c"] {
        s.push_image(repo, "1", &[base.clone(), random(1000)], OCI_MANIFEST)
            .await;
    }
    let jobs: Vec<_> = ["org/a:1", "org/b:1", "org/c:1"]
        .iter()
        .map(|p| job(&src, p, &dst))
        .collect();
    let m = mirror();
    let sum = m.copy(&jobs, &NoProgress).await.unwrap();
    // Three configs + three own layers + the base once; the base mounted twice.
    assert_eq!(sum.blobs_copied, 7, "{sum:?}");
    assert_eq!(sum.blobs_mounted, 2, "{sum:?}");
    for repo in ["org/a", "org/b", "org/c"] {
        dst.client().verify_tree(repo, "1").await;
    }

    // A later copy with a new image in a new repository mounts the base
    // from where this engine saw it rather than uploading it again.
    s.push_image("org/d", "1", &[base.clone(), random(1000)], OCI_MANIFEST)
        .await;
    let sum = m
        .copy(&[job(&src, "org/d:1", &dst)], &NoProgress)
        .await
        .unwrap();
    assert_eq!(sum.blobs_copied, 2, "{sum:?}");
    assert_eq!(sum.blobs_mounted, 1, "{sum:?}");
    dst.client().verify_tree("org/d", "1").await;
}

/// Signals once `threshold` bytes have streamed.
struct Tripwire {
    seen: AtomicU64,
    threshold: u64,
    notify: Arc<tokio::sync::Notify>,
}

impl ProgressSink for Tripwire {
    fn image_started(&self, _: &str, _: Option<u64>) {}
    fn bytes_copied(&self, _: &str, n: u64) {
        if self.seen.fetch_add(n, Ordering::SeqCst) + n >= self.threshold {
            self.notify.notify_one();
        }
    }
    fn blob_skipped(&self, _: &str, _: u64) {}
    fn image_done(&self, _: &str, _: &ImageOutcome) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_copy_leaves_no_manifest_and_a_rerun_completes() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    let layers: Vec<_> = (0..3).map(|_| random(16 << 20)).collect();
    let digest = src
        .client()
        .push_image("org/big", "1", &layers, OCI_MANIFEST)
        .await;
    let jobs = [job(&src, "org/big:1", &dst)];
    let notify = Arc::new(tokio::sync::Notify::new());
    let trip = Tripwire {
        seen: AtomicU64::new(0),
        threshold: 4 << 20,
        notify: notify.clone(),
    };
    let m = mirror();
    tokio::select! {
        biased;
        _ = notify.notified() => {}
        r = m.copy(&jobs, &trip) => panic!("the copy finished before the interruption: {r:?}"),
    }
    // Dropped mid-stream: no manifest may be visible.
    assert!(dst
        .client()
        .get_manifest_raw("org/big", "1")
        .await
        .is_none());

    let sum = mirror().copy(&jobs, &NoProgress).await.unwrap();
    assert_eq!(sum.images, 1);
    let (raw, _) = dst.client().get_manifest_raw("org/big", "1").await.unwrap();
    assert_eq!(digest_of(&raw), digest);
    dst.client().verify_tree("org/big", "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_blob_is_rejected_and_no_manifest_referencing_it_is_pushed() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    let s = src.client();
    let good = random(40_000);
    let bad = random(300_000);
    let bad_digest = digest_of(&bad);
    s.push_image("org/bad", "1", &[good, bad.clone()], OCI_MANIFEST)
        .await;
    // Same size, different bytes: the registry serves it without noticing.
    let mut tampered = bad;
    tampered[1000] ^= 0xff;
    std::fs::write(src.blob_file(&bad_digest), &tampered).unwrap();

    let image = format!("{}/org/bad:1", src.host);
    let err = mirror()
        .copy(&[job(&src, "org/bad:1", &dst)], &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&image) && msg.contains(&bad_digest), "{msg}");
    let d = dst.client();
    assert!(d.get_manifest_raw("org/bad", "1").await.is_none());
    assert!(d.blob("org/bad", &bad_digest).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_name_the_registry_and_credential_source_but_never_the_secret() {
    let src = TestRegistry::start_with_login("tester", "right-password-123");
    let dst = TestRegistry::start();
    src.client()
        .push_image("org/private", "1", &[random(1000)], OCI_MANIFEST)
        .await;
    let jobs = [job(&src, "org/private:1", &dst)];

    // Wrong password from a docker config file.
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg = cfgdir.path().join("config.json");
    let wrong = "wrong-password-987";
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("tester:{wrong}"));
    std::fs::write(
        &cfg,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, src.host),
    )
    .unwrap();
    let creds = CredentialSource {
        docker_config: Some(cfg.clone()),
        ..CredentialSource::anonymous()
    };
    let err = Mirror::new(CopyOptions::default(), creds)
        .copy(&jobs, &NoProgress)
        .await
        .unwrap_err();
    let msg = err.to_string();
    let dbg = format!("{err:?}");
    assert!(msg.contains(&src.host), "{msg}");
    assert!(msg.contains(&cfg.display().to_string()), "{msg}");
    assert!(msg.contains("401"), "{msg}");
    assert!(!msg.contains(wrong) && !dbg.contains(wrong), "{msg}");
    assert!(!msg.contains(&auth) && !dbg.contains(&auth), "{msg}");

    // An NGC key sent to this registry.
    let key = "nvapi-this-is-secret-42";
    let creds = CredentialSource {
        ngc_api_key: Some(Secret::new(key)),
        ngc_registries: vec![src.host.clone()],
        docker_config: None,
    };
    let err = Mirror::new(CopyOptions::default(), creds)
        .copy(&jobs, &NoProgress)
        .await
        .unwrap_err();
    let (msg, dbg) = (err.to_string(), format!("{err:?}"));
    assert!(
        msg.contains("NGC_API_KEY") && msg.contains(&src.host),
        "{msg}"
    );
    assert!(!msg.contains(key) && !dbg.contains(key), "{msg}");

    // No credentials at all.
    let msg = mirror()
        .copy(&jobs, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("anonymous") && msg.contains(&src.host),
        "{msg}"
    );

    // The right password over Basic auth works.
    let auth = base64::engine::general_purpose::STANDARD.encode("tester:right-password-123");
    std::fs::write(
        &cfg,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, src.host),
    )
    .unwrap();
    let creds = CredentialSource {
        docker_config: Some(cfg),
        ..CredentialSource::anonymous()
    };
    Mirror::new(CopyOptions::default(), creds)
        .copy(&jobs, &NoProgress)
        .await
        .unwrap();
    dst.client().verify_tree("org/private", "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_is_named_and_keep_going_reports_every_failure() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    src.client()
        .push_image("org/here", "1", &[random(1000)], OCI_MANIFEST)
        .await;
    let missing = format!("{}/org/nope:9", src.host);
    let err = mirror()
        .copy(&[job(&src, "org/nope:9", &dst)], &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "image {missing} not found in registry {}",
            src.host
        )),
        "{err}"
    );

    let jobs = [
        job(&src, "org/nope:9", &dst),
        job(&src, "org/here:1", &dst),
        job(&src, "org/here:2", &dst),
    ];
    let opts = CopyOptions {
        keep_going: true,
        ..CopyOptions::default()
    };
    match Mirror::new(opts, CredentialSource::anonymous())
        .copy(&jobs, &NoProgress)
        .await
    {
        Err(RegistryError::Failed { failures, summary }) => {
            assert_eq!(failures.len(), 2, "{failures:?}");
            assert_eq!(summary.images, 1);
        }
        other => panic!("expected two failures, got {other:?}"),
    }
    dst.client().verify_tree("org/here", "1").await;
}
