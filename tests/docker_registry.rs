//! The local registry against the REAL Docker daemon.
//!
//! Run through `scripts/test.sh` (or `source .tools/env` first): it starts
//! dockerd and builds the local registry image these tests run. Without it
//! every test fails, on purpose, instead of silently passing.
//!
//! Each test owns its container name, volume and host port (15100-15199), so
//! they run in parallel, and a guard removes what it made even on failure.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::Command;

use bollard::models::{ContainerCreateBody, HostConfig, NetworkCreateRequest, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, StopContainerOptionsBuilder, TagImageOptionsBuilder,
};
use bollard::Docker;
use nvcf_dev::runtime::{
    DockerError, PortHolder, RegistryAction, RegistrySpec, Runtime, OWNER_LABEL, OWNER_VALUE,
};

fn test_image() -> String {
    if std::env::var_os("NVCF_DEV_TEST_DOCKER").is_none() {
        panic!("NVCF_DEV_TEST_DOCKER is not set: run scripts/test.sh (it sets up Docker)");
    }
    std::env::var("NVCF_DEV_TEST_REGISTRY_IMAGE")
        .unwrap_or_else(|_| "nvcf-dev-test/registry:3".to_string())
}

async fn runtime() -> Runtime {
    test_image();
    Runtime::connect()
        .await
        .unwrap_or_else(|e| panic!("{e} (run scripts/test.sh (it sets up Docker))"))
}

async fn raw_docker() -> Docker {
    Docker::connect_with_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap()
}

/// Removes the test's containers, volumes and networks when dropped, also
/// after a failed assertion; and once up front, for leftovers of a killed run.
struct Cleanup {
    containers: Vec<String>,
    volumes: Vec<String>,
    networks: Vec<String>,
    images: Vec<String>,
}

impl Cleanup {
    fn new(containers: &[&str], volumes: &[&str], networks: &[&str]) -> Cleanup {
        let c = Cleanup {
            containers: containers.iter().map(|s| s.to_string()).collect(),
            volumes: volumes.iter().map(|s| s.to_string()).collect(),
            networks: networks.iter().map(|s| s.to_string()).collect(),
            images: Vec::new(),
        };
        c.run();
        c
    }

    fn run(&self) {
        let quiet = |args: &[&str]| {
            let _ = Command::new("docker").args(args).output();
        };
        for c in &self.containers {
            quiet(&["rm", "-f", "-v", c]);
        }
        for v in &self.volumes {
            quiet(&["volume", "rm", "-f", v]);
        }
        for n in &self.networks {
            quiet(&["network", "rm", n]);
        }
        for i in &self.images {
            quiet(&["image", "rm", "--no-prune", i]);
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.run();
    }
}

fn spec(test: &str, port: u16) -> RegistrySpec {
    RegistrySpec {
        name: format!("nvcf-dev-test-{test}"),
        image: test_image(),
        host_port: port,
        volume: format!("nvcf-dev-test-{test}-data"),
    }
}

fn cleanup_for(spec: &RegistrySpec) -> Cleanup {
    Cleanup::new(&[&spec.name], &[&spec.volume], &[])
}

async fn container_id(name: &str) -> String {
    raw_docker()
        .await
        .inspect_container(name, None)
        .await
        .unwrap()
        .id
        .unwrap()
}

/// A plain HTTP/1.0 `GET /v2/` on the host port; returns the status line.
fn get_v2(port: u16) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines().next().unwrap_or("").to_string()
}

#[tokio::test]
async fn create_then_reuse_keeps_the_container_and_the_registry_answers() {
    let rt = runtime().await;
    let spec = spec("create", 15101);
    let _cleanup = cleanup_for(&spec);

    assert_eq!(
        rt.ensure_registry(&spec).await.unwrap(),
        RegistryAction::Create
    );
    // ensure_registry waits for readiness, so this must answer at once.
    let status_line = get_v2(spec.host_port);
    assert!(status_line.contains(" 200"), "{status_line}");

    let id = container_id(&spec.name).await;
    assert_eq!(
        rt.ensure_registry(&spec).await.unwrap(),
        RegistryAction::Reuse
    );
    assert_eq!(
        container_id(&spec.name).await,
        id,
        "reuse must not recreate"
    );

    let status = rt.container(&spec.name).await.unwrap().unwrap();
    assert_eq!(status.image, spec.image);
    assert!(status.is_running() && status.is_ours());
    assert_eq!(status.registry_host_port(), Some(spec.host_port));
    assert!(status.networks.contains(&"bridge".to_string()));

    assert_eq!(
        rt.port_holder(spec.host_port).await.unwrap(),
        PortHolder::Container {
            name: spec.name.clone(),
            ours: true
        }
    );

    // Published on loopback only, restart always, data in the labelled volume.
    let c = raw_docker()
        .await
        .inspect_container(&spec.name, None)
        .await
        .unwrap();
    let host = c.host_config.unwrap();
    let binding = &host.port_bindings.unwrap()["5000/tcp"].clone().unwrap()[0];
    assert_eq!(binding.host_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        host.restart_policy.unwrap().name.unwrap().to_string(),
        "always"
    );
    let mount = c
        .mounts
        .unwrap()
        .into_iter()
        .find(|m| m.destination.as_deref() == Some("/var/lib/registry"))
        .unwrap();
    assert_eq!(mount.name.as_deref(), Some(spec.volume.as_str()));
    let labels = c.config.unwrap().labels.unwrap();
    assert_eq!(labels[OWNER_LABEL], OWNER_VALUE);
    let volume = raw_docker()
        .await
        .inspect_volume(&spec.volume)
        .await
        .unwrap();
    assert_eq!(volume.labels[OWNER_LABEL], OWNER_VALUE);
}

