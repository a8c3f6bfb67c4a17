//! Where registry credentials come from.
//!
//! Credentials are resolved per registry host and always carry a `source`
//! label ("NGC_API_KEY", the docker config path, "anonymous") so a 401/403
//! can say what was tried without printing it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use docker_credential::{CredentialRetrievalError as Lookup, DockerCredential};

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
        CredentialSource {
            ngc_api_key,
            ngc_registries: vec!["nvcr.io".to_string()],
            docker_config: docker_config_path(std::env::var_os("DOCKER_CONFIG").as_deref()),
        }
    }

    /// Resolves the credentials for `registry` (a host[:port]).
    pub async fn resolve(&self, registry: &str) -> Result<Credentials, RegistryError> {
        let ngc = self.ngc_registries.iter().any(|r| r == registry);
        if let Some(key) = self.ngc_api_key.as_ref().filter(|_| ngc) {
            return Ok(Credentials {
                basic: Some((NGC_USER.to_string(), key.clone())),
                source: "NGC_API_KEY".to_string(),
            });
        }
        let Some(path) = self.docker_config.clone() else {
            return Ok(Credentials::anonymous());
        };
        let label = display_path(&path);
        let host = registry.to_string();
        // A credential helper is a process the crate waits for synchronously.
        let found = tokio::task::spawn_blocking(move || lookup(&path, &host))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let fail = |detail: String| RegistryError::Credentials {
            source_label: label.clone(),
            detail,
        };
        // Never print a helper's output (HelperFailure's Display has it): it may hold the secret.
        match found {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::anonymous()),
            Err(e) => Err(fail(e.to_string())),
            Ok(Ok(DockerCredential::UsernamePassword(user, pass))) if !pass.is_empty() => {
                Ok(Credentials {
                    basic: Some((user, Secret::new(pass))),
                    source: label,
                })
            }
            // As in docker itself: a missing helper or one that knows nothing
            // of this registry means anonymous.
            Ok(Ok(DockerCredential::UsernamePassword(..)))
            | Ok(Err(
                Lookup::HelperFailure { .. }
                | Lookup::HelperCommunicationError
                | Lookup::NoCredentialConfigured,
            )) => Ok(Credentials::anonymous()),
            Ok(Ok(DockerCredential::IdentityToken(_))) => Err(fail(format!(
                "the entry for {registry} is an identity token, but nvcf-dev needs a user and password for that registry (run `docker login {registry}` with a password)"
            ))),
            Ok(Err(Lookup::ConfigReadError)) => Err(fail("not valid JSON".to_string())),
            Ok(Err(Lookup::CredentialDecodingError)) => Err(fail(format!(
                "the auth entry for {registry} is not base64 user:password"
            ))),
            Ok(Err(e)) => Err(fail(format!("{e} for {registry}"))),
        }
    }
}

/// `$DOCKER_CONFIG/config.json` (given the variable's value), else
/// `~/.docker/config.json`.
fn docker_config_path(docker_config_dir: Option<&OsStr>) -> Option<PathBuf> {
    match docker_config_dir {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir).join("config.json")),
        _ => dirs::home_dir().map(|h| h.join(".docker").join("config.json")),
    }
}

/// What the docker config at `path` says about `registry`, running the
/// credential helper it names, if any (a blocking call).
fn lookup(path: &Path, registry: &str) -> std::io::Result<Result<DockerCredential, Lookup>> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    Ok(docker_credential::get_credential_from_reader(
        file, registry,
    ))
}

/// Whether the docker config in `docker_config_dir` (else ~/.docker) names
/// credentials for `registry` (an auth entry, a helper or a store), read as
/// the mirror reads it: for doctor's check.
pub fn docker_config_has(docker_config_dir: Option<&OsStr>, registry: &str) -> bool {
    docker_config_path(docker_config_dir).is_some_and(|path| {
        !matches!(
            lookup(&path, registry),
            Err(_) | Ok(Err(Lookup::NoCredentialConfigured | Lookup::ConfigReadError))
        )
    })
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

    pub fn secret(&self) -> Option<&Secret> {
        self.basic.as_ref().map(|(_, p)| p)
    }
}

/// Shows `~` for the home directory so the label is short and stable.
fn display_path(path: &Path) -> String {
    match dirs::home_dir().and_then(|home| path.strip_prefix(home).ok().map(Path::to_path_buf)) {
        Some(rest) => format!("~/{}", rest.display()),
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

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

    #[tokio::test]
    async fn helpers_stores_and_broken_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let src = CredentialSource {
            docker_config: Some(path.clone()),
            ..CredentialSource::default()
        };
        let source = |r: &'static str| {
            let src = src.clone();
            async move { src.resolve(r).await.map(|c| c.source) }
        };
        // No file, no entry, or a helper that is not installed: anonymous.
        assert_eq!(source("nvcr.io").await.unwrap(), "anonymous");
        std::fs::write(
            &path,
            r#"{"auths":{"empty.example":{},"bad.example":{"auth":"bm9jb2xvbg=="},
                "tok.example":{"identitytoken":"tok-secret-1"}},
                "credHelpers":{"ghcr.io":"nvcf-dev-test-no-such-helper"}}"#,
        )
        .unwrap();
        for r in ["ghcr.io", "empty.example", "quay.io"] {
            assert_eq!(source(r).await.unwrap(), "anonymous", "{r}");
        }
        let err = source("bad.example").await.unwrap_err().to_string();
        assert!(
            err.contains("not base64 user:password") && err.contains("config.json"),
            "{err}"
        );
        let err = source("tok.example").await.unwrap_err().to_string();
        assert!(
            err.contains("needs a user and password") && !err.contains("tok-secret-1"),
            "{err}"
        );
        std::fs::write(&path, r#"{"credsStore":"nvcf-dev-test-no-such-store"}"#).unwrap();
        assert_eq!(source("quay.io").await.unwrap(), "anonymous");
        std::fs::write(&path, "{").unwrap();
        let err = source("quay.io").await.unwrap_err().to_string();
        assert!(err.contains("not valid JSON"), "{err}");
    }

    #[test]
    fn doctor_sees_what_the_config_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"eHg6eXk="}},
                "credHelpers":{"ghcr.io":"gh"}}"#,
        )
        .unwrap();
        let has = |r| docker_config_has(Some(dir.path().as_os_str()), r);
        assert!(has("docker.io") && has("index.docker.io") && has("ghcr.io"));
        assert!(!has("nvcr.io") && !has("ghcr"));
        let none = dir.path().join("none");
        assert!(!docker_config_has(Some(none.as_os_str()), "docker.io"));
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
