//! Where registry credentials come from, and the Bearer/Basic challenge dance.
//!
//! Credentials are resolved per registry host and always carry a `source`
//! label ("NGC_API_KEY", the docker config path, "docker-credential-X",
//! "anonymous") so a 401/403 can say what was tried without printing it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine as _;
use tokio::io::AsyncWriteExt;

use super::RegistryError;
use crate::secret::Secret;

/// NGC's fixed user name for API-key logins.
pub const NGC_USER: &str = "$oauthtoken";

/// How to find credentials for each registry the copy talks to.
///
/// The NGC key is only ever sent to `ngc_registries` (nvcr.io by default), so a
/// key in the environment never leaks to the local or any other registry.
#[derive(Debug, Clone, Default)]
pub struct CredentialSource {
    pub ngc_api_key: Option<Secret>,
    pub ngc_registries: Vec<String>,
    /// The docker `config.json` to read `auths`, `credHelpers` and `credsStore` from.
    pub docker_config: Option<PathBuf>,
}

impl CredentialSource {
    /// `NGC_API_KEY` for nvcr.io, then `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json`, then anonymous.
    pub fn from_env() -> Self {
        let ngc_api_key = std::env::var("NGC_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .map(Secret::new);
        let docker_config = match std::env::var_os("DOCKER_CONFIG") {
            Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir).join("config.json")),
            _ => dirs::home_dir().map(|h| h.join(".docker").join("config.json")),
        };
        CredentialSource {
            ngc_api_key,
            ngc_registries: vec!["nvcr.io".to_string()],
            docker_config,
        }
    }

    /// No credentials at all (tests, public registries).
    pub fn anonymous() -> Self {
        CredentialSource::default()
    }

    /// Resolves the credentials for `registry` (a host[:port]).
    pub async fn resolve(&self, registry: &str) -> Result<Credentials, RegistryError> {
        if let Some(key) = &self.ngc_api_key {
            if self.ngc_registries.iter().any(|r| r == registry) {
                return Ok(Credentials {
                    basic: Some((NGC_USER.to_string(), key.clone())),
                    source: "NGC_API_KEY".to_string(),
                });
            }
        }
        if let Some(path) = &self.docker_config {
            if let Some(c) = from_docker_config(path, registry).await? {
                return Ok(c);
            }
        }
        Ok(Credentials::anonymous())
    }
}

/// Resolved credentials for one registry.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub basic: Option<(String, Secret)>,
    /// Where they came from, for error messages; never the secret itself.
    pub source: String,
}

impl Credentials {
    pub fn anonymous() -> Self {
        Credentials {
            basic: None,
            source: "anonymous".to_string(),
        }
    }

    /// The `Authorization: Basic ...` value, if there are credentials.
    pub fn basic_header(&self) -> Option<Secret> {
        self.basic.as_ref().map(|(user, pass)| {
            let raw = format!("{user}:{}", pass.expose());
            Secret::new(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            ))
        })
    }

    pub fn secret(&self) -> Option<&Secret> {
        self.basic.as_ref().map(|(_, p)| p)
    }
}

/// Shows `~` for the home directory so the label is short and stable.
fn display_path(path: &Path) -> String {
    if let Some(home) = dirs::home_dir() {
        if let Ok(rest) = path.strip_prefix(&home) {
            return format!("~/{}", rest.display());
        }
    }
    path.display().to_string()
}

/// `https://index.docker.io/v1/` and `nvcr.io` both name a host; docker
/// config keys use either form.
fn normalize_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

