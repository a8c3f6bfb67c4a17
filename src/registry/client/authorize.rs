//! How requests to a registry are authorized, kept here because oci-client
//! 0.18 cannot do it right:
//!
//! - it learns a registry's scheme per repository and operation by probing
//!   `/v2/` before the request, and swallows a token error into an
//!   anonymous request; here the scheme is probed once per host, every
//!   request after it carries credentials, and a refused token says so;
//! - it caches an opaque token for a fixed time, ignoring the `expires_in`
//!   the token endpoint answered; here tokens are fetched with it and put
//!   into oci-client's cache with that lifetime;
//! - it never retries a 401; here a refused token is dropped and the
//!   operation retried (see [`RegistryError::TokenExpired`]).

use std::future::Future;
use std::time::{Duration, Instant};

use oci_client::errors::OciDistributionError;
use oci_client::token_cache::{RegistryToken, RegistryTokenType};
use oci_client::RegistryOperation;
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::StatusCode;

use super::{http_status, Registry, DEFAULT_TOKEN_SECS};
use crate::registry::RegistryError;
use crate::secret::Secret;

impl Registry {
    /// The registry's auth scheme, from one `GET /v2/` per host; concurrent
    /// first callers wait for that one answer.
    async fn scheme(&self) -> Result<&Option<Challenge>, RegistryError> {
        self.scheme
            .get_or_try_init(|| async {
                let resp = self
                    .http
                    .get(format!("{}/v2/", self.base))
                    .send()
                    .await
                    .map_err(|e| self.unreachable("checking the API", &e))?;
                if resp.status() != StatusCode::UNAUTHORIZED {
                    return Ok(None);
                }
                let challenge = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|h| h.to_str().ok())
                    .and_then(parse_challenge);
                Ok(Some(challenge.unwrap_or(Challenge::Basic)))
            })
            .await
    }

    /// Makes oci-client send credentials for `op` on `repo`'s next request.
    pub(super) async fn authorize(
        &self,
        repo: &str,
        op: RegistryOperation,
    ) -> Result<(), RegistryError> {
        let Some(scheme) = self.scheme().await? else {
            return Ok(());
        };
        let reference = self.reference(repo, "latest");
        let mut lapses = self.lapses.lock().await;
        let key = (repo.to_string(), op);
        if lapses.get(&key).is_some_and(|t| Instant::now() < *t) {
            return Ok(());
        }
        self.oci
            .store_auth_if_needed(reference.resolve_registry(), &self.oci_auth())
            .await;
        match scheme {
            Challenge::Basic => {
                // Seeded so oci-client does not probe /v2/ to learn it again.
                if let Some((user, pass)) = &self.creds.basic {
                    let basic = RegistryTokenType::Basic(user.clone(), pass.expose().to_string());
                    self.oci.tokens.insert(&reference, op, basic).await;
                }
                lapses.insert(key, Instant::now() + Duration::from_secs(365 * 86400));
            }
            Challenge::Bearer { realm, service } => {
                let actions = match op {
                    RegistryOperation::Pull => "pull",
                    RegistryOperation::Push => "pull,push",
                };
                let scope = format!("repository:{repo}:{actions}");
                let (token, lifetime) = self.fetch_token(realm, service.as_deref(), &scope).await?;
                // A copy of the cache shares its entries; only the lifetime
                // given to an opaque token differs (a JWT's `exp` still wins).
                let mut cache = self.oci.tokens.clone();
                // Whole seconds there, checked with `>`: cut short so the
                // cache lets go no later than the registry does.
                cache.default_expiration_secs = lifetime.mul_f64(0.9).as_secs().max(1) as usize;
                let token = RegistryToken::Token {
                    token: token.expose().to_string(),
                };
                cache
                    .insert(&reference, op, RegistryTokenType::Bearer(token))
                    .await;
                // Renewed a tenth early, so a request never leaves with a
                // token about to lapse.
                lapses.insert(key, Instant::now() + lifetime.mul_f64(0.9));
            }
        }
        Ok(())
    }

    /// Forgets `repo`'s token for `op` after the registry refused it; true
    /// when a new token may help (the registry issues tokens). Another task
    /// may have forgotten or renewed it already, so this never asks what
    /// was cached.
    pub(super) async fn forget(&self, repo: &str, op: RegistryOperation) -> bool {
        if !matches!(self.scheme().await, Ok(Some(Challenge::Bearer { .. }))) {
            return false;
        }
        self.lapses.lock().await.remove(&(repo.to_string(), op));
        true
    }

    async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<(Secret, Duration), RegistryError> {
        let what = "fetching a token";
        let mut req = self.http.get(realm).query(&[("scope", scope)]);
        if let Some(s) = service {
            req = req.query(&[("service", s)]);
        }
        if let Some((user, pass)) = &self.creds.basic {
            req = req.basic_auth(user, Some(pass.expose()));
        }
        let resp = req.send().await.map_err(|e| self.unreachable(what, &e))?;
        if !resp.status().is_success() {
            // Without the body: a token endpoint may echo request details.
            return Err(self.status_error(what, resp.status().as_u16(), String::new()));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let answer: Answer = resp
            .json()
            .await
            .map_err(|e| self.unreachable("reading the token", &e))?;
        let token = answer.token.or(answer.access_token).map(Secret::new);
        let no_token = || self.status_error(what, 200, "the answer has no token".into());
        let token = token.ok_or_else(no_token)?;
        let secs = answer.expires_in.unwrap_or(DEFAULT_TOKEN_SECS);
        Ok((token, Duration::from_secs(secs)))
    }

    /// Runs an oci-client call doing `what` with credentials for `op`; a
    /// refused token is replaced once.
    pub(super) async fn call<T, F, Fut>(
        &self,
        repo: &str,
        op: RegistryOperation,
        what: &str,
        f: F,
    ) -> Result<T, RegistryError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        self.authorize(repo, op).await?;
        let mut r = f().await;
        if r.as_ref().is_err_and(|e| http_status(e) == Some(401)) && self.forget(repo, op).await {
            self.authorize(repo, op).await?;
            r = f().await;
        }
        r.map_err(|e| self.error(what, e))
    }
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

/// Parses `Bearer realm="...",service="...",scope="..."` or `Basic realm=...`
/// with the parser oci-client itself uses.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let c = http_auth::parse_challenges(header)
        .ok()?
        .into_iter()
        .next()?;
    let param = |name: &str| {
        c.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_unescaped())
    };
    if c.scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic)
    } else if c.scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: param("realm")?,
            service: param("service"),
        })
    } else {
        None
    }
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
}
