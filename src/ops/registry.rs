//! `nvcf-dev registry up | status | down`: the local registry on its own,
//! e.g. to mirror before going offline, with no cluster at all.

use std::time::Duration;

use serde::Serialize;

use crate::registry::client::Registry;
use crate::registry::{Credentials, RegistryError};
use crate::runtime::{RegistrySpec, Runtime};
use crate::settings::Prompter;
use crate::ui::{table, Shell};

pub async fn up(shell: &Shell, spec: &RegistrySpec) -> crate::Result<()> {
    let step = shell.step(crate::steps::registry::title(spec));
    let docker = Runtime::connect().await?;
    step.done_with(crate::steps::registry::ensure(&docker, spec).await?);
    if shell.is_json() {
        return status(shell, spec).await;
    }
    shell.out(format!("localhost:{}", spec.host_port));
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct RegistryReport {
    pub container: String,
    pub exists: bool,
    pub running: bool,
    pub image: Option<String>,
    pub address: Option<String>,
    pub networks: Vec<String>,
    /// Repositories and tags it holds; None when it cannot be asked.
    pub repositories: Option<usize>,
    pub images: Option<usize>,
    pub volume: String,
    pub volume_exists: bool,
    /// False when a container nvcf-dev did not create holds the name.
    pub ours: bool,
}

impl RegistryReport {
    pub fn healthy(&self) -> bool {
        self.running && self.images.is_some()
    }

    pub fn state(&self) -> &'static str {
        match (self.exists, self.running) {
            (false, _) => "not created",
            (true, true) => "running",
            (true, false) => "stopped",
        }
    }
}

pub async fn report(docker: &Runtime, spec: &RegistrySpec) -> crate::Result<RegistryReport> {
    let st = docker.container(&spec.name).await?;
    let volume_exists = docker.volume_exists(&spec.volume).await?;
    let running = st.as_ref().is_some_and(|s| s.is_running());
    let port = st.as_ref().and_then(|s| s.registry_host_port());
    let mut counts = None;
    if let Some(port) = port.filter(|_| running) {
        counts = count_images(&format!("127.0.0.1:{port}"))
            .await
            .inspect_err(|e| tracing::warn!("could not list the registry's images: {e}"))
            .ok();
    }
    let (repositories, images) = counts.unzip();
    Ok(RegistryReport {
        container: spec.name.clone(),
        exists: st.is_some(),
        running,
        ours: st.as_ref().is_none_or(|s| s.is_ours()),
        image: st.as_ref().map(|s| s.image.clone()),
        address: port.map(|p| format!("localhost:{p}")),
        networks: st.map(|s| s.networks).unwrap_or_default(),
        repositories,
        images,
        volume: spec.volume.clone(),
        volume_exists,
    })
}

pub async fn status(shell: &Shell, spec: &RegistrySpec) -> crate::Result<()> {
    let docker = Runtime::connect().await?;
    let r = report(&docker, spec).await?;
    if shell.is_json() {
        shell.json(&r);
    } else {
        let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let networks = (!r.networks.is_empty()).then(|| r.networks.join(", "));
        let images = r.images.zip(r.repositories);
        let images = images.map(|(i, rep)| format!("{i} in {rep} repositories"));
        let volume = if r.volume_exists { "kept" } else { "absent" };
        let rows = [
            ("container", format!("{} ({})", r.container, r.state())),
            ("image", dash(r.image.clone())),
            ("address", dash(r.address.clone())),
            ("networks", dash(networks)),
            ("images", dash(images)),
            ("volume", format!("{} ({volume})", r.volume)),
        ]
        .map(|(k, v)| vec![k.to_string(), v]);
        shell.out(table(&["REGISTRY", ""], &rows));
    }
    if let Some(advice) = foreign_advice(&r) {
        return Err(crate::Error::Failed(advice));
    }
    if !r.running {
        return Err(crate::Error::Failed(format!(
            "the local registry {} is not running: start it with `nvcf-dev registry up`",
            r.container
        )));
    }
    if !r.healthy() {
        return Err(crate::Error::Failed(format!(
            "the local registry {} runs but does not answer its catalog: see `docker logs {}`",
            r.container, r.container
        )));
    }
    Ok(())
}

/// A container nvcf-dev did not create holds the registry's name: `registry
/// up` would refuse it, so say what works instead.
pub fn foreign_advice(r: &RegistryReport) -> Option<String> {
    (r.exists && !r.ours).then(|| {
        format!(
            "a container named {} (image {}) holds the local registry's name but was not created by nvcf-dev, so `nvcf-dev registry up` leaves it alone: remove it (`docker rm -f {}`) and run `nvcf-dev registry up`, or set another name in the profile (cluster.registry.name)",
            r.container,
            r.image.as_deref().unwrap_or("unknown"),
            r.container
        )
    })
}

/// Removes the registry; with `purge` its volume too, which is asked first.
pub async fn down(
    shell: &Shell,
    spec: &RegistrySpec,
    purge: bool,
    yes: bool,
    prompt: &dyn Prompter,
) -> crate::Result<()> {
    crate::ops::guard::confirm(
        shell,
        yes || !purge,
        prompt,
        &format!(
            "Remove the registry {} and its volume {} (the mirrored images)?",
            spec.name, spec.volume
        ),
        "registry down --purge",
    )?;
    remove(shell, spec, purge).await
}

/// Removes the registry container, with its volume when `purge`; asks nothing.
pub async fn remove(shell: &Shell, spec: &RegistrySpec, purge: bool) -> crate::Result<()> {
    let docker = Runtime::connect().await?;
    let step = shell.step(format!("Removing local registry {}", spec.name));
    let removed = docker.remove_registry(spec, purge).await?;
    let note = match (removed, purge) {
        (false, _) => "nothing to remove".to_string(),
        (true, true) => format!("removed, with its volume {}", spec.volume),
        (true, false) => format!("removed; volume {} kept (--purge removes it)", spec.volume),
    };
    step.done_with(note);
    Ok(())
}

/// (repositories, tagged images) in a plain-HTTP registry on loopback.
pub async fn count_images(host: &str) -> Result<(usize, usize), RegistryError> {
    // A status must not hang on a stuck registry: each request gets this long.
    const EACH: Duration = Duration::from_secs(5);
    let timed_out = || RegistryError::Unreachable {
        registry: host.to_string(),
        detail: format!("no answer within {}s", EACH.as_secs()),
    };
    let registry = Registry::connect(host, Credentials::anonymous(), &[])?;
    let repositories = tokio::time::timeout(EACH, registry.catalog())
        .await
        .map_err(|_| timed_out())??;
    let mut images = 0;
    for repo in &repositories {
        let tags = tokio::time::timeout(EACH, registry.list_tags(repo, None))
            .await
            .map_err(|_| timed_out())??;
        images += tags.len();
    }
    Ok((repositories.len(), images))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_foreign_container_gets_advice_that_works() {
        let mut r = RegistryReport {
            container: "nvcf-dev-registry".into(),
            exists: true,
            running: true,
            image: Some("nginx".into()),
            address: None,
            networks: vec![],
            repositories: None,
            images: None,
            volume: "v".into(),
            volume_exists: false,
            ours: false,
        };
        let advice = foreign_advice(&r).unwrap();
        assert!(
            advice.contains("`docker rm -f nvcf-dev-registry`"),
            "{advice}"
        );
        assert!(advice.contains("cluster.registry.name"), "{advice}");
        r.ours = true;
        assert_eq!(foreign_advice(&r), None);
    }
}
