//! Errors from Docker operations: each message one line saying what failed
//! and what to do, because these reach the user as is.

use bollard::errors::Error as BollardError;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker daemon at {host}: {source}; start Docker (`sudo systemctl start docker` or `dockerd`) or set DOCKER_HOST")]
    Connect { host: String, source: BollardError },
    /// A Docker API call that failed: what it was for, and what to check.
    #[error("could not {action}: {source}; {advice}")]
    Api {
        action: String,
        source: BollardError,
        advice: String,
    },
    #[error("could not pull registry image {image}: {detail}; on an air-gapped host pass --registry-image with a local image")]
    PullImage { image: String, detail: String },
    #[error("container {name} does not exist; create it first (for kind nodes: `nvcf-dev up`)")]
    NoSuchContainer { name: String },
    #[error("a container named {name} (image {image}) exists but was not created by nvcf-dev, so it is left alone; remove it (`docker rm -f {name}`) or choose another registry name")]
    ForeignContainer { name: String, image: String },
    #[error("port {port} on 127.0.0.1 is already in use by {holder}; stop it or choose another registry port")]
    PortInUse { port: u16, holder: String },
    #[error("registry container {name} did not answer on 127.0.0.1:{port} within {waited_secs}s ({detail}); see `docker logs {name}`")]
    RegistryNotReady {
        name: String,
        port: u16,
        waited_secs: u64,
        detail: String,
    },
    #[error("cannot write {path} into container {container}: {detail}")]
    WriteFile {
        container: String,
        path: String,
        detail: String,
    },
}

/// `Ok(None)` when Docker answered 404 (the thing asked about does not
/// exist), so callers handle "absent" as a value.
pub(crate) fn unless_absent<T>(r: Result<T, BollardError>) -> Result<Option<T>, BollardError> {
    match r {
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        r => r.map(Some),
    }
}

/// Maps a failed Docker call to [`DockerError::Api`].
pub(crate) fn failed(
    action: String,
    advice: impl Into<String>,
) -> impl FnOnce(BollardError) -> DockerError {
    move |source| DockerError::Api {
        action,
        source,
        advice: advice.into(),
    }
}

/// [`failed`] for a read whose advice is to check Docker's health with `check`.
pub(crate) fn read_failed(action: String, check: &str) -> impl FnOnce(BollardError) -> DockerError {
    failed(action, format!("check that Docker is healthy (`{check}`)"))
}
