//! The OCI copy engine: mirrors charts and images between registries.
//!
//! Registry to registry over the distribution API, with no Docker daemon in
//! the path: manifests are copied as their exact bytes (so digests survive),
//! blobs are streamed from a GET into a PUT while their sha256 is checked,
//! and nothing is pushed that does not verify. See [`Mirror`].

pub mod auth;
pub mod client;
pub mod copy;
pub mod discover;
pub mod progress;
pub(crate) mod reference;

pub use auth::{CredentialSource, Credentials};
pub use copy::{CopyJob, CopyOptions, ImageFailure, Mirror, Platform, Summary};
// ImageOutcome: for the tests' own ProgressSink.
#[cfg_attr(nvcf_dead_code, allow(unused_imports))]
pub use progress::ImageOutcome;
pub use progress::{NoProgress, ProgressSink, ShellProgress};

/// Why a copy failed. Each message is one line that says what failed and what
/// to do; none ever contains a credential.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid image reference {reference:?}: {reason}; use registry/repository:tag or registry/repository@sha256:<digest>")]
    InvalidReference { reference: String, reason: String },
    #[error(
        "cannot read registry credentials from {source_label}: {detail}; fix or remove that entry"
    )]
    Credentials {
        source_label: String,
        detail: String,
    },
    #[error("cannot reach registry {registry} ({detail}); check that it is running and reachable, then run again")]
    Unreachable { registry: String, detail: String },
    #[error("registry {registry} refused access (HTTP {status}) with credentials from {cred_source}; set NGC_API_KEY or `docker login {registry}` with an account that can read/write it")]
    Auth {
        registry: String,
        status: u16,
        cred_source: String,
    },
    /// Retried: the token may have lapsed mid-upload; if it stays refused,
    /// the credentials may lack push rights.
    #[error("registry {registry} refused its token (HTTP 401) for credentials from {cred_source}: it lapsed during the upload, or they may not write there; run again, and if it persists set NGC_API_KEY or `docker login {registry}` with an account that can write it")]
    TokenExpired {
        registry: String,
        cred_source: String,
    },
    #[error("cannot set up a client for registry {registry} ({detail}); check the TLS and proxy settings of this machine")]
    Client { registry: String, detail: String },
    #[error("{what} at registry {registry} failed: {detail}; run again, or check the registry's logs if it persists")]
    Protocol {
        registry: String,
        what: String,
        detail: String,
    },
    #[error("{what} at registry {registry} failed with HTTP {status}{}{detail}; run again, or check the registry's logs if it persists", if detail.is_empty() { "" } else { ": " })]
    Http {
        registry: String,
        what: String,
        status: u16,
        detail: String,
    },
    #[error("image {image} not found in registry {registry}; check the repository and tag (and that your credentials can see it)")]
    NotFound { image: String, registry: String },
    #[error("image {image} has no manifest for platform {platform} (it has: {available}); pick one of those or copy the whole index")]
    PlatformNotFound {
        image: String,
        platform: String,
        available: String,
    },
    #[error("image {image} has an unusable manifest ({detail}); only OCI and Docker v2 schema 2 manifests and indexes are supported")]
    BadManifest { image: String, detail: String },
    #[error("blob {digest} of image {image} failed verification (the bytes served hash to {actual}); it was not pushed, nor any manifest that references it; run again, and report the source registry if it persists")]
    DigestMismatch {
        image: String,
        digest: String,
        actual: String,
    },
    #[error("copying {image}: {source}")]
    Image {
        image: String,
        source: Box<RegistryError>,
    },
    #[error("{} of {} images failed to copy: {}; fix those and run again (completed images are kept)", failures.len(), summary.images + failures.len(), failures.iter().map(|f| format!("{}: {}", f.image, f.error)).collect::<Vec<_>>().join(" | "))]
    Failed {
        failures: Vec<ImageFailure>,
        summary: Box<Summary>,
    },
}

impl RegistryError {
    /// Worth retrying: the network or the registry hiccupped (5xx, 429,
    /// connection reset, timeout), as opposed to a definite answer.
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Unreachable { .. } | RegistryError::TokenExpired { .. } => true,
            RegistryError::Http { status, .. } => {
                *status >= 500 || *status == 429 || *status == 408
            }
            RegistryError::Image { source, .. } => source.is_transient(),
            _ => false,
        }
    }

    /// Adds the image name unless the message already has it.
    pub(crate) fn for_image(self, image: &str) -> RegistryError {
        match self {
            e @ (RegistryError::NotFound { .. }
            | RegistryError::PlatformNotFound { .. }
            | RegistryError::BadManifest { .. }
            | RegistryError::DigestMismatch { .. }
            | RegistryError::Image { .. }
            | RegistryError::Failed { .. }) => e,
            e => RegistryError::Image {
                image: image.to_string(),
                source: Box::new(e),
            },
        }
    }
}

