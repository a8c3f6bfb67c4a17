//! Wires the cluster to the local registry the way kind's local-registry
//! guide does: hosts.toml files on every node (for `localhost:<port>` and,
//! local first, for the upstream registry), the registry container on the
//! `kind` network, and the KEP-1755 `local-registry-hosting` ConfigMap.

use super::OnCluster;
use crate::runtime::Runtime;
use crate::steps::wiring;

/// The Docker network kind puts its nodes on: `KIND_EXPERIMENTAL_DOCKER_NETWORK`
/// when set (kind reads it from the environment nvcf-dev passes on), else `kind`.
pub fn kind_network(env_value: Option<&str>) -> String {
    let set = env_value.map(str::trim).filter(|v| !v.is_empty());
    set.unwrap_or("kind").to_string()
}

/// hosts.toml on every node, the registry on the kind network, and the
/// KEP-1755 ConfigMap; the note counts the nodes.
pub async fn connect_registry(docker: &Runtime, ctx: &OnCluster<'_>) -> crate::Result<String> {
    let s = &ctx.settings;
    let files = wiring::hosts_files(&s.upstream_registry, &s.registry.name, s.registry.host_port);
    let nodes = write_hosts_files(docker, &s.cluster, &files).await?;
    let network = std::env::var("KIND_EXPERIMENTAL_DOCKER_NETWORK").ok();
    let network = kind_network(network.as_deref());
    docker.connect_network(&s.registry.name, &network).await?;
    let host = format!("localhost:{}", s.registry.host_port);
    crate::k8s::wiring::apply_local_registry_configmap(&ctx.kube, &host).await?;
    Ok(format!("{nodes} node{}", if nodes == 1 { "" } else { "s" }))
}

/// Writes each (directory, contents) of `files` as `<directory>/hosts.toml`
/// on every node of `cluster`; how many nodes there are.
pub async fn write_hosts_files(
    docker: &Runtime,
    cluster: &str,
    files: &[(String, String)],
) -> crate::Result<usize> {
    let nodes = docker.kind_nodes(cluster).await?;
    for (node, _) in &nodes {
        for (dir, contents) in files {
            docker
                .write_file(node, &format!("{dir}/hosts.toml"), contents.as_bytes())
                .await?;
        }
    }
    Ok(nodes.len())
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
