//! One registry host: the distribution API through oci-client, with the
//! authentication in [`authorize`], because oci-client 0.18 cannot do it
//! right (its module doc says how).
//!
//! Everything that moves bytes is oci-client's: digest-checked manifest pulls
//! and blob streams, monolithic pushes, mounts, tag and catalog lists.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use oci_client::client::{ClientConfig, ClientProtocol, SizedStream};
use oci_client::errors::{DigestError, OciDistributionError, OciEnvelope, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use reqwest::header::HeaderValue;

use super::auth::Credentials;
use super::reference::{host_of, is_loopback_registry};
use super::RegistryError;
use crate::ui::describe_error;

mod authorize;
use authorize::Challenge;

/// Every manifest kind the copy understands; the registry picks the stored one.
pub const MANIFEST_TYPES: [&str; 5] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.artifact.manifest.v1+json",
];

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Per read, not per request: a 1 GB layer may take minutes.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
const USER_AGENT: &str = concat!("nvcf-dev/", env!("CARGO_PKG_VERSION"));
/// The token spec's lifetime when the endpoint does not say.
const DEFAULT_TOKEN_SECS: u64 = 60;
/// Tags, and catalog repositories, asked for per page.
const PAGE: usize = 1000;

/// True when `host` (host[:port]) may be spoken to over plain HTTP: loopback
/// addresses, `localhost`, or a host the user listed as insecure.
pub fn is_plain_http(host: &str, insecure: &[String]) -> bool {
    let bare = host_of(host);
    insecure.iter().any(|i| i == host || i == bare) || is_loopback_registry(host)
}

/// One registry host with its credentials and token cache.
pub struct Registry {
    pub host: String,
    /// `scheme://host` of the API (docker.io's lives at index.docker.io).
    base: String,
    oci: oci_client::Client,
    /// For `/v2/` and the token endpoint, which oci-client does not expose.
    http: reqwest::Client,
    creds: Credentials,
    /// How the registry wants requests authenticated (None: not at all),
    /// from its answer to `/v2/`.
    scheme: tokio::sync::OnceCell<Option<Challenge>>,
    /// When each (repository, operation)'s token must be replaced. The lock
    /// also makes concurrent first requests wait for one token fetch.
    lapses: tokio::sync::Mutex<BTreeMap<(String, RegistryOperation), Instant>>,
}

/// The HTTP status a distribution error code stands for (the spec's table):
/// oci-client keeps the code of a 4xx with an error body but drops its status.
fn status_of(code: &OciErrorCode) -> u16 {
    match code {
        OciErrorCode::Unauthorized => 401,
        OciErrorCode::Denied => 403,
        OciErrorCode::BlobUnknown
        | OciErrorCode::BlobUploadUnknown
        | OciErrorCode::ManifestUnknown
        | OciErrorCode::NameUnknown
        | OciErrorCode::NotFound => 404,
        OciErrorCode::Unsupported => 405,
        OciErrorCode::Toomanyrequests => 429,
        _ => 400,
    }
}

/// The status of a failed oci-client call when it was an HTTP answer.
fn http_status(e: &OciDistributionError) -> Option<u16> {
    match e {
        OciDistributionError::UnauthorizedError { .. } => Some(401),
        OciDistributionError::ServerError { code, .. } => Some(*code),
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.first().map(|e| status_of(&e.code))
        }
        OciDistributionError::RequestError(r) => r.status().map(|s| s.as_u16()),
        _ => None,
    }
}

/// The answer of a call, None when it was a 404.
fn found<T>(r: Result<T, RegistryError>) -> Result<Option<T>, RegistryError> {
    match r {
        Err(RegistryError::Http { status: 404, .. }) => Ok(None),
        r => r.map(Some),
    }
}

