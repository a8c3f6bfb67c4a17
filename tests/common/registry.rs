//! Real `docker-registry` processes for tests, and just enough of the
//! distribution API to push generated images, indexes and charts and to
//! inspect what arrived.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::Rng;
use sha2::{Digest, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

pub fn registry_bin() -> PathBuf {
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
pub struct TestRegistry {
    pub child: Child,
    pub host: String,
    pub dir: tempfile::TempDir,
    pub login: Option<(String, String)>,
}

impl TestRegistry {
    pub fn start() -> Self {
        Self::start_inner(None)
    }

    pub fn start_with_login(user: &str, pass: &str) -> Self {
        Self::start_inner(Some((user.to_string(), pass.to_string())))
    }

    pub fn start_inner(login: Option<(String, String)>) -> Self {
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

    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    pub fn client(&self) -> Api {
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

pub fn digest_of(b: &[u8]) -> String {
    let hex: String = Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

pub fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::rng().fill_bytes(&mut v);
    v
}

/// Just enough of the distribution API to build fixtures and inspect results.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub login: Option<(String, String)>,
}

impl Api {
    pub fn req(&self, m: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(m, url);
        match &self.login {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }

    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> serde_json::Value {
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

    pub async fn push_manifest(
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
    pub async fn push_image(
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
    pub async fn push_index(&self, repo: &str, tag: &str) -> (String, String, String) {
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
    pub async fn push_chart(&self, repo: &str, tag: &str) -> String {
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

    pub async fn get_manifest_raw(&self, repo: &str, reference: &str) -> Option<(Vec<u8>, String)> {
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

    pub async fn blob(&self, repo: &str, digest: &str) -> Option<Vec<u8>> {
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
    pub async fn verify_tree(&self, repo: &str, reference: &str) {
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

/// A proxy in front of a `docker-registry`, streaming requests both ways.
/// With `bearer`, it does token auth as nvcr.io does: `/token` hands out
/// opaque tokens (for Basic `user:pass`, with `expires_in`) and every other
/// request needs a live one, else a 401 with a Bearer challenge. `latency`
/// holds every answer, so many first requests are in flight before any 401
/// comes back.
pub struct RegistryProxy {
    pub host: String,
    /// Tokens handed out so far.
    pub tokens_issued: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Requests refused for a token that had expired.
    pub expired_refusals: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
pub struct ProxyOptions {
    /// (user, password, token lifetime); None forwards every request as is.
    pub bearer: Option<(String, String, Duration)>,
    pub latency: Duration,
    /// Held before answering the POST that starts a blob upload, so a token
    /// taken for the upload goes stale while it runs.
    pub upload_start_delay: Duration,
}

type ProxyBody = http_body_util::combinators::BoxBody<bytes::Bytes, std::io::Error>;

impl RegistryProxy {
    pub async fn start(upstream: &str, opts: ProxyOptions) -> RegistryProxy {
        use std::sync::atomic::AtomicUsize;
        use std::sync::{Arc, Mutex};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let tokens_issued = Arc::new(AtomicUsize::new(0));
        let expired_refusals = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(ProxyState {
            host: host.clone(),
            upstream: upstream.to_string(),
            http: reqwest::Client::new(),
            opts,
            live: Mutex::new(std::collections::HashMap::new()),
            tokens_issued: tokens_issued.clone(),
            expired_refusals: expired_refusals.clone(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(state.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
        RegistryProxy {
            host,
            tokens_issued,
            expired_refusals,
            task,
        }
    }
}

impl Drop for RegistryProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct ProxyState {
    host: String,
    upstream: String,
    http: reqwest::Client,
    opts: ProxyOptions,
    /// token -> when it stops being accepted.
    live: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    tokens_issued: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    expired_refusals: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl ProxyState {
    fn reply(status: u16, headers: &[(&str, String)], body: String) -> hyper::Response<ProxyBody> {
        use http_body_util::BodyExt;
        let mut r = hyper::Response::builder().status(status);
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        r.body(
            http_body_util::Full::new(bytes::Bytes::from(body))
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap()
    }

    async fn handle(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<ProxyBody> {
        use base64::Engine as _;
        use std::sync::atomic::Ordering;
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let path = req.uri().path().to_string();
        tokio::time::sleep(self.opts.latency).await;
        let Some((user, pass, expires_in)) = &self.opts.bearer else {
            return self.forward(req).await;
        };
        if path == "/token" {
            let want = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
            );
            if auth != want {
                return Self::reply(401, &[], String::new());
            }
            let n = self.tokens_issued.fetch_add(1, Ordering::SeqCst);
            let token = format!("opaque-{n}-{}", digest_of(&random(8)));
            self.live
                .lock()
                .unwrap()
                .insert(token.clone(), std::time::Instant::now() + *expires_in);
            let body = serde_json::json!({
                "token": token,
                "expires_in": expires_in.as_secs(),
            });
            return Self::reply(
                200,
                &[("content-type", "application/json".into())],
                body.to_string(),
            );
        }
        let presented = auth.strip_prefix("Bearer ").unwrap_or("");
        let deadline = self.live.lock().unwrap().get(presented).copied();
        let ok = match deadline {
            Some(d) if std::time::Instant::now() < d => true,
            Some(_) => {
                self.expired_refusals.fetch_add(1, Ordering::SeqCst);
                false
            }
            None => false,
        };
        if !ok {
            let challenge = format!(
                r#"Bearer realm="http://{}/token",service="test-registry""#,
                self.host
            );
            return Self::reply(
                401,
                &[
                    ("www-authenticate", challenge),
                    ("content-type", "application/json".into()),
                ],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                    .into(),
            );
        }
        if req.method() == hyper::Method::POST && path.ends_with("/blobs/uploads/") {
            tokio::time::sleep(self.opts.upload_start_delay).await;
        }
        self.forward(req).await
    }

    async fn forward(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<ProxyBody> {
        use http_body_util::BodyExt;
        let url = format!(
            "http://{}{}",
            self.upstream,
            req.uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
        );
        let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap();
        let mut fwd = self.http.request(method, url);
        for (k, v) in req.headers() {
            let bearer = k == "authorization" && self.opts.bearer.is_some();
            if k != "host" && !bearer {
                fwd = fwd.header(k.as_str(), v.as_bytes());
            }
        }
        // The registry builds Location URLs from this, so uploads come back here.
        fwd = fwd.header("x-forwarded-host", self.host.clone());
        let body = req.into_body().into_data_stream();
        let resp = match fwd.body(reqwest::Body::wrap_stream(body)).send().await {
            Ok(r) => r,
            Err(e) => return Self::reply(502, &[], e.to_string()),
        };
        let mut out = hyper::Response::builder().status(resp.status().as_u16());
        for (k, v) in resp.headers() {
            out = out.header(k.as_str(), v.as_bytes());
        }
        let stream = futures::TryStreamExt::map_err(resp.bytes_stream(), std::io::Error::other);
        let body = http_body_util::StreamBody::new(futures::StreamExt::map(stream, |r| {
            r.map(hyper::body::Frame::data)
        }));
        out.body(BodyExt::boxed(body)).unwrap()
    }
}
