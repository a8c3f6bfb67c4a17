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
        let docker_config = DockerConfig::path(std::env::var_os("DOCKER_CONFIG").as_deref());
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
            if let Some(config) = DockerConfig::load(path)? {
                if let Some(c) = config.credentials(registry).await? {
                    return Ok(c);
                }
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

/// What a docker config says about one registry, in Docker's own order: a
/// per-host helper wins, then inline auths, then the default store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerConfigEntry {
    /// `credHelpers`: ask `docker-credential-<helper>`.
    Helper(String),
    /// `auths`: the base64 of `user:password`.
    Auth(String),
    /// `credsStore`: the helper for every registry without an entry of its own.
    Store(String),
}

/// A docker `config.json`: the one reader of it, for the copy's credentials
/// and for doctor's check alike.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    label: String,
    json: serde_json::Value,
}

impl DockerConfig {
    /// `$DOCKER_CONFIG/config.json` (given the variable's value), else
    /// `~/.docker/config.json`.
    pub fn path(docker_config_dir: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
        match docker_config_dir {
            Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir).join("config.json")),
            _ => dirs::home_dir().map(|h| h.join(".docker").join("config.json")),
        }
    }

    /// Reads and parses `path`; None when there is no such file.
    pub fn load(path: &Path) -> Result<Option<DockerConfig>, RegistryError> {
        let label = display_path(path);
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(RegistryError::Credentials {
                    source_label: label,
                    detail: e.to_string(),
                })
            }
        };
        let json = serde_json::from_str(&text).map_err(|e| RegistryError::Credentials {
            source_label: label.clone(),
            detail: format!("not valid JSON ({e})"),
        })?;
        Ok(Some(DockerConfig { label, json }))
    }

    /// The entry that holds `registry`'s (a host[:port]) credentials, if any.
    /// Keys may be URLs (`https://index.docker.io/v1/`); Docker Hub answers
    /// to docker.io and index.docker.io alike.
    pub fn entry(&self, registry: &str) -> Option<DockerConfigEntry> {
        let hub = |h: &str| h == "docker.io" || h == "index.docker.io";
        let matches = |key: &str| {
            let k = normalize_host(key);
            k == registry || (hub(k) && hub(registry))
        };
        let find = |section: &str| {
            self.json
                .get(section)
                .and_then(|m| m.as_object())
                .and_then(|m| m.iter().find(|(k, _)| matches(k)).map(|(_, v)| v))
        };
        if let Some(h) = find("credHelpers").and_then(|h| h.as_str()) {
            return Some(DockerConfigEntry::Helper(h.to_string()));
        }
        if let Some(auth) = find("auths")
            .and_then(|e| e.get("auth"))
            .and_then(|a| a.as_str())
            .filter(|a| !a.is_empty())
        {
            return Some(DockerConfigEntry::Auth(auth.trim().to_string()));
        }
        self.json
            .get("credsStore")
            .and_then(|s| s.as_str())
            .map(|s| DockerConfigEntry::Store(s.to_string()))
    }

    /// The credentials of `registry`, running a credential helper if the
    /// config names one.
    pub async fn credentials(&self, registry: &str) -> Result<Option<Credentials>, RegistryError> {
        match self.entry(registry) {
            None => Ok(None),
            Some(DockerConfigEntry::Helper(h) | DockerConfigEntry::Store(h)) => {
                helper_get(&h, registry).await
            }
            Some(DockerConfigEntry::Auth(auth)) => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(auth)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| RegistryError::Credentials {
                        source_label: self.label.clone(),
                        detail: format!(
                            "the auth entry for {registry} is not base64 user:password"
                        ),
                    })?;
                let (user, pass) =
                    decoded
                        .split_once(':')
                        .ok_or_else(|| RegistryError::Credentials {
                            source_label: self.label.clone(),
                            detail: format!("the auth entry for {registry} has no ':'"),
                        })?;
                Ok(Some(Credentials {
                    basic: Some((user.to_string(), Secret::new(pass))),
                    source: self.label.clone(),
                }))
            }
        }
    }
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

    #[test]
    fn one_reader_finds_docker_hub_urls_helpers_and_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("hub:pw");
        std::fs::write(
            &path,
            format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"ghcr.io":{{"auth":"eHg6eXk="}},"empty.example":{{}}}},
                    "credHelpers":{{"ghcr.io":"gh","registry.example:5000":"ecr-login"}}}}"#
            ),
        )
        .unwrap();
        let cfg = DockerConfig::load(&path).unwrap().unwrap();
        for hub in ["docker.io", "index.docker.io"] {
            assert_eq!(
                cfg.entry(hub),
                Some(DockerConfigEntry::Auth(auth.clone())),
                "{hub}"
            );
        }
        // A per-host helper wins over inline auths.
        assert_eq!(
            cfg.entry("ghcr.io"),
            Some(DockerConfigEntry::Helper("gh".into()))
        );
        assert_eq!(
            cfg.entry("registry.example:5000"),
            Some(DockerConfigEntry::Helper("ecr-login".into()))
        );
        assert_eq!(cfg.entry("registry.example"), None);
        assert_eq!(cfg.entry("empty.example"), None);
        assert_eq!(cfg.entry("nvcr.io"), None);

        std::fs::write(
            &path,
            r#"{"auths":{"nvcr.io":{"auth":"eHg6eXk="}},"credsStore":"desktop"}"#,
        )
        .unwrap();
        let cfg = DockerConfig::load(&path).unwrap().unwrap();
        assert_eq!(
            cfg.entry("nvcr.io"),
            Some(DockerConfigEntry::Auth("eHg6eXk=".into()))
        );
        assert_eq!(
            cfg.entry("quay.io"),
            Some(DockerConfigEntry::Store("desktop".into()))
        );

        assert!(DockerConfig::load(&dir.path().join("missing.json"))
            .unwrap()
            .is_none());
        std::fs::write(&path, "{").unwrap();
        assert!(DockerConfig::load(&path)
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
    }

    #[tokio::test]
    async fn docker_hub_credentials_from_a_url_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("hub:hunter33");
        std::fs::write(
            &path,
            format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let src = CredentialSource {
            docker_config: Some(path),
            ..CredentialSource::default()
        };
        for hub in ["docker.io", "index.docker.io"] {
            let c = src.resolve(hub).await.unwrap();
            assert_eq!(c.basic.as_ref().unwrap().0, "hub", "{hub}");
            assert_eq!(c.secret().unwrap().expose(), "hunter33");
        }
    }
}