async fn from_docker_config(
    path: &Path,
    registry: &str,
) -> Result<Option<Credentials>, RegistryError> {
    let label = display_path(path);
    let text = match tokio::fs::read_to_string(path).await {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(RegistryError::Credentials {
                source_label: label,
                detail: e.to_string(),
            })
        }
    };
    let cfg: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| RegistryError::Credentials {
            source_label: label.clone(),
            detail: format!("not valid JSON ({e})"),
        })?;
    let hosts = |v: &serde_json::Value| -> HashMap<String, serde_json::Value> {
        v.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (normalize_host(k).to_string(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let wanted = if registry == "index.docker.io" {
        "docker.io"
    } else {
        registry
    };
    let matches =
        |k: &str| k == registry || k == wanted || (wanted == "docker.io" && k == "index.docker.io");

    // Docker's own order: a per-host helper wins, then inline auths, then the default store.
    if let Some(helpers) = cfg.get("credHelpers") {
        if let Some((_, h)) = hosts(helpers).into_iter().find(|(k, _)| matches(k)) {
            if let Some(h) = h.as_str() {
                return helper_get(h, registry).await;
            }
        }
    }
    if let Some(auths) = cfg.get("auths") {
        if let Some((_, entry)) = hosts(auths).into_iter().find(|(k, _)| matches(k)) {
            if let Some(auth) = entry
                .get("auth")
                .and_then(|a| a.as_str())
                .filter(|a| !a.is_empty())
            {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| RegistryError::Credentials {
                        source_label: label.clone(),
                        detail: format!(
                            "the auth entry for {registry} is not base64 user:password"
                        ),
                    })?;
                let (user, pass) =
                    decoded
                        .split_once(':')
                        .ok_or_else(|| RegistryError::Credentials {
                            source_label: label.clone(),
                            detail: format!("the auth entry for {registry} has no ':'"),
                        })?;
                return Ok(Some(Credentials {
                    basic: Some((user.to_string(), Secret::new(pass))),
                    source: label,
                }));
            }
        }
    }
    if let Some(store) = cfg.get("credsStore").and_then(|s| s.as_str()) {
        return helper_get(store, registry).await;
    }
    Ok(None)
}

/// Runs `docker-credential-<helper> get` with the server on stdin. A missing
/// helper or "credentials not found" means anonymous, as in docker itself.
async fn helper_get(helper: &str, registry: &str) -> Result<Option<Credentials>, RegistryError> {
    let program = format!("docker-credential-{helper}");
    let child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(_) => return Ok(None),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(registry.as_bytes()).await;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| RegistryError::Credentials {
            source_label: program.clone(),
            detail: e.to_string(),
        })?;
    if !out.status.success() {
        return Ok(None);
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|_| RegistryError::Credentials {
            source_label: program.clone(),
            detail: "its output is not the expected JSON".to_string(),
        })?;
    let user = v.get("Username").and_then(|u| u.as_str()).unwrap_or("");
    let secret = v.get("Secret").and_then(|u| u.as_str()).unwrap_or("");
    if secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        basic: Some((user.to_string(), Secret::new(secret))),
        source: program,
    }))
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parses `Bearer realm="...",service="...",scope="..."` or `Basic realm=...`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    Some(Challenge::Bearer {
        realm: params.get("realm")?.clone(),
        service: params.get("service").cloned(),
    })
}

fn parse_params(s: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(c) if *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            val.push(n)
                        }
                    }
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                val.push(*c);
                chars.next();
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), val.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenge() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into())
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn normalizes_docker_config_keys() {
        assert_eq!(
            normalize_host("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(normalize_host("nvcr.io"), "nvcr.io");
        assert_eq!(normalize_host("http://localhost:5001"), "localhost:5001");
    }

    #[tokio::test]
    async fn reads_auths_and_prefers_ngc_key_for_nvcr_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:hunter22");
        std::fs::write(
            &path,
            format!(r#"{{"auths":{{"https://registry.example":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let src = CredentialSource {
            ngc_api_key: Some(Secret::new("nvapi-xyz")),
            ngc_registries: vec!["nvcr.io".into()],
            docker_config: Some(path.clone()),
        };
        let c = src.resolve("registry.example").await.unwrap();
        assert_eq!(c.basic.as_ref().unwrap().0, "bob");
        assert_eq!(c.secret().unwrap().expose(), "hunter22");
        assert!(!format!("{c:?}").contains("hunter22"));
        let n = src.resolve("nvcr.io").await.unwrap();
        assert_eq!(n.source, "NGC_API_KEY");
        assert_eq!(n.basic.as_ref().unwrap().0, NGC_USER);
        let a = src.resolve("localhost:5001").await.unwrap();
        assert_eq!(a.source, "anonymous");
    }
}