#[tokio::test]
async fn a_different_image_tag_or_port_recreates_and_says_why() {
    let rt = runtime().await;
    let first = spec("recreate", 15102);
    let mut cleanup = cleanup_for(&first);
    let alt_image = format!("{}-alt", first.image);
    cleanup.images.push(alt_image.clone());
    let (repo, tag) = alt_image.rsplit_once(':').unwrap();
    raw_docker()
        .await
        .tag_image(
            &first.image,
            Some(TagImageOptionsBuilder::new().repo(repo).tag(tag).build()),
        )
        .await
        .unwrap();

    assert_eq!(
        rt.ensure_registry(&first).await.unwrap(),
        RegistryAction::Create
    );
    let id = container_id(&first.name).await;

    let retagged = RegistrySpec {
        image: alt_image.clone(),
        ..first.clone()
    };
    match rt.ensure_registry(&retagged).await.unwrap() {
        RegistryAction::Recreate { reason } => {
            assert!(reason.contains("image"), "{reason}");
            assert!(reason.contains(&alt_image), "{reason}");
        }
        other => panic!("expected Recreated, got {other:?}"),
    }
    let id2 = container_id(&first.name).await;
    assert_ne!(id, id2);

    let moved = RegistrySpec {
        host_port: 15103,
        ..retagged.clone()
    };
    match rt.ensure_registry(&moved).await.unwrap() {
        RegistryAction::Recreate { reason } => assert!(reason.contains("15103"), "{reason}"),
        other => panic!("expected Recreated, got {other:?}"),
    }
    assert_ne!(container_id(&first.name).await, id2);
    assert!(get_v2(15103).contains(" 200"));
    assert_eq!(
        rt.port_holder(15102).await.unwrap(),
        PortHolder::Free,
        "the old port is released"
    );
}

#[tokio::test]
async fn a_stopped_registry_is_started_not_recreated() {
    let rt = runtime().await;
    let spec = spec("stopped", 15104);
    let _cleanup = cleanup_for(&spec);
    rt.ensure_registry(&spec).await.unwrap();
    let id = container_id(&spec.name).await;
    raw_docker()
        .await
        .stop_container(
            &spec.name,
            Some(StopContainerOptionsBuilder::new().t(1).build()),
        )
        .await
        .unwrap();
    assert!(!rt
        .container(&spec.name)
        .await
        .unwrap()
        .unwrap()
        .is_running());

    assert_eq!(
        rt.ensure_registry(&spec).await.unwrap(),
        RegistryAction::Start
    );
    assert_eq!(container_id(&spec.name).await, id);
    assert!(rt
        .container(&spec.name)
        .await
        .unwrap()
        .unwrap()
        .is_running());
    assert!(get_v2(spec.host_port).contains(" 200"));
}

#[tokio::test]
async fn remove_keeps_the_volume_and_purge_removes_it() {
    let rt = runtime().await;
    let spec = spec("remove", 15105);
    let _cleanup = cleanup_for(&spec);
    rt.ensure_registry(&spec).await.unwrap();

    assert!(rt.remove_registry(&spec, false).await.unwrap());
    assert_eq!(rt.container(&spec.name).await.unwrap(), None);
    assert!(rt.volume_exists(&spec.volume).await.unwrap());

    assert!(rt.remove_registry(&spec, true).await.unwrap());
    assert!(!rt.volume_exists(&spec.volume).await.unwrap());
    assert!(
        !rt.remove_registry(&spec, true).await.unwrap(),
        "nothing left to remove"
    );
}

