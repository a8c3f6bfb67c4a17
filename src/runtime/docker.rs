//! The bollard-backed [`Runtime`]: observes Docker, asks
//! [`super::plan_registry`] what to do, and does it.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum as State,
    ContainerSummary, ContainerSummaryStateEnum, HostConfig, Mount, MountType,
    NetworkConnectRequest, PortBinding, RestartPolicy, RestartPolicyNameEnum, Volume,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, CreateImageOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::{body_full, Docker};
use futures::StreamExt;

use super::error::{failed, read_failed, unless_absent};
use super::{
    is_owned, DockerError, ObservedContainer, PortHolder, RegistryAction, RegistrySpec,
    DEFAULT_REGISTRY_VOLUME, KIND_CLUSTER_LABEL, REGISTRY_BIND_IP, REGISTRY_CONTAINER_PORT,
    REGISTRY_DATA_DIR,
};
use crate::ui::{describe_error, one_line};

/// How long to wait for a new registry to answer `GET /v2/`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long connecting to the daemon may take before we call it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to the Docker daemon.
#[derive(Debug, Clone)]
pub struct Runtime {
    docker: Docker,
}

impl Runtime {
    /// Connect to the daemon named by DOCKER_HOST (or the default socket),
    /// agree on an API version, and ping, so a stopped daemon is reported
    /// here and not on the first real operation.
    pub async fn connect() -> Result<Runtime, DockerError> {
        // Where bollard connects, for error messages (bollard's own default
        // is not exported).
        let host = std::env::var("DOCKER_HOST")
            .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
        let connect_err = |source| DockerError::Connect {
            host: host.clone(),
            source,
        };
        let docker = Docker::connect_with_defaults().map_err(connect_err)?;
        // A daemon behind an unreachable DOCKER_HOST would otherwise hang for
        // bollard's two-minute request timeout.
        let handshake = async {
            // The daemon here may speak an older API (20.10 is 1.41) than
            // bollard defaults to; without negotiating, requests are rejected.
            let docker = docker.negotiate_version().await?;
            docker.ping().await?;
            Ok(docker)
        };
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, handshake)
            .await
            .unwrap_or(Err(BollardError::RequestTimeoutError))
            .map_err(connect_err)?;
        Ok(Runtime { docker })
    }

    /// The daemon's version and API version, e.g. `20.10.24 (API 1.41)`.
    pub async fn server_version(&self) -> Result<String, DockerError> {
        let v = self.docker.version().await.map_err(read_failed(
            "read the Docker daemon's version".into(),
            "docker version",
        ))?;
        let version = v.version.unwrap_or_else(|| "unknown".to_string());
        Ok(match v.api_version {
            Some(api) => format!("{version} (API {api})"),
            None => version,
        })
    }

    /// Make the local registry exist, match `spec`, run and answer HTTP;
    /// returns what that took.
    ///
    /// Never touches a container that is not ours, nor anything holding the
    /// port: those are errors that say what to do.
    pub async fn ensure_registry(
        &self,
        spec: &RegistrySpec,
    ) -> Result<RegistryAction, DockerError> {
        // Two `up`s racing can both decide to create; the loser re-plans once.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let existing = self.container(&spec.name).await?;
            let action = super::plan_registry(existing.as_ref(), spec)?;
            tracing::debug!(?action, registry = %spec.name, "registry plan");
            match &action {
                RegistryAction::Reuse => {}
                RegistryAction::Start => {
                    self.check_port(spec).await?;
                    self.start(&spec.name).await?;
                }
                RegistryAction::Create | RegistryAction::Recreate { .. } => {
                    // Check everything that can fail before removing the old one.
                    self.check_port(spec).await?;
                    self.ensure_image(&spec.image).await?;
                    self.ensure_volume(spec).await?;
                    if let RegistryAction::Recreate { reason } = &action {
                        tracing::info!(registry = %spec.name, %reason, "recreating the registry");
                        self.remove_container(&spec.name).await?;
                    }
                    match self.create_registry(spec).await {
                        Err(BollardError::DockerResponseServerError {
                            status_code: 409, ..
                        }) if attempts < 2 => continue,
                        created => created.map_err(failed(
                            format!("create container {} from {}", spec.name, spec.image),
                            "check `docker ps -a` and the daemon log",
                        ))?,
                    }
                    self.start(&spec.name).await?;
                }
            }
            self.wait_ready(spec).await?;
            return Ok(action);
        }
    }

    /// Remove the registry container if it is ours, and with `purge_volume`
    /// its data volume if that is ours too. Returns whether anything was
    /// removed.
    pub async fn remove_registry(
        &self,
        spec: &RegistrySpec,
        purge_volume: bool,
    ) -> Result<bool, DockerError> {
        let mut removed = false;
        if let Some(c) = self.container(&spec.name).await? {
            if !c.is_ours() {
                return Err(DockerError::ForeignContainer {
                    name: spec.name.clone(),
                    image: c.image,
                });
            }
            self.remove_container(&spec.name).await?;
            removed = true;
        }
        if purge_volume {
            removed |= self.remove_volume_if_ours(&spec.volume).await?;
        }
        Ok(removed)
    }

    /// Who holds `port` on the host: a running container publishing it (ours
    /// or not), some other process, or nobody.
    pub async fn port_holder(&self, port: u16) -> Result<PortHolder, DockerError> {
        let running = self
            .list_containers(ListContainersOptionsBuilder::new().all(false))
            .await?;
        let publisher = running.into_iter().find(|c| {
            c.ports
                .iter()
                .flatten()
                .any(|p| p.public_port == Some(port))
        });
        if let Some(c) = publisher {
            let name = c.names.into_iter().flatten().next();
            let name = name.map(|n| n.trim_start_matches('/').to_string());
            let name = name.or(c.id).unwrap_or_default();
            let ours = is_owned(c.labels.as_ref());
            return Ok(PortHolder::Container { name, ours });
        }
        // Not a container of this daemon: try to bind it ourselves.
        match std::net::TcpListener::bind((REGISTRY_BIND_IP, port)) {
            Ok(_) => Ok(PortHolder::Free),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(PortHolder::Process),
            // e.g. a privileged port: not held by anyone we could name.
            Err(_) => Ok(PortHolder::Free),
        }
    }

    /// Attach `container` to `network`. Already attached is fine, so callers
    /// can run this on every `up`.
    pub async fn connect_network(&self, container: &str, network: &str) -> Result<(), DockerError> {
        let attached = self.existing(container).await?.networks;
        if attached.iter().any(|n| n == network) {
            return Ok(());
        }
        let req = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: None,
        };
        match self.docker.connect_network(network, req).await {
            Ok(()) => Ok(()),
            // Lost a race with another connect: the end state is what we want.
            Err(BollardError::DockerResponseServerError {
                status_code: 403 | 409,
                message,
            }) if message.contains("already exists") => Ok(()),
            Err(e) => Err(failed(
                format!("connect container {container} to network {network}"),
                "check that both exist (`docker network ls`, `docker ps -a`)",
            )(e)),
        }
    }

    /// The node containers of kind cluster `cluster`, sorted by name, and
    /// whether each runs.
    pub async fn kind_nodes(&self, cluster: &str) -> Result<Vec<(String, bool)>, DockerError> {
        let filters = HashMap::from([("label", vec![format!("{KIND_CLUSTER_LABEL}={cluster}")])]);
        let opts = ListContainersOptionsBuilder::new().all(true);
        let list = self.list_containers(opts.filters(&filters)).await?;
        let mut nodes: Vec<(String, bool)> = list
            .into_iter()
            .filter_map(|c| {
                let name = c.names?.into_iter().next()?;
                let running = c.state == Some(ContainerSummaryStateEnum::RUNNING);
                Some((name.trim_start_matches('/').to_string(), running))
            })
            .collect();
        nodes.sort();
        Ok(nodes)
    }

    /// Write `contents` to the absolute `path` inside `container` (mode 0644,
    /// owned by root), creating missing parent directories. Uses the archive
    /// API, so it needs nothing inside the container (no shell, no `cat`).
    pub async fn write_file(
        &self,
        container: &str,
        path: &str,
        contents: &[u8],
    ) -> Result<(), DockerError> {
        let failed = |detail: String| DockerError::WriteFile {
            container: container.to_string(),
            path: path.to_string(),
            detail,
        };
        let file = split_abs_path(path).map_err(failed)?.join("/");
        self.existing(container).await?;
        let mtime = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let tar = tar_file(&file, contents, mtime).map_err(failed)?;
        // Docker creates missing parents (0755, root) as it unpacks at `/`,
        // and leaves existing directories' owner and mode alone.
        let opts = UploadToContainerOptionsBuilder::new().path("/").build();
        let docker = &self.docker;
        let upload = docker.upload_to_container(container, Some(opts), body_full(tar.into()));
        let advice =
            "check that the container exists (`docker ps -a`) and the path's parent is a directory";
        upload
            .await
            .map_err(|e| failed(format!("{}; {advice}", one_line(&e))))
    }

    /// Whether a volume named `name` exists.
    pub async fn volume_exists(&self, name: &str) -> Result<bool, DockerError> {
        Ok(self.inspect_volume(name).await?.is_some())
    }

    async fn inspect_volume(&self, name: &str) -> Result<Option<Volume>, DockerError> {
        let volume = unless_absent(self.docker.inspect_volume(name).await);
        let failed = read_failed(format!("inspect volume {name}"), "docker volume ls");
        volume.map_err(failed)
    }

    // ---- helpers -------------------------------------------------------

    /// The container `name` as `docker inspect` shows it; `None` when absent.
    pub async fn container(&self, name: &str) -> Result<Option<ObservedContainer>, DockerError> {
        let c = unless_absent(self.docker.inspect_container(name, None).await);
        let failed = read_failed(format!("inspect container {name}"), "docker ps -a");
        Ok(c.map_err(failed)?.map(observed))
    }

    async fn list_containers(
        &self,
        opts: ListContainersOptionsBuilder,
    ) -> Result<Vec<ContainerSummary>, DockerError> {
        let list = self.docker.list_containers(Some(opts.build())).await;
        list.map_err(read_failed("list containers".into(), "docker ps"))
    }

    /// The container `name`, which must exist.
    async fn existing(&self, name: &str) -> Result<ObservedContainer, DockerError> {
        let found = self.container(name).await?;
        found.ok_or_else(|| DockerError::NoSuchContainer { name: name.into() })
    }

    async fn check_port(&self, spec: &RegistrySpec) -> Result<(), DockerError> {
        let holder = self.port_holder(spec.host_port).await?;
        match super::port_conflict(&holder, spec) {
            None => Ok(()),
            Some(holder) => Err(DockerError::PortInUse {
                port: spec.host_port,
                holder,
            }),
        }
    }

    /// Pull the image only when it is not already local, so air-gapped hosts
    /// work with a pre-loaded image.
    async fn ensure_image(&self, image: &str) -> Result<(), DockerError> {
        let local = unless_absent(self.docker.inspect_image(image).await);
        let failed = read_failed(format!("inspect image {image}"), "docker image ls");
        if local.map_err(failed)?.is_some() {
            return Ok(());
        }
        tracing::info!(%image, "pulling the registry image");
        let (from, tag) = super::split_image_ref(image);
        let mut opts = CreateImageOptionsBuilder::new().from_image(&from);
        if !tag.is_empty() {
            opts = opts.tag(&tag);
        }
        let pull_err = |detail: String| DockerError::PullImage {
            image: image.to_string(),
            detail,
        };
        let mut stream = self.docker.create_image(Some(opts.build()), None, None);
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| pull_err(one_line(&e)))?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(pull_err(one_line(&detail)));
            }
        }
        Ok(())
    }

    async fn ensure_volume(&self, spec: &RegistrySpec) -> Result<(), DockerError> {
        if self.volume_exists(&spec.volume).await? {
            return Ok(());
        }
        let req = VolumeCreateRequest {
            name: Some(spec.volume.clone()),
            labels: Some(spec.volume_labels()),
            ..Default::default()
        };
        let created = self.docker.create_volume(req).await;
        created.map(drop).map_err(failed(
            format!("create volume {}", spec.volume),
            "check free disk space and `docker volume ls`",
        ))
    }

    async fn remove_volume_if_ours(&self, name: &str) -> Result<bool, DockerError> {
        let Some(v) = self.inspect_volume(name).await? else {
            return Ok(false);
        };
        if !is_owned(Some(&v.labels)) && v.name != DEFAULT_REGISTRY_VOLUME {
            tracing::warn!(volume = %name, "keeping volume {name}: it was not created by nvcf-dev");
            return Ok(false);
        }
        let opts = RemoveVolumeOptionsBuilder::new().build();
        let removed = self.docker.remove_volume(name, Some(opts)).await;
        let removed = unless_absent(removed).map_err(failed(
            format!("remove volume {name}"),
            format!("if another container uses it, remove that container first (`docker ps -a --filter volume={name}`)"),
        ))?;
        Ok(removed.is_some())
    }

    async fn create_registry(&self, spec: &RegistrySpec) -> Result<(), BollardError> {
        let port = format!("{REGISTRY_CONTAINER_PORT}/tcp");
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            labels: Some(spec.container_labels()),
            exposed_ports: Some(vec![port.clone()]),
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([(
                    port,
                    Some(vec![PortBinding {
                        host_ip: Some(REGISTRY_BIND_IP.to_string()),
                        host_port: Some(spec.host_port.to_string()),
                    }]),
                )])),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::ALWAYS),
                    maximum_retry_count: None,
                }),
                mounts: Some(vec![Mount {
                    typ: Some(MountType::VOLUME),
                    source: Some(spec.volume.clone()),
                    target: Some(REGISTRY_DATA_DIR.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::new().name(&spec.name);
        let created = self.docker.create_container(Some(opts.build()), body);
        created.await.map(drop)
    }

    async fn start(&self, name: &str) -> Result<(), DockerError> {
        match self.docker.start_container(name, None).await {
            // 304: already started, e.g. by the restart policy meanwhile.
            Err(BollardError::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            other => other.map_err(failed(
                format!("start container {name}"),
                format!("see `docker logs {name}`"),
            )),
        }
    }

    async fn remove_container(&self, name: &str) -> Result<(), DockerError> {
        let opts = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(false)
            .build();
        let removed = unless_absent(self.docker.remove_container(name, Some(opts)).await);
        removed.map(drop).map_err(failed(
            format!("remove container {name}"),
            format!("try `docker rm -f {name}`"),
        ))
    }

    /// Poll until the container runs and the registry answers `GET /v2/` on
    /// the host port, so callers can push right away.
    async fn wait_ready(&self, spec: &RegistrySpec) -> Result<(), DockerError> {
        let start = Instant::now();
        let not_ready = |detail: String| DockerError::RegistryNotReady {
            name: spec.name.clone(),
            port: spec.host_port,
            waited_secs: start.elapsed().as_secs(),
            detail,
        };
        loop {
            let Some(c) = self.container(&spec.name).await? else {
                return Err(not_ready("the container disappeared".into()));
            };
            let last = match c.state {
                Some(State::RUNNING | State::RESTARTING) => match probe_v2(spec.host_port).await {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                },
                Some(State::CREATED | State::EXITED | State::DEAD) => {
                    return Err(not_ready("the container exited".into()))
                }
                Some(other) => format!("the container is {other}"),
                None => "the container's state is unknown".into(),
            };
            if start.elapsed() >= READY_TIMEOUT {
                return Err(not_ready(last));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// One `GET /v2/`; 200 or 401 means a registry answers.
async fn probe_v2(port: u16) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| describe_error(&e))?;
    let url = format!("http://{REGISTRY_BIND_IP}:{port}/v2/");
    let status = client
        .get(url)
        .send()
        .await
        .map_err(|e| describe_error(&e))?
        .status();
    match status.as_u16() {
        200 | 401 => Ok(()),
        _ => Err(format!("unexpected answer {status}")),
    }
}

/// The tar archive Docker's archive API takes, holding `file` (mode 0644,
/// owned by root) at its path relative to the upload target.
fn tar_file(file: &str, contents: &[u8], mtime: u64) -> Result<Vec<u8>, String> {
    let write_err = |e: std::io::Error| format!("cannot build the archive: {e}");
    let mut h = tar::Header::new_ustar();
    // ustar keeps names up to 100 bytes, plus a 155-byte prefix split at a `/`.
    h.set_path(file).map_err(|_| {
        format!("path {file} is too long for a tar archive (limit about 255 bytes)")
    })?;
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(contents.len() as u64);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_username("root")
        .and_then(|_| h.set_groupname("root"))
        .map_err(write_err)?;
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, contents).map_err(write_err)?;
    b.into_inner().map_err(write_err)
}

/// `/a/b/c` -> `["a", "b", "c"]`, refusing what the archive API would
/// misinterpret.
fn split_abs_path(path: &str) -> Result<Vec<&str>, String> {
    if !path.starts_with('/') {
        return Err("the path must be absolute; pass a path starting with /".to_string());
    }
    if path.ends_with('/') {
        return Err("the path names a directory; pass a file path".to_string());
    }
    // Not empty: the path has a character after its last '/'.
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err("the path must not contain . or .. components".to_string());
    }
    Ok(parts)
}

/// Reduce `docker inspect` output to what the plan needs.
fn observed(c: ContainerInspectResponse) -> ObservedContainer {
    let config = c.config.unwrap_or_default();
    let host = c.host_config.unwrap_or_default();
    let registry_port = format!("{REGISTRY_CONTAINER_PORT}/tcp");
    let binding = host
        .port_bindings
        .and_then(|mut ports| ports.remove(&registry_port).flatten())
        .and_then(|bindings| bindings.into_iter().next());
    // One mount per destination: the volume there is the data volume.
    let data_volume = c.mounts.into_iter().flatten().find(|m| {
        m.typ.as_deref() == Some("volume") && m.destination.as_deref() == Some(REGISTRY_DATA_DIR)
    });
    let mut networks: Vec<String> = c
        .network_settings
        .and_then(|n| n.networks)
        .map(|n| n.into_keys().collect())
        .unwrap_or_default();
    networks.sort();
    ObservedContainer {
        image: config.image.unwrap_or_default(),
        state: c.state.and_then(|s| s.status),
        labels: config.labels.unwrap_or_default(),
        published: binding.map(|b| {
            let port = b.host_port.and_then(|p| p.parse().ok());
            (b.host_ip.unwrap_or_default(), port)
        }),
        data_volume: data_volume.and_then(|m| m.name),
        restart_policy: host
            .restart_policy
            .and_then(|r| r.name)
            .map(|n| n.to_string())
            .unwrap_or_default(),
        networks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::plan_registry;
    use bollard::models::{ContainerConfig, ContainerState, MountPoint, NetworkSettings};

    #[test]
    fn absolute_paths_are_split_and_bad_ones_refused() {
        assert_eq!(
            split_abs_path("/etc/containerd/certs.d/localhost:5001/hosts.toml").unwrap(),
            vec![
                "etc",
                "containerd",
                "certs.d",
                "localhost:5001",
                "hosts.toml"
            ]
        );
        assert_eq!(split_abs_path("//a//b").unwrap(), vec!["a", "b"]);
        assert!(split_abs_path("etc/x").is_err());
        assert!(split_abs_path("/etc/").is_err());
        assert!(split_abs_path("/").is_err());
        assert!(split_abs_path("/etc/../x").is_err());
    }

    #[test]
    fn inspect_output_is_reduced_to_the_plan_fields() {
        let spec = crate::runtime::tests::spec();
        let c = ContainerInspectResponse {
            id: Some("abc".into()),
            name: Some("/nvcf-dev-registry".into()),
            state: Some(ContainerState {
                status: Some(State::EXITED),
                ..Default::default()
            }),
            config: Some(ContainerConfig {
                image: Some("registry:3".into()),
                labels: Some(spec.container_labels()),
                ..Default::default()
            }),
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([(
                    "5000/tcp".to_string(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".into()),
                        host_port: Some("5001".into()),
                    }]),
                )])),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::ALWAYS),
                    maximum_retry_count: Some(0),
                }),
                ..Default::default()
            }),
            mounts: Some(vec![MountPoint {
                typ: Some("volume".into()),
                name: Some("nvcf-dev-registry-data".into()),
                destination: Some("/var/lib/registry".into()),
                ..Default::default()
            }]),
            network_settings: Some(NetworkSettings {
                networks: Some(HashMap::from([
                    ("kind".to_string(), Default::default()),
                    ("bridge".to_string(), Default::default()),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        };
        let o = observed(c);
        assert_eq!(o.state, Some(State::EXITED));
        assert_eq!(o.restart_policy, "always");
        assert_eq!(o.registry_host_port(), Some(5001));
        assert_eq!(o.data_volume.as_deref(), Some("nvcf-dev-registry-data"));
        assert_eq!(o.networks, vec!["bridge", "kind"]);
        assert!(o.is_ours());
        assert_eq!(
            plan_registry(Some(&o), &spec).unwrap(),
            RegistryAction::Start
        );
    }

    #[test]
    fn empty_inspect_output_does_not_panic() {
        let o = observed(ContainerInspectResponse::default());
        assert!(!o.is_ours());
        assert_eq!(o.state, None);
    }

    const BLOCK: usize = 512;

    #[test]
    fn builds_a_valid_ustar_archive() {
        let tar = tar_file("etc/x/hosts.toml", b"hello", 1_700_000_000).unwrap();
        // file header + 1 data block + 2 end blocks
        assert_eq!(tar.len(), BLOCK * 4);
        assert_eq!(&tar[257..263], b"ustar\0");
        let f = &tar[..BLOCK];
        assert_eq!(&f[..16], b"etc/x/hosts.toml");
        assert_eq!(f[156], b'0');
        assert_eq!(&f[100..107], b"0000644");
        assert_eq!(&f[124..135], b"00000000005");
        assert_eq!(&tar[BLOCK..BLOCK + 5], b"hello");
        // the checksum verifies
        let stored = tar::Header::from_byte_slice(f).cksum().unwrap();
        let mut copy = f.to_vec();
        copy[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, copy.iter().map(|&b| b as u32).sum::<u32>());
    }

    #[test]
    fn long_paths_use_the_prefix_field() {
        let dir = "d".repeat(120);
        let path = format!("{dir}/file");
        let tar = tar_file(&path, b"x", 0).unwrap();
        assert_eq!(&tar[..4], b"file");
        assert_eq!(&tar[345..345 + 120], dir.as_bytes());
        assert!(tar_file(&"e".repeat(300), b"x", 0).is_err());
    }
}
