//! Errors from Docker operations. One variant per operation, each message one
//! line saying what failed and what to do, because these reach the user as is.

use bollard::errors::Error as BollardError;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("cannot reach the Docker daemon at {host}: {source}; start Docker (`sudo systemctl start docker` or `dockerd`) or set DOCKER_HOST")]
    Connect {
        host: String,
        source: BollardError,
    },
    #[error("could not read the Docker daemon's version: {source}; check that Docker is healthy (`docker version`)")]
    Version {
        source: BollardError,
    },
    #[error("could not inspect image {image}: {source}; check that Docker is healthy (`docker image ls`)")]
    InspectImage {
        image: String,
        source: BollardError,
    },
    #[error("could not pull registry image {image}: {detail}; on an air-gapped host pass --registry-image with a local image")]
    PullImage { image: String, detail: String },
    #[error("could not inspect container {name}: {source}; check that Docker is healthy (`docker ps -a`)")]
    InspectContainer {
        name: String,
        source: BollardError,
    },
    #[error("container {name} does not exist; create it first (for kind nodes: `nvcf-dev up`)")]
    NoSuchContainer { name: String },
    #[error("a container named {name} (image {image}) exists but was not created by nvcf-dev, so it is left alone; remove it (`docker rm -f {name}`) or choose another registry name")]
    ForeignContainer { name: String, image: String },
    #[error("port {port} on 127.0.0.1 is already in use by {holder}; stop it or choose another registry port")]
    PortInUse { port: u16, holder: String },
    #[error("could not list containers: {source}; check that Docker is healthy (`docker ps`)")]
    ListContainers {
        source: BollardError,
    },
    #[error("could not inspect volume {volume}: {source}; check that Docker is healthy (`docker volume ls`)")]
    InspectVolume {
        volume: String,
        source: BollardError,
    },
    #[error(
        "could not create volume {volume}: {source}; check free disk space and `docker volume ls`"
    )]
    CreateVolume {
        volume: String,
        source: BollardError,
    },
    #[error("could not remove volume {volume}: {source}; if another container uses it, remove that container first (`docker ps -a --filter volume={volume}`)")]
    RemoveVolume {
        volume: String,
        source: BollardError,
    },
    #[error("could not create container {name} from {image}: {source}; check `docker ps -a` and the daemon log")]
    CreateContainer {
        name: String,
        image: String,
        source: BollardError,
    },
    #[error("could not start container {name}: {source}; see `docker logs {name}`")]
    StartContainer {
        name: String,
        source: BollardError,
    },
    #[error("could not remove container {name}: {source}; try `docker rm -f {name}`")]
    RemoveContainer {
        name: String,
        source: BollardError,
    },
    #[error("registry container {name} did not answer on 127.0.0.1:{port} within {waited_secs}s ({detail}); see `docker logs {name}`")]
    RegistryNotReady {
        name: String,
        port: u16,
        waited_secs: u64,
        detail: String,
    },
    #[error("could not connect container {container} to network {network}: {source}; check that both exist (`docker network ls`, `docker ps -a`)")]
    ConnectNetwork {
        container: String,
        network: String,
        source: BollardError,
    },
    #[error("cannot write {path} into container {container}: {reason}")]
    InvalidPath {
        container: String,
        path: String,
        reason: String,
    },
    #[error("could not write {path} into container {container}: {detail}; check that the container exists (`docker ps -a`) and the path's parent is a directory")]
    WriteFile {
        container: String,
        path: String,
        detail: String,
    },
}

/// True when Docker answered 404: the thing asked about does not exist.
pub(crate) fn is_not_found(e: &BollardError) -> bool {
    matches!(
        e,
        BollardError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// `Ok(None)` when Docker answered 404, so callers handle "absent" as a value.
pub(crate) fn unless_absent<T>(r: Result<T, BollardError>) -> Result<Option<T>, BollardError> {
    match r {
        Err(e) if is_not_found(&e) => Ok(None),
        r => r.map(Some),
    }
}

pub(crate) use crate::ui::one_line;
