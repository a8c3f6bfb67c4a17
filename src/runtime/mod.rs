//! The container runtime: every bollard (Docker API) call lives here.
//!
//! Keeping Docker behind one module means the rest of nvcf-dev speaks in terms
//! of "the local registry" and "the kind nodes" and never sees bollard types,
//! and the decisions that matter (reuse, recreate, refuse) stay pure functions
//! here, unit-tested without a daemon.

mod docker;
mod error;

use std::collections::HashMap;

use bollard::models::ContainerStateStatusEnum as State;
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

// ---- decisions: what we observed, what the spec asks for, what to do ----

/// A container as observed through `docker inspect`, reduced to the fields
/// that decide reuse.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedContainer {
    /// The image reference the container was created from (Config.Image).
    pub image: String,
    /// None when Docker does not say.
    pub state: Option<State>,
    pub labels: HashMap<String, String>,
    /// Where the registry's container port is published: the host address
    /// (empty when Docker binds every address) and port.
    pub published: Option<(String, Option<u16>)>,
    /// The named volume mounted at the registry's data directory.
    pub data_volume: Option<String>,
    /// Restart policy name (`always`, `no`, ...); empty when unset.
    pub restart_policy: String,
    pub networks: Vec<String>,
}

impl ObservedContainer {
    /// True when the container carries our owner label.
    pub fn is_ours(&self) -> bool {
        is_owned(Some(&self.labels))
    }

    pub fn is_running(&self) -> bool {
        self.state == Some(State::RUNNING)
    }

    /// The host port published for the registry's container port, if any.
    pub fn registry_host_port(&self) -> Option<u16> {
        self.published.as_ref().and_then(|(_, port)| *port)
    }
}

/// What the registry container needs, and what [`Runtime::ensure_registry`]
/// did about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryAction {
    Create,
    /// Ours, matching and running: leave it alone.
    Reuse,
    /// Ours and matching but not running.
    Start,
    /// Ours but different from the spec: remove and create again.
    Recreate {
        reason: String,
    },
}

/// Decide what to do about the registry container; a name taken by a
/// container nvcf-dev did not create is refused.
pub fn plan_registry(
    existing: Option<&ObservedContainer>,
    spec: &RegistrySpec,
) -> Result<RegistryAction, DockerError> {
    let Some(c) = existing else {
        return Ok(RegistryAction::Create);
    };
    if !c.is_ours() {
        return Err(DockerError::ForeignContainer {
            name: spec.name.clone(),
            image: c.image.clone(),
        });
    }
    let drift = drift(c, spec);
    if !drift.is_empty() {
        return Ok(RegistryAction::Recreate {
            reason: drift.join("; "),
        });
    }
    let reason = match c.state {
        Some(State::RUNNING) => return Ok(RegistryAction::Reuse),
        // Created or exited: `docker start` brings it back.
        Some(State::CREATED | State::EXITED) => return Ok(RegistryAction::Start),
        Some(State::PAUSED) => "the container is paused".to_string(),
        Some(State::RESTARTING) => "the container keeps restarting".to_string(),
        Some(State::DEAD) => "the container is dead".to_string(),
        Some(other) => format!("the container is {other}"),
        None => "the container is unknown".to_string(),
    };
    Ok(RegistryAction::Recreate { reason })
}

/// Every way the container differs from the spec, in words a user can act on.
pub fn drift(c: &ObservedContainer, spec: &RegistrySpec) -> Vec<String> {
    let mut out = Vec::new();
    if c.image != spec.image {
        out.push(format!("image is {} (want {})", c.image, spec.image));
    }
    match &c.published {
        Some((ip, port)) if *port == Some(spec.host_port) && ip == REGISTRY_BIND_IP => {}
        Some((ip, port)) => out.push(format!(
            "published on {}:{} (want {REGISTRY_BIND_IP}:{})",
            or_when_empty(ip, "0.0.0.0"),
            port.map(|p| p.to_string()).unwrap_or_default(),
            spec.host_port
        )),
        None => out.push(format!(
            "port {REGISTRY_CONTAINER_PORT}/tcp is not published (want {REGISTRY_BIND_IP}:{})",
            spec.host_port
        )),
    }
    if c.data_volume.as_deref() != Some(spec.volume.as_str()) {
        let now = c.data_volume.as_deref().unwrap_or("none");
        out.push(format!("data volume is {now} (want {})", spec.volume));
    }
    if c.restart_policy != "always" {
        let now = or_when_empty(&c.restart_policy, "no");
        out.push(format!("restart policy is {now} (want always)"));
    }
    // Only worth mentioning when nothing visible differs: then the labels are
    // from an older nvcf-dev or were edited.
    if out.is_empty() && c.labels.get(SPEC_LABEL) != Some(&spec.fingerprint()) {
        out.push("labels are out of date".to_string());
    }
    out
}

