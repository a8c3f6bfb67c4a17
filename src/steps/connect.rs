//! Wires the cluster to the local registry the way kind's local-registry
//! guide does: hosts.toml files on every node (for `localhost:<port>` and,
//! local first, for the upstream registry), the registry container on the
//! `kind` network, and the KEP-1755 `local-registry-hosting` ConfigMap.

use async_trait::async_trait;

use super::{Ctx, Step};
use crate::steps::wiring;

/// kind puts its nodes on this Docker network.
pub const KIND_NETWORK: &str = "kind";

/// The network kind really uses: `KIND_EXPERIMENTAL_DOCKER_NETWORK` when
/// set (kind reads it from the environment nvcf-dev passes on), else `kind`.
pub fn kind_network(env_value: Option<&str>) -> String {
    env_value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(KIND_NETWORK)
        .to_string()
}

pub struct ConnectRegistry;

#[async_trait]
impl Step for ConnectRegistry {
    fn title(&self, _: &Ctx) -> String {
        "Connecting the cluster to the local registry".into()
    }

    async fn execute(&self, ctx: &mut Ctx) -> crate::Result<Option<String>> {
        let s = &ctx.settings;
        let docker = ctx.docker()?;
        let nodes = docker.kind_node_containers(&s.cluster).await?;
        let files = wiring::hosts_files(&s.upstream_registry, &s.registry_name, s.registry_port);
        for node in &nodes {
            for (dir, contents) in &files {
                docker
                    .write_file(node, &format!("{dir}/hosts.toml"), contents.as_bytes())
                    .await?;
            }
        }
        let network = kind_network(
            std::env::var("KIND_EXPERIMENTAL_DOCKER_NETWORK")
                .ok()
                .as_deref(),
        );
        docker.connect_network(&s.registry_name, &network).await?;
        crate::k8s::wiring::apply_local_registry_configmap(
            ctx.kube()?,
            &format!("localhost:{}", s.registry_port),
        )
        .await?;
        Ok(Some(format!(
            "{} node{}",
            nodes.len(),
            if nodes.len() == 1 { "" } else { "s" }
        )))
    }
}

pub struct Namespaces;

#[async_trait]
impl Step for Namespaces {
    fn title(&self, _: &Ctx) -> String {
        format!(
            "Creating namespaces {}",
            crate::model::namespaces().join(", ")
        )
    }

    async fn execute(&self, ctx: &mut Ctx) -> crate::Result<Option<String>> {
        let created =
            crate::k8s::wiring::ensure_namespaces(ctx.kube()?, &crate::model::namespaces()).await?;
        Ok((!created.is_empty()).then(|| format!("created {}", created.join(", "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_joins_the_network_kind_uses() {
        assert_eq!(kind_network(None), "kind");
        assert_eq!(kind_network(Some("")), "kind");
        assert_eq!(kind_network(Some("my-kind-net")), "my-kind-net");
    }
}
