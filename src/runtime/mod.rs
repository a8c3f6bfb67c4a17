//! The container runtime: every bollard (Docker API) call lives here.
//!
//! Keeping Docker behind one module means the rest of nvcf-dev speaks in terms
//! of "the local registry" and "the kind nodes" and never sees bollard types,
//! and the decisions that matter (reuse, recreate, refuse) stay pure functions
//! in [`plan`] that are unit-tested without a daemon.

mod docker;
mod error;
mod plan;

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// The registry container's default name; kind nodes reach it by this name on the `kind` network.
pub const REGISTRY_CONTAINER: &str = "nvcf-dev-registry";
pub const DEFAULT_REGISTRY_IMAGE: &str = "registry:3";
pub const DEFAULT_REGISTRY_PORT: u16 = 5001;

pub use docker::Runtime;
pub use error::DockerError;

/// Label that marks a container or volume as created by nvcf-dev. Anything
/// without it is someone else's and is never modified or removed.
pub const OWNER_LABEL: &str = "dev.nvcf.managed-by";
/// The value of [`OWNER_LABEL`] on everything we create.
pub const OWNER_VALUE: &str = "nvcf-dev";
/// Fingerprint of the [`RegistrySpec`] a container was created from, so a
/// changed image, port or volume (or a newer way of building the container)
/// is noticed as drift even when the observed config alone would not show it.
pub const SPEC_LABEL: &str = "dev.nvcf.registry.spec";
/// Human-readable copies of the spec, for `docker inspect` readers.
pub const IMAGE_LABEL: &str = "dev.nvcf.registry.image";
pub const PORT_LABEL: &str = "dev.nvcf.registry.port";
/// Label kind puts on its node containers; its value is the cluster name.
pub const KIND_CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";

/// The port the registry listens on inside its container (`registry:3`).
pub const REGISTRY_CONTAINER_PORT: u16 = 5000;
/// Where the registry keeps blobs inside its container; the data volume goes here.
pub const REGISTRY_DATA_DIR: &str = "/var/lib/registry";
/// The registry is published on loopback only: it has no auth and must not be
/// reachable from the network.
pub const REGISTRY_BIND_IP: &str = "127.0.0.1";

pub const DEFAULT_REGISTRY_VOLUME: &str = "nvcf-dev-registry-data";

/// What the local registry container should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySpec {
    pub name: String,
    pub image: String,
    pub host_port: u16,
    /// Named volume for the registry data, so mirrored images survive removal
    /// of the container and the next `up` does not download them again.
    pub volume: String,
}

impl RegistrySpec {
    /// Short stable hash of everything that shapes the container. Bump the
    /// leading version tag when the way we build the container changes, so
    /// existing registries are recreated once.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!(
            "v1\n{}\n{}\n{}\n{}\n{}\n",
            self.image, REGISTRY_BIND_IP, self.host_port, self.volume, REGISTRY_DATA_DIR
        ));
        hex::encode(&h.finalize()[..8])
    }

    /// The labels the container carries.
    pub fn container_labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (OWNER_LABEL.to_string(), OWNER_VALUE.to_string()),
            (SPEC_LABEL.to_string(), self.fingerprint()),
            (IMAGE_LABEL.to_string(), self.image.clone()),
            (PORT_LABEL.to_string(), self.host_port.to_string()),
        ])
    }

    /// The labels the data volume carries when we create it.
    pub fn volume_labels(&self) -> HashMap<String, String> {
        HashMap::from([(OWNER_LABEL.to_string(), OWNER_VALUE.to_string())])
    }
}

/// True when `labels` carry our owner label.
fn is_owned(labels: Option<&HashMap<String, String>>) -> bool {
    labels.and_then(|l| l.get(OWNER_LABEL)).map(String::as_str) == Some(OWNER_VALUE)
}

/// What [`Runtime::ensure_registry`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnsureOutcome {
    Created,
    /// An existing registry of ours was kept (and started if it was stopped).
    Reused,
    /// An existing registry of ours did not match the spec and was replaced.
    Recreated {
        reason: String,
    },
}

/// Who is listening on a host port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortHolder {
    Free,
    /// A running container publishes it; `ours` when it carries our owner label.
    Container {
        name: String,
        ours: bool,
    },
    /// Something that is not a container (or a container of another daemon).
    Process,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The registry a profile without registry settings asks for.
    pub(crate) fn spec() -> RegistrySpec {
        RegistrySpec {
            name: REGISTRY_CONTAINER.into(),
            image: DEFAULT_REGISTRY_IMAGE.into(),
            host_port: DEFAULT_REGISTRY_PORT,
            volume: DEFAULT_REGISTRY_VOLUME.into(),
        }
    }

    #[test]
    fn fingerprint_is_stable_and_changes_with_the_spec() {
        let a = spec();
        assert_eq!(a.fingerprint(), spec().fingerprint());
        assert_eq!(a.fingerprint().len(), 16);
        let b = RegistrySpec {
            host_port: 5002,
            ..spec()
        };
        let c = RegistrySpec {
            image: "registry:2".into(),
            ..spec()
        };
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn labels_mark_ownership() {
        let s = spec();
        assert_eq!(
            s.container_labels().get(OWNER_LABEL).map(String::as_str),
            Some(OWNER_VALUE)
        );
        assert_eq!(
            s.volume_labels().get(OWNER_LABEL).map(String::as_str),
            Some(OWNER_VALUE)
        );
    }
}