/// The mirror name of `source` in `registry`: only the registry changes, the
/// repository path, tag and digest stay
/// (`nvcr.io/org/team/nats-server:2.10` -> `localhost:5001/org/team/nats-server:2.10`).
pub fn destination_for(source: &str, registry: &str) -> Result<String, RegistryError> {
    let r = parse_reference(source)?;
    let path = &r.whole()[r.registry().len()..];
    Ok(format!("{}{path}", registry.trim_end_matches('/')))
}

/// Every tag of `repository` in `registry` (host[:port]; plain HTTP for
/// loopback hosts), all pages, with the credentials `creds` gives that host.
/// A repository the registry does not have is [`RegistryError::NotFound`].
pub async fn list_tags(
    creds: &CredentialSource,
    registry: &str,
    repository: &str,
) -> Result<Vec<String>, RegistryError> {
    let c = creds.resolve(registry).await?;
    client::Registry::connect(registry, c, &[])?
        .list_tags(repository, None)
        .await
}

/// The release tags of `tags` (strict `MAJOR.MINOR.PATCH`), lowest first by
/// semver precedence. Tags that are not semver, and pre-releases
/// (`1.0.0-rc.1`), are left out, as helm leaves them out without `--devel`;
/// build metadata (`+x`, or `_x` as OCI tags spell it) is ignored for ordering.
pub fn release_versions(tags: &[String]) -> Vec<String> {
    let release = |tag: &str| {
        let v = semver::Version::parse(tag.split(['+', '_']).next()?).ok()?;
        v.pre.is_empty().then_some((v.major, v.minor, v.patch))
    };
    let mut versions: Vec<_> = tags
        .iter()
        .filter_map(|t| release(t).map(|v| (v, t)))
        .collect();
    versions.sort();
    versions.into_iter().map(|(_, t)| t.clone()).collect()
}

pub(crate) fn parse_reference(s: &str) -> Result<oci_client::Reference, RegistryError> {
    reference::parse(s).map_err(|reason| RegistryError::InvalidReference {
        reference: s.to_string(),
        reason: reason.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_keeps_path_tag_and_digest() {
        assert_eq!(
            destination_for("nvcr.io/org/team/nats-server:2.10", "localhost:5001").unwrap(),
            "localhost:5001/org/team/nats-server:2.10"
        );
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            destination_for(&format!("nvcr.io/a/b@{d}"), "127.0.0.1:5000/").unwrap(),
            format!("127.0.0.1:5000/a/b@{d}")
        );
        assert_eq!(
            destination_for("nvcr.io/a/b", "localhost:5001").unwrap(),
            "localhost:5001/a/b:latest"
        );
        assert!(destination_for("Not A Ref", "localhost:5001").is_err());
    }

    #[test]
    fn the_highest_release_skips_what_is_not_a_release() {
        let highest_semver = |v: &[&str]| {
            let tags: Vec<_> = v.iter().map(|s| s.to_string()).collect();
            release_versions(&tags).pop()
        };
        assert_eq!(
            highest_semver(&["0.7.1", "0.8.0", "0.10.0", "latest", "0.9.0"]),
            Some("0.10.0".into())
        );
        assert_eq!(
            highest_semver(&["1.2.3", "2.0.0-rc.1", "v3.0.0", "1.2", "01.0.0"]),
            Some("1.2.3".into())
        );
        assert_eq!(
            highest_semver(&["1.0.0_build.5", "0.9.9"]),
            Some("1.0.0_build.5".into())
        );
        assert_eq!(highest_semver(&["latest", "main"]), None);
        assert_eq!(highest_semver(&[]), None);
    }

    #[test]
    fn transient_errors_are_5xx_and_network() {
        let e = RegistryError::Http {
            registry: "r".into(),
            what: "x".into(),
            status: 503,
            detail: String::new(),
        };
        assert!(e.is_transient());
        assert!(e.for_image("i").is_transient());
        let e = RegistryError::NotFound {
            image: "i".into(),
            registry: "r".into(),
        };
        assert!(!e.is_transient());
    }
}