impl Registry {
    /// A client for `host`: the one place the project's registry HTTP
    /// settings (timeouts, user agent, plain HTTP for loopback and
    /// `insecure` hosts) are made.
    pub fn connect(
        host: &str,
        creds: Credentials,
        insecure: &[String],
    ) -> Result<Registry, RegistryError> {
        let api_host = if host == "docker.io" {
            "index.docker.io"
        } else {
            host
        };
        let (protocol, scheme) = match is_plain_http(api_host, insecure) {
            true => (ClientProtocol::Http, "http"),
            false => (ClientProtocol::Https, "https"),
        };
        let config = ClientConfig {
            protocol,
            // One PUT per blob: fastest, and its token is checked once, at
            // its start, so a token cannot lapse halfway through a layer.
            use_monolithic_push: true,
            // The copy picks index children itself.
            platform_resolver: None,
            read_timeout: Some(READ_TIMEOUT),
            connect_timeout: Some(CONNECT_TIMEOUT),
            user_agent: USER_AGENT,
            default_token_expiration_secs: DEFAULT_TOKEN_SECS as usize,
            ..ClientConfig::default()
        };
        let failed = |e: &dyn std::error::Error| RegistryError::Client {
            registry: host.to_string(),
            detail: describe_error(e),
        };
        let oci = oci_client::Client::try_from(config).map_err(|e| failed(&e))?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| failed(&e))?;
        Ok(Registry {
            host: host.to_string(),
            base: format!("{scheme}://{api_host}"),
            oci,
            http,
            creds,
            scheme: Default::default(),
            lapses: Default::default(),
        })
    }

    /// `repo` at a tag or digest; a bare repository means `latest`.
    fn reference(&self, repo: &str, tag_or_digest: &str) -> Reference {
        let (host, repo) = (self.host.clone(), repo.to_string());
        if tag_or_digest.starts_with("sha256:") {
            Reference::with_digest(host, repo, tag_or_digest.into())
        } else {
            Reference::with_tag(host, repo, tag_or_digest.into())
        }
    }

    fn oci_auth(&self) -> RegistryAuth {
        match &self.creds.basic {
            Some((user, pass)) => RegistryAuth::Basic(user.clone(), pass.expose().to_string()),
            None => RegistryAuth::Anonymous,
        }
    }

    fn redact(&self, text: &str) -> String {
        crate::secret::redact_text(text, self.creds.secret().as_slice())
    }

    fn unreachable(&self, what: &str, e: &dyn std::error::Error) -> RegistryError {
        RegistryError::Unreachable {
            registry: self.host.clone(),
            detail: self.redact(&format!("{what}: {}", describe_error(e))),
        }
    }

    /// Why reading blob `digest` of `image` failed: oci-client's verifying
    /// stream found other bytes at its end, or the connection broke.
    pub fn read_error(&self, image: &str, digest: &str, e: &std::io::Error) -> RegistryError {
        match e.get_ref().and_then(|e| e.downcast_ref::<DigestError>()) {
            Some(DigestError::VerificationError { actual, .. }) => RegistryError::DigestMismatch {
                image: image.to_string(),
                digest: digest.to_string(),
                actual: actual.clone(),
            },
            _ => self.unreachable(&format!("reading blob {digest} of {image}"), e),
        }
    }

    /// A refusal (401/403) or another HTTP failure doing `what`.
    pub(super) fn status_error(&self, what: &str, status: u16, detail: String) -> RegistryError {
        match status {
            401 | 403 => RegistryError::Auth {
                registry: self.host.clone(),
                status,
                cred_source: self.creds.source.clone(),
            },
            _ => RegistryError::Http {
                registry: self.host.clone(),
                what: what.to_string(),
                status,
                detail,
            },
        }
    }

    /// One line for a failed oci-client call doing `what`.
    fn error(&self, what: &str, e: OciDistributionError) -> RegistryError {
        let first = |env: &OciEnvelope| {
            env.errors
                .first()
                .map(|e| format!("{:?} {}", e.code, e.message))
        };
        let detail = match &e {
            OciDistributionError::RegistryError { envelope, .. } => {
                first(envelope).unwrap_or_default()
            }
            OciDistributionError::ServerError { message, .. } => serde_json::from_str(message)
                .ok()
                .and_then(|env| first(&env))
                .unwrap_or_else(|| message.lines().next().unwrap_or("").to_string()),
            OciDistributionError::RequestError(r) if r.status().is_none() => {
                return self.unreachable(what, r)
            }
            OciDistributionError::IoError(io) => return self.unreachable(what, io),
            OciDistributionError::DigestError(DigestError::VerificationError {
                expected,
                actual,
            }) => {
                return RegistryError::DigestMismatch {
                    image: format!("{}/{what}", self.host),
                    digest: expected.clone(),
                    actual: actual.clone(),
                }
            }
            other => describe_error(other),
        };
        let detail: String = self.redact(detail.trim()).chars().take(200).collect();
        match http_status(&e) {
            Some(status) => self.status_error(what, status, detail),
            None => RegistryError::Protocol {
                registry: self.host.clone(),
                what: what.to_string(),
                detail,
            },
        }
    }

    /// GET a manifest: its exact bytes (checked against a digest reference
    /// and the registry's digest header) and its digest, or None on 404.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(Bytes, String)>, RegistryError> {
        let (r, auth) = (self.reference(repo, reference), self.oci_auth());
        let what = format!("fetching manifest {repo}:{reference}");
        found(
            self.call(repo, RegistryOperation::Pull, &what, || {
                self.oci.pull_manifest_raw(&r, &auth, &MANIFEST_TYPES)
            })
            .await,
        )
    }

    /// HEAD a manifest: its digest if present.
    pub async fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<String>, RegistryError> {
        let (r, auth) = (self.reference(repo, reference), self.oci_auth());
        let what = format!("checking manifest {repo}:{reference}");
        found(
            self.call(repo, RegistryOperation::Pull, &what, || {
                self.oci.fetch_manifest_digest(&r, &auth)
            })
            .await,
        )
    }

    /// PUT a manifest as its exact bytes.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        raw: &Bytes,
        content_type: &'static str,
    ) -> Result<(), RegistryError> {
        let (r, ct) = (
            self.reference(repo, reference),
            HeaderValue::from_static(content_type),
        );
        let what = format!("pushing manifest {repo}:{reference}");
        self.call(repo, RegistryOperation::Push, &what, || {
            self.oci.push_manifest_raw(&r, raw.clone(), ct.clone())
        })
        .await
        .map(drop)
    }

    pub async fn head_blob(&self, repo: &str, digest: &str) -> Result<bool, RegistryError> {
        let r = self.reference(repo, "latest");
        let what = format!("checking blob {digest} in {repo}");
        self.call(repo, RegistryOperation::Pull, &what, || {
            self.oci.blob_exists(&r, digest)
        })
        .await
    }

    /// GET a blob as a stream that fails at its end unless the bytes hash
    /// to `digest` (see [`Registry::read_error`]); None on 404.
    pub async fn blob_stream(
        &self,
        repo: &str,
        digest: &str,
    ) -> Result<Option<SizedStream>, RegistryError> {
        let r = self.reference(repo, "latest");
        let what = format!("fetching blob {digest} from {repo}");
        found(
            self.call(repo, RegistryOperation::Pull, &what, || {
                self.oci.pull_blob_stream(&r, digest)
            })
            .await,
        )
    }

    /// A whole blob in memory, verified; for small blobs such as charts.
    pub async fn pull_blob(
        &self,
        repo: &str,
        digest: &str,
    ) -> Result<Option<Bytes>, RegistryError> {
        let Some(stream) = self.blob_stream(repo, digest).await? else {
            return Ok(None);
        };
        let chunks: Vec<Bytes> = stream
            .try_collect()
            .await
            .map_err(|e| self.read_error(&format!("{}/{repo}", self.host), digest, &e))?;
        Ok(Some(chunks.concat().into()))
    }

    /// Mounts `digest` from `from` in the same registry. False when the
    /// registry answered with an upload session instead (202): oci-client
    /// expects only 201 and drops that session, which the registry expires.
    pub async fn mount_blob(
        &self,
        repo: &str,
        digest: &str,
        from: &str,
    ) -> Result<bool, RegistryError> {
        let (r, src) = (
            self.reference(repo, "latest"),
            self.reference(from, "latest"),
        );
        let what = format!("mounting {digest} from {from} into {repo}");
        self.call(repo, RegistryOperation::Push, &what, || async {
            match self.oci.mount_blob(&r, &src, digest).await {
                Err(OciDistributionError::SpecViolationError(_)) => Ok(false),
                r => r.map(|()| true),
            }
        })
        .await
    }

    /// Streams a blob of `size` bytes into `repo` in one PUT carrying its
    /// digest: the registry hashes it too and commits only a match. A stream
    /// that ends in an error aborts the PUT, so nothing is committed.
    pub async fn push_blob<S>(
        &self,
        repo: &str,
        digest: &str,
        size: u64,
        body: S,
    ) -> Result<(), RegistryError>
    where
        S: Stream<Item = Result<Bytes, OciDistributionError>> + Send + 'static,
    {
        self.authorize(repo, RegistryOperation::Push).await?;
        let r = self.reference(repo, "latest");
        match self
            .oci
            .push_blob_stream(&r, body, digest, Some(size))
            .await
        {
            Ok(_) => Ok(()),
            // The stream is spent: the caller's retry sends it again.
            Err(e)
                if http_status(&e) == Some(401)
                    && self.forget(repo, RegistryOperation::Push).await =>
            {
                Err(RegistryError::TokenExpired {
                    registry: self.host.clone(),
                    cred_source: self.creds.source.clone(),
                })
            }
            Err(e) => Err(self.error(&format!("uploading {digest} to {repo}"), e)),
        }
    }

    /// Every repository the registry lists in its catalog (outside the OCI
    /// distribution spec, but the local registry serves it), following the
    /// pages with `last`.
    pub async fn catalog(&self) -> Result<Vec<String>, RegistryError> {
        let (r, auth) = (self.reference("", "latest"), self.oci_auth());
        let mut repositories: Vec<String> = Vec::new();
        loop {
            let page = self.oci.catalog(
                &r,
                &auth,
                Some(PAGE),
                repositories.last().map(String::as_str),
            );
            let page = page
                .await
                .map_err(|e| self.error("listing the catalog", e))?;
            // Registries cap a page (docker-registry at 1000): a full one may
            // have more after it.
            let full = page.repositories.len() >= PAGE;
            repositories.extend(page.repositories);
            if !full {
                return Ok(repositories);
            }
        }
    }

    /// Every tag of `repo`, in the registry's order, asking for `page` (else
    /// [`PAGE`]) at a time and following the pages with `last`.
    pub async fn list_tags(
        &self,
        repo: &str,
        page: Option<usize>,
    ) -> Result<Vec<String>, RegistryError> {
        let page = page.unwrap_or(PAGE);
        let (r, auth) = (self.reference(repo, "latest"), self.oci_auth());
        let what = format!("listing the tags of {repo}");
        let mut tags: Vec<String> = Vec::new();
        loop {
            let last = tags.last().cloned();
            let page = self.call(repo, RegistryOperation::Pull, &what, || {
                self.oci.list_tags(&r, &auth, Some(page), last.as_deref())
            });
            let Some(page) = found(page.await)? else {
                return Err(RegistryError::NotFound {
                    image: format!("{}/{repo}", self.host),
                    registry: self.host.clone(),
                });
            };
            // oci-client hides the Link header, so a page is known to be the
            // last only when it brings nothing new (a registry may serve
            // fewer tags than asked for while more remain).
            let before = tags.len();
            for t in page.tags {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            if tags.len() == before {
                return Ok(tags);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A token-auth registry in miniature: /v2/ paths want `Bearer tok-123`,
    /// which /token hands out for Basic `alice:pw-ok`.
    async fn bearer_server() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let token_calls = Arc::new(AtomicUsize::new(0));
        let calls = token_calls.clone();
        let realm = format!("http://{host}/token");
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 8192];
                let mut n = 0;
                while !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf[n..]).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => n += k,
                    }
                }
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                let auth = req
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("authorization: ")
                            .or_else(|| l.strip_prefix("Authorization: "))
                    })
                    .unwrap_or("")
                    .to_string();
                let basic = format!(
                    "Basic {}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::STANDARD,
                        "alice:pw-ok"
                    )
                );
                let (status, headers, body) = if path.starts_with("/token") {
                    calls.fetch_add(1, Ordering::SeqCst);
                    if auth == basic && path.contains("scope=repository%3Aorg%2Fapp%3Apull") {
                        (
                            "200 OK",
                            String::new(),
                            r#"{"token":"tok-123"}"#.to_string(),
                        )
                    } else {
                        ("401 Unauthorized", String::new(), String::new())
                    }
                } else if auth == "Bearer tok-123" {
                    (
                        "200 OK",
                        "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n".to_string(),
                        r#"{"schemaVersion":2}"#.to_string(),
                    )
                } else {
                    (
                        "401 Unauthorized",
                        format!("WWW-Authenticate: Bearer realm=\"{realm}\",service=\"test\"\r\n"),
                        String::new(),
                    )
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            }
        });
        (host, token_calls)
    }

    fn creds(pass: &str) -> Credentials {
        Credentials {
            basic: Some(("alice".into(), Secret::new(pass))),
            source: "test-config".into(),
        }
    }

    #[tokio::test]
    async fn bearer_challenge_fetches_and_caches_a_token() {
        let (host, token_calls) = bearer_server().await;
        let r = Registry::connect(&host, creds("pw-ok"), &[]).unwrap();
        for _ in 0..2 {
            let (body, digest) = r.get_manifest("org/app", "1").await.unwrap().unwrap();
            assert_eq!(&body[..], br#"{"schemaVersion":2}"#);
            assert_eq!(digest, crate::registry::copy::sha256_digest(&body));
        }
        assert_eq!(token_calls.load(Ordering::SeqCst), 1, "the token is reused");
    }

    #[tokio::test]
    async fn a_refused_token_names_registry_and_source_not_the_secret() {
        let (host, _) = bearer_server().await;
        let r = Registry::connect(&host, creds("pw-WRONG-77"), &[]).unwrap();
        let err = r.get_manifest("org/app", "1").await.unwrap_err();
        let (msg, dbg) = (err.to_string(), format!("{err:?}"));
        assert!(msg.contains(&host) && msg.contains("test-config"), "{msg}");
        assert!(
            !msg.contains("pw-WRONG-77") && !dbg.contains("pw-WRONG-77"),
            "{dbg}"
        );
    }

    #[test]
    fn plain_http_only_for_loopback_and_listed_hosts() {
        assert!(is_plain_http("localhost:5001", &[]));
        assert!(is_plain_http("127.0.0.1:5000", &[]));
        assert!(is_plain_http("127.3.2.1", &[]));
        assert!(is_plain_http("[::1]:5000", &[]));
        assert!(!is_plain_http("nvcr.io", &[]));
        assert!(!is_plain_http("10.0.0.5:5000", &[]));
        assert!(is_plain_http("10.0.0.5:5000", &["10.0.0.5:5000".into()]));
        assert!(is_plain_http("reg.lan:5000", &["reg.lan".into()]));
    }

    #[test]
    fn error_codes_map_to_the_specs_statuses() {
        assert_eq!(status_of(&OciErrorCode::ManifestUnknown), 404);
        assert_eq!(status_of(&OciErrorCode::Denied), 403);
        assert_eq!(status_of(&OciErrorCode::Toomanyrequests), 429);
        assert_eq!(status_of(&OciErrorCode::DigestInvalid), 400);
    }
}