#[tokio::test]
async fn purge_leaves_a_volume_that_is_not_ours() {
    let rt = runtime().await;
    let spec = spec("foreignvol", 15110);
    let _cleanup = cleanup_for(&spec);
    raw_docker()
        .await
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(spec.volume.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!rt.remove_registry(&spec, true).await.unwrap());
    assert!(rt.volume_exists(&spec.volume).await.unwrap());
}

#[tokio::test]
async fn connecting_to_a_network_twice_is_fine() {
    let rt = runtime().await;
    let spec = spec("network", 15106);
    let network = "nvcf-dev-test-network-net";
    let _cleanup = Cleanup::new(&[&spec.name], &[&spec.volume], &[network]);
    raw_docker()
        .await
        .create_network(NetworkCreateRequest {
            name: network.to_string(),
            ..Default::default()
        })
        .await
        .unwrap();
    rt.ensure_registry(&spec).await.unwrap();

    rt.connect_network(&spec.name, network).await.unwrap();
    rt.connect_network(&spec.name, network).await.unwrap();
    let status = rt.container(&spec.name).await.unwrap().unwrap();
    assert!(status.networks.contains(&network.to_string()), "{status:?}");
    // By id the name check cannot see it; Docker's "already exists" is OK too.
    let id = raw_docker()
        .await
        .inspect_network(network, None)
        .await
        .unwrap()
        .id
        .unwrap();
    rt.connect_network(&spec.name, &id).await.unwrap();

    let err = rt
        .connect_network(&spec.name, "nvcf-dev-test-no-such-network")
        .await
        .unwrap_err();
    assert!(matches!(err, DockerError::Api { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("could not connect container"), "{msg}");
    assert!(msg.contains("nvcf-dev-test-no-such-network"), "{msg}");

    // Docker keeps a network with endpoints; drop ours before the guard runs.
    rt.remove_registry(&spec, true).await.unwrap();
}

#[tokio::test]
async fn a_foreign_container_holding_the_name_is_left_alone() {
    let rt = runtime().await;
    let spec = spec("foreign", 15107);
    let _cleanup = cleanup_for(&spec);
    raw_docker()
        .await
        .create_container(
            Some(
                CreateContainerOptionsBuilder::new()
                    .name(&spec.name)
                    .build(),
            ),
            ContainerCreateBody {
                image: Some(spec.image.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = container_id(&spec.name).await;

    let err = rt.ensure_registry(&spec).await.unwrap_err();
    assert!(matches!(err, DockerError::ForeignContainer { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&spec.name) && !msg.contains('\n'), "{msg}");

    let err = rt.remove_registry(&spec, true).await.unwrap_err();
    assert!(matches!(err, DockerError::ForeignContainer { .. }), "{err}");

    assert_eq!(container_id(&spec.name).await, id, "it must still exist");
    let status = rt.container(&spec.name).await.unwrap().unwrap();
    assert!(!status.is_ours());
}

#[tokio::test]
async fn a_port_held_by_a_process_or_another_container_is_refused() {
    let rt = runtime().await;
    let spec = spec("busyport", 15108);
    let squatter = "nvcf-dev-test-busyport-squatter";
    let _cleanup = Cleanup::new(&[&spec.name, squatter], &[&spec.volume], &[]);

    {
        let _listener = std::net::TcpListener::bind(("127.0.0.1", spec.host_port)).unwrap();
        assert_eq!(
            rt.port_holder(spec.host_port).await.unwrap(),
            PortHolder::Process
        );
        let err = rt.ensure_registry(&spec).await.unwrap_err();
        assert!(matches!(err, DockerError::PortInUse { .. }), "{err}");
        assert!(err.to_string().contains("15108"), "{err}");
        assert_eq!(rt.container(&spec.name).await.unwrap(), None);
    }

    // A container that is not ours publishing the port.
    let other_port = 15111;
    let d = raw_docker().await;
    d.create_container(
        Some(CreateContainerOptionsBuilder::new().name(squatter).build()),
        ContainerCreateBody {
            image: Some(spec.image.clone()),
            exposed_ports: Some(vec!["5000/tcp".to_string()]),
            host_config: Some(HostConfig {
                port_bindings: Some(HashMap::from([(
                    "5000/tcp".to_string(),
                    Some(vec![PortBinding {
                        host_ip: Some("127.0.0.1".to_string()),
                        host_port: Some(other_port.to_string()),
                    }]),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    d.start_container(squatter, None).await.unwrap();
    assert_eq!(
        rt.port_holder(other_port).await.unwrap(),
        PortHolder::Container {
            name: squatter.to_string(),
            ours: false
        }
    );
    let on_squatted = RegistrySpec {
        host_port: other_port,
        ..spec.clone()
    };
    let err = rt.ensure_registry(&on_squatted).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("15111") && msg.contains(squatter), "{msg}");
    assert_eq!(rt.container(&spec.name).await.unwrap(), None);
}

/// The file at `path` in `container`, read back through the archive API.
async fn read_back(container: &str, path: &str) -> Vec<u8> {
    use futures::TryStreamExt;
    let opts = bollard::query_parameters::DownloadFromContainerOptionsBuilder::new()
        .path(path)
        .build();
    let chunks: Vec<_> = raw_docker()
        .await
        .download_from_container(container, Some(opts))
        .try_collect()
        .await
        .unwrap();
    let tar = chunks.concat();
    let mut archive = tar::Archive::new(&tar[..]);
    let mut file = archive.entries().unwrap().next().unwrap().unwrap();
    let mut out = Vec::new();
    file.read_to_end(&mut out).unwrap();
    out
}

#[tokio::test]
async fn write_file_creates_parents_and_reads_back() {
    let rt = runtime().await;
    let spec = spec("writefile", 15109);
    let _cleanup = cleanup_for(&spec);
    rt.ensure_registry(&spec).await.unwrap();

    let path = "/etc/containerd/certs.d/localhost:5001/hosts.toml";
    let first = b"server = \"http://nvcf-dev-registry:5000\"\n";
    let stat = |p: &'static str| {
        let name = spec.name.clone();
        async move {
            let opts = bollard::query_parameters::ContainerArchiveInfoOptionsBuilder::new();
            let d = raw_docker().await;
            let info = d.get_container_archive_info(&name, Some(opts.path(p).build()));
            info.await.unwrap()
        }
    };
    let etc = stat("/etc").await.file_mode;
    rt.write_file(&spec.name, path, first).await.unwrap();
    assert_eq!(read_back(&spec.name, path).await, first);
    // Missing parents are made 0755; an existing directory keeps its mode.
    let parent = stat("/etc/containerd/certs.d/localhost:5001").await;
    assert_eq!(parent.file_mode & 0o777, 0o755);
    assert_eq!(stat("/etc").await.file_mode, etc);

    // Overwriting, now that the parents exist.
    let second = b"[host.\"http://nvcf-dev-registry:5000\"]\n";
    rt.write_file(&spec.name, path, second).await.unwrap();
    assert_eq!(read_back(&spec.name, path).await, second);

    // The archive API sees a 0644 file.
    let stat = raw_docker()
        .await
        .get_container_archive_info(
            &spec.name,
            Some(
                bollard::query_parameters::ContainerArchiveInfoOptionsBuilder::new()
                    .path(path)
                    .build(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(stat.size, second.len() as i64);
    assert_eq!(stat.file_mode & 0o777, 0o644);

    let err = rt
        .write_file("nvcf-dev-test-no-such-container", path, b"x")
        .await
        .unwrap_err();
    assert!(matches!(err, DockerError::NoSuchContainer { .. }), "{err}");
    let err = rt
        .write_file(&spec.name, "relative/path", b"x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DockerError::WriteFile { .. }) && err.to_string().contains("absolute"),
        "{err}"
    );
}

#[tokio::test]
async fn kind_nodes_are_found_by_label() {
    let rt = runtime().await;
    let cluster = "nvcf-dev-test-kindnodes";
    let nodes = [
        "nvcf-dev-test-kindnodes-worker",
        "nvcf-dev-test-kindnodes-control-plane",
    ];
    let _cleanup = Cleanup::new(&nodes, &[], &[]);
    let d = raw_docker().await;
    for n in nodes {
        d.create_container(
            Some(CreateContainerOptionsBuilder::new().name(n).build()),
            ContainerCreateBody {
                image: Some(test_image()),
                labels: Some(HashMap::from([(
                    "io.x-k8s.kind.cluster".to_string(),
                    cluster.to_string(),
                )])),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    assert_eq!(
        rt.kind_nodes(cluster).await.unwrap(),
        vec![(nodes[1].to_string(), false), (nodes[0].to_string(), false)]
    );
    assert!(rt
        .kind_nodes("nvcf-dev-test-no-such-cluster")
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_missing_image_that_cannot_be_pulled_says_what_to_do() {
    let rt = runtime().await;
    let spec = RegistrySpec {
        image: "nvcf-dev-test/no-such-registry-image:0".to_string(),
        ..spec("nopull", 15112)
    };
    let _cleanup = cleanup_for(&spec);
    let err = rt.ensure_registry(&spec).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, DockerError::PullImage { .. }), "{msg}");
    assert!(
        msg.contains(&spec.image) && msg.contains("--registry-image"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    assert_eq!(rt.container(&spec.name).await.unwrap(), None);
}

#[tokio::test]
async fn server_version_names_the_daemon() {
    let rt = runtime().await;
    let v = rt.server_version().await.unwrap();
    assert!(v.contains("API 1."), "{v}");
}
