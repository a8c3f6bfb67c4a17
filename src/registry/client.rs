//! A small client for the OCI distribution API, one per registry host.
//!
//! Written on reqwest rather than oci-client because the copy needs things
//! oci-client does not expose together: raw manifest bytes with their exact
//! content type, a blob GET whose body is piped into a PATCH while hashing,
//! cross-repository mounts that may fall back to an upload session, and one
//! shared auth/token cache per registry across many repositories.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use tokio::sync::Mutex;

use super::auth::{parse_challenge, Challenge, Credentials};
use super::RegistryError;
use crate::secret::Secret;

/// Every manifest kind the copy understands; the registry picks the stored one.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.oci.artifact.manifest.v1+json";

/// True when `host` (host[:port]) may be spoken to over plain HTTP: loopback
/// addresses, `localhost`, or a host the user listed as insecure.
pub fn is_plain_http(host: &str, insecure: &[String]) -> bool {
    if insecure.iter().any(|i| i == host) {
        return true;
    }
    let bare = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    if insecure.iter().any(|i| i == bare) {
        return true;
    }
    if bare.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => false,
    }
}

#[derive(Debug, Clone)]
enum Mode {
    /// No challenge seen yet: requests go out anonymous.
    Unknown,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

#[derive(Debug)]
struct AuthState {
    mode: Mode,
    /// Bearer tokens by scope string.
    tokens: HashMap<String, Secret>,
}

/// What POST /blobs/uploads/ answered.
pub enum UploadStart {
    /// The cross-repository mount worked: the blob is now in the repository.
    Mounted,
    /// An upload session to stream the blob into.
    Session(String),
}

/// One registry host with its credentials and token cache.
pub struct Registry {
    pub host: String,
    base: String,
    http: reqwest::Client,
    creds: Credentials,
    auth: Mutex<AuthState>,
}

pub fn scope_pull(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

pub fn scope_push(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

/// The scope to check `repo` with: push when the check comes before a
/// push, pull otherwise.
fn scope_for(repo: &str, for_push: bool) -> String {
    if for_push {
        scope_push(repo)
    } else {
        scope_pull(repo)
    }
}

/// A response header as text; empty when missing or not visible ASCII.
fn header_text(resp: &Response, name: impl reqwest::header::AsHeaderName) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// A one-line description of a reqwest error including its causes.
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}

impl Registry {
    pub fn new(host: &str, http: reqwest::Client, creds: Credentials, insecure: &[String]) -> Self {
        // docker.io's API lives elsewhere; everything else is its own host.
        let api_host = if host == "docker.io" {
            "index.docker.io"
        } else {
            host
        };
        let scheme = if is_plain_http(api_host, insecure) {
            "http"
        } else {
            "https"
        };
        Registry {
            host: host.to_string(),
            base: format!("{scheme}://{api_host}"),
            http,
            creds,
            auth: Mutex::new(AuthState {
                mode: Mode::Unknown,
                tokens: HashMap::new(),
            }),
        }
    }

    pub fn cred_source(&self) -> &str {
        &self.creds.source
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, what: &str, e: &reqwest::Error) -> RegistryError {
        let mut detail = format!("{what}: {}", describe(e));
        if let Some(s) = self.creds.secret() {
            detail = crate::secret::redact_text(&detail, &[s]);
        }
        RegistryError::Unreachable {
            registry: self.host.clone(),
            detail,
        }
    }

    fn auth_error(&self, status: StatusCode) -> RegistryError {
        RegistryError::Auth {
            registry: self.host.clone(),
            status: status.as_u16(),
            cred_source: self.creds.source.clone(),
        }
    }

    /// Turns a non-success response into an error naming `what`, keeping the
    /// registry's own one-line error code/message.
    pub async fn status_error(&self, what: &str, resp: Response) -> RegistryError {
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return self.auth_error(status);
        }
        let body = resp.text().await.unwrap_or_default();
        let mut detail = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                let e = v.get("errors")?.get(0)?.clone();
                Some(format!(
                    "{} {}",
                    e.get("code").and_then(|c| c.as_str()).unwrap_or(""),
                    e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                ))
            })
            .unwrap_or_else(|| {
                body.lines()
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(200)
                    .collect()
            });
        if let Some(s) = self.creds.secret() {
            detail = crate::secret::redact_text(&detail, &[s]);
        }
        RegistryError::Http {
            registry: self.host.clone(),
            what: what.to_string(),
            status: status.as_u16(),
            detail: detail.trim().to_string(),
        }
    }

    /// The Authorization value to send for `scopes`, fetching a token if needed.
    pub async fn auth_header(&self, scopes: &[String]) -> Result<Option<Secret>, RegistryError> {
        let mut st = self.auth.lock().await;
        match st.mode.clone() {
            Mode::Unknown => Ok(None),
            Mode::Basic => Ok(self.creds.basic_header()),
            Mode::Bearer { realm, service } => {
                let key = scopes.join(" ");
                if let Some(t) = st.tokens.get(&key) {
                    return Ok(Some(t.clone()));
                }
                let token = self.fetch_token(&realm, service.as_deref(), scopes).await?;
                let value = Secret::new(format!("Bearer {}", token.expose()));
                st.tokens.insert(key, value.clone());
                Ok(Some(value))
            }
        }
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<Secret, RegistryError> {
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            query.push(("service", s));
        }
        for s in scopes {
            query.push(("scope", s));
        }
        let mut req = self.http.get(realm).query(&query);
        if let Some(b) = self.creds.basic_header() {
            req = req.header(AUTHORIZATION, b.expose());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.unreachable("fetching a token", &e))?;
        if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
            return Err(self.auth_error(resp.status()));
        }
        if !resp.status().is_success() {
            // The token endpoint's body may echo request details; keep only the status.
            return Err(RegistryError::Http {
                registry: self.host.clone(),
                what: "fetching a token".into(),
                status: resp.status().as_u16(),
                detail: String::new(),
            });
        }
        let v: serde_json::Value = resp
            .json()
            .await
            .map_err(|e| self.unreachable("reading the token", &e))?;
        v.get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .map(Secret::new)
            .ok_or_else(|| RegistryError::Http {
                registry: self.host.clone(),
                what: "fetching a token".into(),
                status: 200,
                detail: "the answer has no token".into(),
            })
    }

    /// Learns the auth scheme from a 401. Returns false when retrying cannot help.
    async fn learn(&self, resp: &Response, scopes: &[String]) -> bool {
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .and_then(parse_challenge);
        let mut st = self.auth.lock().await;
        match (&st.mode, challenge) {
            (Mode::Unknown, Some(Challenge::Basic)) => {
                if self.creds.basic.is_none() {
                    return false;
                }
                st.mode = Mode::Basic;
                true
            }
            (Mode::Unknown, Some(Challenge::Bearer { realm, service })) => {
                st.mode = Mode::Bearer { realm, service };
                true
            }
            (Mode::Bearer { .. }, Some(Challenge::Bearer { .. })) => {
                // An expired token or a scope the cached token lacks: fetch anew once.
                st.tokens.remove(&scopes.join(" ")).is_some()
            }
            _ => false,
        }
    }

    /// Sends a request built by `mk`, handling the auth challenge once. The
    /// builder is called again for the retry, so it must not carry a stream body.
    pub async fn send(
        &self,
        what: &str,
        scopes: &[String],
        mk: impl Fn() -> RequestBuilder,
    ) -> Result<Response, RegistryError> {
        for attempt in 0..3 {
            let mut req = mk();
            if let Some(h) = self.auth_header(scopes).await? {
                req = req.header(AUTHORIZATION, h.expose());
            }
            let resp = req.send().await.map_err(|e| self.unreachable(what, &e))?;
            if resp.status() == StatusCode::UNAUTHORIZED
                && attempt < 2
                && self.learn(&resp, scopes).await
            {
                continue;
            }
            if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
                return Err(self.auth_error(resp.status()));
            }
            return Ok(resp);
        }
        unreachable!("the loop returns on its last attempt")
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Sends like [`Self::send`] for something that may be absent: the
    /// response on success, None on 404, the registry's error otherwise.
    async fn send_if_found(
        &self,
        what: &str,
        scopes: &[String],
        mk: impl Fn() -> RequestBuilder,
    ) -> Result<Option<Response>, RegistryError> {
        let resp = self.send(what, scopes, mk).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.status_error(what, resp).await);
        }
        Ok(Some(resp))
    }

    /// A manifest request that accepts every manifest kind the copy understands.
    fn manifest_request(&self, method: Method, repo: &str, reference: &str) -> RequestBuilder {
        self.request(method, &format!("/v2/{repo}/manifests/{reference}"))
            .header(ACCEPT, MANIFEST_ACCEPT)
    }

    /// GET a manifest: its raw bytes and content type, or None on 404.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
    ) -> Result<Option<(Bytes, String)>, RegistryError> {
        let what = format!("fetching manifest {repo}:{reference}");
        let Some(resp) = self
            .send_if_found(&what, &[scope_pull(repo)], || {
                self.manifest_request(Method::GET, repo, reference)
            })
            .await?
        else {
            return Ok(None);
        };
        let ct = header_text(&resp, CONTENT_TYPE);
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.unreachable(&what, &e))?;
        Ok(Some((body, ct)))
    }

    /// HEAD a manifest: its digest if present.
    pub async fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
        for_push: bool,
    ) -> Result<Option<String>, RegistryError> {
        let what = format!("checking manifest {repo}:{reference}");
        let resp = self
            .send_if_found(&what, &[scope_for(repo, for_push)], || {
                self.manifest_request(Method::HEAD, repo, reference)
            })
            .await?;
        Ok(resp.map(|r| header_text(&r, "docker-content-digest")))
    }

    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        raw: &Bytes,
        content_type: &str,
    ) -> Result<(), RegistryError> {
        let path = format!("/v2/{repo}/manifests/{reference}");
        let what = format!("pushing manifest {repo}:{reference}");
        let ct = HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/json"));
        let resp = self
            .send(&what, &[scope_push(repo)], || {
                self.request(Method::PUT, &path)
                    .header(CONTENT_TYPE, ct.clone())
                    .body(raw.clone())
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.status_error(&what, resp).await);
        }
        Ok(())
    }

    pub async fn head_blob(
        &self,
        repo: &str,
        digest: &str,
        for_push: bool,
    ) -> Result<bool, RegistryError> {
        let path = format!("/v2/{repo}/blobs/{digest}");
        let what = format!("checking blob {digest} in {repo}");
        let resp = self
            .send_if_found(&what, &[scope_for(repo, for_push)], || {
                self.request(Method::HEAD, &path)
            })
            .await?;
        Ok(resp.is_some())
    }

    /// GET a blob; the caller streams the body.
    pub async fn get_blob(
        &self,
        repo: &str,
        digest: &str,
    ) -> Result<Option<Response>, RegistryError> {
        let path = format!("/v2/{repo}/blobs/{digest}");
        let what = format!("fetching blob {digest} from {repo}");
        self.send_if_found(&what, &[scope_pull(repo)], || {
            self.request(Method::GET, &path)
        })
        .await
    }

    /// Starts an upload, trying a cross-repository mount from `mount_from` first.
    pub async fn start_upload(
        &self,
        repo: &str,
        digest: &str,
        mount_from: Option<&str>,
    ) -> Result<UploadStart, RegistryError> {
        let mut path = format!("/v2/{repo}/blobs/uploads/");
        let mut scopes = vec![scope_push(repo)];
        if let Some(from) = mount_from {
            path.push_str(&format!("?mount={digest}&from={from}"));
            scopes.push(scope_pull(from));
        }
        let what = format!("starting the upload of {digest} to {repo}");
        let resp = self
            .send(&what, &scopes, || {
                self.request(Method::POST, &path)
                    .header(reqwest::header::CONTENT_LENGTH, 0)
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED if mount_from.is_some() => Ok(UploadStart::Mounted),
            StatusCode::ACCEPTED => Ok(UploadStart::Session(self.location(&what, &resp)?)),
            _ => Err(self.status_error(&what, resp).await),
        }
    }

    fn location(&self, what: &str, resp: &Response) -> Result<String, RegistryError> {
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| RegistryError::Http {
                registry: self.host.clone(),
                what: what.to_string(),
                status: resp.status().as_u16(),
                detail: "no Location header".into(),
            })?;
        Ok(
            if loc.starts_with("http://") || loc.starts_with("https://") {
                loc.to_string()
            } else {
                self.url(loc)
            },
        )
    }

    /// Streams `body` into the upload session; returns the next session URL.
    pub async fn patch_stream(
        &self,
        session: &str,
        repo: &str,
        digest: &str,
        body: reqwest::Body,
    ) -> Result<String, RegistryError> {
        let what = format!("uploading {digest} to {repo}");
        let mut req = self
            .http
            .patch(session)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body);
        if let Some(h) = self.auth_header(&[scope_push(repo)]).await? {
            req = req.header(AUTHORIZATION, h.expose());
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&what, &e))?;
        if !resp.status().is_success() {
            return Err(self.status_error(&what, resp).await);
        }
        self.location(&what, &resp)
    }

    /// The final PUT with the digest: only now does the registry commit the blob
    /// (after checking the digest itself).
    pub async fn finish_upload(
        &self,
        session: &str,
        repo: &str,
        digest: &str,
    ) -> Result<(), RegistryError> {
        let what = format!("completing the upload of {digest} to {repo}");
        let sep = if session.contains('?') { '&' } else { '?' };
        let url = format!("{session}{sep}digest={digest}");
        let resp = self
            .send(&what, &[scope_push(repo)], || {
                self.http
                    .put(&url)
                    .header(reqwest::header::CONTENT_LENGTH, 0)
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.status_error(&what, resp).await);
        }
        Ok(())
    }

    /// Best-effort cancel of an upload session; registries expire them anyway.
    pub async fn cancel_upload(&self, session: &str, repo: &str) {
        let mut req = self.http.delete(session);
        if let Ok(Some(h)) = self.auth_header(&[scope_push(repo)]).await {
            req = req.header(AUTHORIZATION, h.expose());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), req.send()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let r = Registry::new(&host, reqwest::Client::new(), creds("pw-ok"), &[]);
        for _ in 0..2 {
            let (body, ct) = r.get_manifest("org/app", "1").await.unwrap().unwrap();
            assert_eq!(&body[..], br#"{"schemaVersion":2}"#);
            assert_eq!(ct, "application/vnd.oci.image.manifest.v1+json");
        }
        assert_eq!(token_calls.load(Ordering::SeqCst), 1, "the token is reused");
    }

    #[tokio::test]
    async fn a_refused_token_names_registry_and_source_not_the_secret() {
        let (host, _) = bearer_server().await;
        let r = Registry::new(&host, reqwest::Client::new(), creds("pw-WRONG-77"), &[]);
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
}