fn or_when_empty<'a>(s: &'a str, default: &'a str) -> &'a str {
    if s.is_empty() {
        default
    } else {
        s
    }
}

/// Whether `holder` stops us from publishing the registry on its port. The
/// registry we are about to replace does not count.
pub fn port_conflict(holder: &PortHolder, spec: &RegistrySpec) -> Option<String> {
    match holder {
        PortHolder::Free => None,
        PortHolder::Container { name, ours: true } if name == &spec.name => None,
        PortHolder::Container { name, ours: true } => Some(format!("nvcf-dev container `{name}`")),
        PortHolder::Container { name, .. } => Some(format!("container `{name}`")),
        PortHolder::Process => Some(format!(
            "a process that is not a container (find it with `ss -ltnp 'sport = :{}'`)",
            spec.host_port
        )),
    }
}

/// Split an image reference into the `fromImage` and `tag` the pull API
/// wants, so a bare name pulls `latest` rather than every tag.
pub fn split_image_ref(image: &str) -> (String, String) {
    match crate::registry::reference::split(image) {
        (_, _, Some(_)) => (image.to_string(), String::new()),
        (name, tag, None) => (name.to_string(), tag.unwrap_or("latest").to_string()),
    }
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

    fn ours(spec: &RegistrySpec) -> ObservedContainer {
        ObservedContainer {
            image: spec.image.clone(),
            state: Some(State::RUNNING),
            labels: spec.container_labels(),
            published: Some((REGISTRY_BIND_IP.into(), Some(spec.host_port))),
            data_volume: Some(spec.volume.clone()),
            restart_policy: "always".into(),
            networks: vec!["bridge".into()],
        }
    }

    #[test]
    fn nothing_there_is_created() {
        assert_eq!(
            plan_registry(None, &crate::runtime::tests::spec()).unwrap(),
            RegistryAction::Create
        );
    }

    #[test]
    fn matching_running_registry_is_reused() {
        let spec = crate::runtime::tests::spec();
        assert_eq!(
            plan_registry(Some(&ours(&spec)), &spec).unwrap(),
            RegistryAction::Reuse
        );
    }

    #[test]
    fn matching_stopped_registry_is_started() {
        let spec = crate::runtime::tests::spec();
        let c = ObservedContainer {
            state: Some(State::EXITED),
            ..ours(&spec)
        };
        assert_eq!(
            plan_registry(Some(&c), &spec).unwrap(),
            RegistryAction::Start
        );
    }

    #[test]
    fn foreign_container_is_refused_even_if_it_looks_right() {
        let spec = crate::runtime::tests::spec();
        let mut c = ours(&spec);
        c.labels.clear();
        let err = plan_registry(Some(&c), &spec).unwrap_err();
        assert!(
            matches!(&err, DockerError::ForeignContainer { name, image } if *name == spec.name && *image == spec.image),
            "{err}"
        );
        c.labels.insert(OWNER_LABEL.into(), "someone-else".into());
        assert!(matches!(
            plan_registry(Some(&c), &spec),
            Err(DockerError::ForeignContainer { .. })
        ));
    }

    fn reason(a: Result<RegistryAction, DockerError>) -> String {
        match a {
            Ok(RegistryAction::Recreate { reason }) => reason,
            other => panic!("expected Recreate, got {other:?}"),
        }
    }

    #[test]
    fn different_image_is_recreated_and_says_so() {
        let spec = crate::runtime::tests::spec();
        let old = RegistrySpec {
            image: "registry:2".into(),
            ..spec.clone()
        };
        let r = reason(plan_registry(Some(&ours(&old)), &spec));
        assert_eq!(r, "image is registry:2 (want registry:3)");
    }

    #[test]
    fn different_port_is_recreated_and_says_so() {
        let spec = crate::runtime::tests::spec();
        let old = RegistrySpec {
            host_port: 5002,
            ..spec.clone()
        };
        let r = reason(plan_registry(Some(&ours(&old)), &spec));
        assert_eq!(r, "published on 127.0.0.1:5002 (want 127.0.0.1:5001)");
    }

    #[test]
    fn published_on_all_addresses_is_drift() {
        let spec = crate::runtime::tests::spec();
        let mut c = ours(&spec);
        c.published = Some((String::new(), Some(spec.host_port)));
        let r = reason(plan_registry(Some(&c), &spec));
        assert!(r.contains("0.0.0.0:5001"), "{r}");
        c.published = None;
        let r = reason(plan_registry(Some(&c), &spec));
        assert!(r.contains("not published"), "{r}");
    }

    #[test]
    fn volume_and_restart_policy_drift_are_listed_together() {
        let spec = crate::runtime::tests::spec();
        let mut c = ours(&spec);
        c.data_volume = None;
        c.restart_policy = String::new();
        let r = reason(plan_registry(Some(&c), &spec));
        assert_eq!(
            r,
            "data volume is none (want nvcf-dev-registry-data); restart policy is no (want always)"
        );
    }

    #[test]
    fn stale_labels_are_drift() {
        let spec = crate::runtime::tests::spec();
        let mut c = ours(&spec);
        c.labels.insert(SPEC_LABEL.into(), "0000".into());
        assert_eq!(
            reason(plan_registry(Some(&c), &spec)),
            "labels are out of date"
        );
        c.labels.remove(SPEC_LABEL);
        assert_eq!(
            reason(plan_registry(Some(&c), &spec)),
            "labels are out of date"
        );
    }

    #[test]
    fn unhealthy_states_are_recreated() {
        let spec = crate::runtime::tests::spec();
        for (state, word) in [
            (Some(State::PAUSED), "paused"),
            (Some(State::RESTARTING), "restarting"),
            (Some(State::DEAD), "dead"),
            (Some(State::REMOVING), "removing"),
            (None, "unknown"),
        ] {
            let c = ObservedContainer {
                state,
                ..ours(&spec)
            };
            assert!(reason(plan_registry(Some(&c), &spec)).contains(word));
        }
    }

    #[test]
    fn port_conflicts() {
        let spec = crate::runtime::tests::spec();
        assert_eq!(port_conflict(&PortHolder::Free, &spec), None);
        assert_eq!(
            port_conflict(
                &PortHolder::Container {
                    name: spec.name.clone(),
                    ours: true
                },
                &spec
            ),
            None
        );
        assert!(port_conflict(
            &PortHolder::Container {
                name: "other".into(),
                ours: true
            },
            &spec
        )
        .unwrap()
        .contains("other"));
        assert!(port_conflict(
            &PortHolder::Container {
                name: "x".into(),
                ours: false
            },
            &spec
        )
        .unwrap()
        .contains("`x`"));
        assert!(port_conflict(&PortHolder::Process, &spec).is_some());
    }

    #[test]
    fn image_refs_split_into_name_and_tag() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(split_image_ref("registry:3"), s("registry", "3"));
        assert_eq!(split_image_ref("registry"), s("registry", "latest"));
        assert_eq!(
            split_image_ref("localhost:5000/a/registry"),
            s("localhost:5000/a/registry", "latest")
        );
        assert_eq!(
            split_image_ref("localhost:5000/registry:3.0"),
            s("localhost:5000/registry", "3.0")
        );
        assert_eq!(
            split_image_ref("registry@sha256:abcd"),
            s("registry@sha256:abcd", "")
        );
    }
}
