//! How a kind cluster is pointed at the local registry, as pure functions,
//! following kind's local-registry guide
//! (<https://kind.sigs.k8s.io/docs/user/local-registry/>): the kind config
//! gets the containerd patch that makes containerd read registry hosts from
//! [`CERTS_DIR`] ([`kind_config`]), exactly once whatever node image a profile
//! pins; each node gets a hosts.toml for `localhost:<port>` (what a developer
//! pushes to) and one for the upstream registry, which tries the local mirror
//! first ([`hosts_files`]). The format is containerd's hosts.toml (containerd
//! docs/hosts.md): `server` is the fallback tried after every `[host."..."]`.

use serde_yaml_ng::Value;

use crate::runtime::REGISTRY_CONTAINER_PORT;
use crate::values::describe;

/// Where containerd looks for hosts.toml once the patch is in.
pub const CERTS_DIR: &str = "/etc/containerd/certs.d";

/// The containerd patch of kind's local-registry guide, as kind takes it in
/// `containerdConfigPatches`.
pub const CONTAINERD_PATCH: &str =
    "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"";

const KIND_API_VERSION: &str = "kind.x-k8s.io/v1alpha4";

/// Why a kind config cannot be used; each says what to change in the file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WiringError {
    #[error("is not valid YAML: {0}")]
    Yaml(String),
    #[error("must be a YAML map with `kind: Cluster` and `apiVersion: {KIND_API_VERSION}`, but it is {0}")]
    NotAMap(&'static str),
    #[error("must have `kind: Cluster`, but has kind {0}")]
    Kind(String),
    #[error("must have `apiVersion: {KIND_API_VERSION}` (the version kind reads), but has apiVersion {0}")]
    ApiVersion(String),
    #[error("containerdConfigPatches must be a list of strings (TOML fragments), but {0}")]
    Patches(String),
    #[error("a containerdConfigPatches entry sets config_path = {0:?}; nvcf-dev writes registry hosts to {CERTS_DIR}, so remove that setting")]
    ConfigPath(String),
    #[error("a containerdConfigPatches entry is not TOML ({0}); fix it or remove it")]
    Toml(String),
    #[error("a containerdConfigPatches entry configures registry mirrors the deprecated way (registry.mirrors), which containerd refuses together with config_path; remove it (nvcf-dev sets up the mirror with hosts.toml files)")]
    Mirrors,
}

/// The kind config to create `cluster` with: the template (a built-in
/// `kind/*.yaml` or the user's file) with `name` set and the containerd
/// config_path patch present exactly once. Everything else (nodes, labels,
/// mounts, networking) is kept as written; comments are not, since the
/// result goes to kind on stdin and is never saved.
pub fn kind_config(template_yaml: &str, cluster: &str) -> Result<String, WiringError> {
    let yaml_err = |e: serde_yaml_ng::Error| WiringError::Yaml(e.to_string());
    let doc: Value = serde_yaml_ng::from_str(template_yaml).map_err(yaml_err)?;
    let Value::Mapping(mut map) = doc else {
        return Err(WiringError::NotAMap(describe(&doc)));
    };
    let shown = |key: &str| match map.get(key) {
        None => "none".into(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => describe(other).into(),
    };
    if map.get("kind") != Some(&"Cluster".into()) {
        return Err(WiringError::Kind(shown("kind")));
    }
    if map.get("apiVersion") != Some(&KIND_API_VERSION.into()) {
        return Err(WiringError::ApiVersion(shown("apiVersion")));
    }
    // The CLI's --name wins anyway; setting it keeps the config truthful.
    map.insert("name".into(), cluster.into());

    let existing = match map.get("containerdConfigPatches") {
        None | Some(Value::Null) => vec![],
        Some(Value::Sequence(items)) => items.clone(),
        Some(other) => return Err(WiringError::Patches(format!("it is {}", describe(other)))),
    };
    if let Some(p) = existing.iter().find(|p| !p.is_string()) {
        return Err(WiringError::Patches(format!(
            "one entry is {}",
            describe(p)
        )));
    }
    let mut patches: Vec<Value> = Vec::new();
    let mut has_config_path = false;
    for p in existing {
        match classify(p.as_str().unwrap_or_default())? {
            Patch::Ours if has_config_path => {} // a duplicate: drop it
            Patch::Ours | Patch::SetsConfigPath => {
                has_config_path = true;
                patches.push(p);
            }
            Patch::Other => patches.push(p),
        }
    }
    if !has_config_path {
        patches.push(CONTAINERD_PATCH.into());
    }
    map.insert("containerdConfigPatches".into(), Value::Sequence(patches));
    serde_yaml_ng::to_string(&Value::Mapping(map)).map_err(yaml_err)
}

enum Patch {
    /// Exactly [`CONTAINERD_PATCH`], up to whitespace.
    Ours,
    /// Sets our config_path among other settings: keep it, add nothing.
    SetsConfigPath,
    Other,
}

/// The CRI plugins whose `registry` table takes `config_path`: containerd
/// 1.x and 2.x name it differently.
const CRI_PLUGINS: [&str; 2] = ["io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images"];

/// Reads a containerd TOML fragment for its registry settings: a deprecated
/// `registry.mirrors` table, and `config_path`, however the TOML spells them
/// (dotted keys, inline tables, quoting).
fn classify(patch: &str) -> Result<Patch, WiringError> {
    let doc: toml_edit::DocumentMut = patch
        .parse()
        .map_err(|e: toml_edit::TomlError| WiringError::Toml(crate::ui::one_line(&e)))?;
    let mut sets = false;
    for plugin in CRI_PLUGINS {
        let plugins = doc.get("plugins").and_then(|p| p.get(plugin));
        let Some(registry) = plugins.and_then(|c| c.get("registry")) else {
            continue;
        };
        if registry.get("mirrors").is_some() {
            return Err(WiringError::Mirrors);
        }
        if let Some(v) = registry.get("config_path") {
            let v = v.as_str().unwrap_or_default();
            if v.trim_end_matches('/') != CERTS_DIR {
                return Err(WiringError::ConfigPath(v.to_string()));
            }
            sets = true;
        }
    }
    Ok(match (sets, leaves(doc.as_item())) {
        (true, 1) => Patch::Ours,
        (true, _) => Patch::SetsConfigPath,
        (false, _) => Patch::Other,
    })
}

/// How many values (not tables) a TOML item holds.
fn leaves(item: &toml_edit::Item) -> usize {
    match item.as_table_like() {
        Some(t) => t.iter().map(|(_, v)| leaves(v)).sum(),
        None => 1,
    }
}

/// hosts.toml for `localhost:<hostport>`, the name images have on the
/// developer's machine: on a node, localhost is the node itself, so pulls go
/// to the registry container by its name on the kind network instead.
pub fn hosts_toml_local(registry_container: &str, container_port: u16) -> String {
    format!(
        "[host.\"http://{registry_container}:{container_port}\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
    )
}

/// The hosts.toml that makes containerd try the local registry first for
/// images of `registry` (e.g. `nvcr.io`), as (directory, contents): the
/// local mirror is tried first, and `server` (upstream) only when the mirror
/// fails or lacks the image. containerd asks the mirror for the same path
/// (`/v2/<repository>/manifests/<tag>?ns=nvcr.io`), which matches the
/// mirror's layout because the mirror keeps repository paths; `resolve` lets
/// the mirror turn tags into digests, which is safe since it is our own copy.
/// `up` writes one for the upstream registry and one per registry the
/// mirrored images came from.
pub fn mirror_host_file(registry: &str, registry_container: &str) -> (String, String) {
    let host = registry_host(registry);
    // containerd's default endpoint for docker.io is registry-1.docker.io;
    // https://docker.io itself does not serve the registry API.
    let server = match host {
        "docker.io" => "registry-1.docker.io",
        host => host,
    };
    let mirror = hosts_toml_local(registry_container, REGISTRY_CONTAINER_PORT);
    let toml = format!("server = \"https://{server}\"\n\n{mirror}");
    (format!("{CERTS_DIR}/{host}"), toml)
}

/// The host[:port] part of a registry given with or without scheme or path,
/// which is how containerd names the hosts directory.
fn registry_host(upstream: &str) -> &str {
    let s = upstream.trim();
    let s = (s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://")))
    .unwrap_or(s);
    match s.split('/').next().unwrap_or(s) {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        host => host,
    }
}

/// Every hosts.toml a node needs, as (directory, contents): the directory is
/// under [`CERTS_DIR`] and the file is `<directory>/hosts.toml`. containerd
/// rereads these on every pull, so no restart is needed.
pub fn hosts_files(
    upstream: &str,
    registry_container: &str,
    hostport: u16,
) -> Vec<(String, String)> {
    let local = format!("localhost:{hostport}");
    let toml = hosts_toml_local(registry_container, REGISTRY_CONTAINER_PORT);
    let mut files = vec![(format!("{CERTS_DIR}/{local}"), toml)];
    let host = registry_host(upstream);
    if !host.is_empty() && host != local {
        files.push(mirror_host_file(host, registry_container));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: &str = "nvcf-dev-registry";

    fn builtin(name: &str) -> String {
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("kind/{name}.yaml")),
        )
        .unwrap()
    }

    fn parsed(yaml: &str) -> Value {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    fn patches(v: &Value) -> Vec<&str> {
        v["containerdConfigPatches"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect()
    }

    #[test]
    fn adds_the_patch_to_a_bare_config() {
        let out = kind_config(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n",
            "nvcf-dev",
        )
        .unwrap();
        assert_eq!(
            out,
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: nvcf-dev\ncontainerdConfigPatches:\n- |-\n  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n    config_path = \"/etc/containerd/certs.d\"\n"
        );
    }

    #[test]
    fn builtin_configs_keep_exactly_one_patch() {
        for name in ["single-node", "multi-node"] {
            let text = builtin(name);
            let out = kind_config(&text, "c1").unwrap();
            let v = parsed(&out);
            assert_eq!(patches(&v), [CONTAINERD_PATCH], "{name}");
            assert_eq!(v["name"].as_str(), Some("c1"));
            // Idempotent: feeding the result back changes nothing.
            assert_eq!(kind_config(&out, "c1").unwrap(), out, "{name}");
        }
    }

    #[test]
    fn multi_node_has_the_guides_workload_labels() {
        let v = parsed(&kind_config(&builtin("multi-node"), "c").unwrap());
        let nodes = v["nodes"].as_sequence().unwrap();
        let roles: Vec<_> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
        assert_eq!(
            roles,
            ["control-plane", "worker", "worker", "worker", "worker"]
        );
        let labels: Vec<_> = nodes[1..]
            .iter()
            .map(|n| n["labels"]["nvcf.nvidia.com/workload"].as_str().unwrap())
            .collect();
        assert_eq!(labels, ["control-plane", "vault", "vault", "cassandra"]);
        let single = parsed(&builtin("single-node"));
        assert_eq!(single["nodes"].as_sequence().unwrap().len(), 1);
    }

    #[test]
    fn keeps_user_settings_and_dedups_the_patch() {
        let user = r#"
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
name: theirs
networking:
  apiServerPort: 6443
nodes:
  - role: control-plane
    labels: {tier: a}
    extraMounts: [{hostPath: /tmp/x, containerPath: /x}]
containerdConfigPatches:
  - |
    [plugins."io.containerd.grpc.v1.cri".registry]
        config_path   =   "/etc/containerd/certs.d"
  - |-
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
  - |-
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
"#;
        let v = parsed(&kind_config(user, "nvcf-dev").unwrap());
        assert_eq!(v["name"].as_str(), Some("nvcf-dev"));
        assert_eq!(v["networking"]["apiServerPort"].as_u64(), Some(6443));
        assert_eq!(v["nodes"][0]["labels"]["tier"].as_str(), Some("a"));
        assert_eq!(
            v["nodes"][0]["extraMounts"][0]["containerPath"].as_str(),
            Some("/x")
        );
        let p = patches(&v);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("config_path"));
        assert!(p[1].contains("snapshotter"));
    }

    #[test]
    fn a_patch_with_our_config_path_and_more_counts_as_the_patch() {
        let user = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\ncontainerdConfigPatches:\n- |-\n  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n    config_path = \"/etc/containerd/certs.d\"\n  [plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"r.example\".tls]\n    insecure_skip_verify = true\n";
        let v = parsed(&kind_config(user, "c").unwrap());
        let p = patches(&v);
        assert_eq!(p.len(), 1);
        assert!(p[0].contains("insecure_skip_verify"));
    }

    #[test]
    fn clear_errors_for_configs_kind_would_not_take() {
        let err = |y: &str| kind_config(y, "c").unwrap_err().to_string();
        assert_eq!(
            err("apiVersion: kind.x-k8s.io/v1alpha4\nkind: Pod\n"),
            "must have `kind: Cluster`, but has kind \"Pod\""
        );
        assert_eq!(
            err("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\n"),
            "must have `apiVersion: kind.x-k8s.io/v1alpha4` (the version kind reads), but has apiVersion \"kind.x-k8s.io/v1alpha3\""
        );
        assert_eq!(
            err("kind: Cluster\n"),
            "must have `apiVersion: kind.x-k8s.io/v1alpha4` (the version kind reads), but has apiVersion none"
        );
        assert!(err("").contains("but it is empty"));
        assert!(err("- a\n").contains("but it is a list"));
        assert!(err("kind: [unclosed\n").starts_with("is not valid YAML"));
        let base = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n";
        assert_eq!(
            err(&format!("{base}containerdConfigPatches: \"x\"\n")),
            "containerdConfigPatches must be a list of strings (TOML fragments), but it is a string"
        );
        assert!(err(&format!("{base}containerdConfigPatches: [{{a: 1}}]\n"))
            .contains("one entry is a map"));
        assert_eq!(
            err(&format!("{base}containerdConfigPatches:\n- |-\n  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n    config_path = \"/etc/containerd/hosts\"\n")),
            "a containerdConfigPatches entry sets config_path = \"/etc/containerd/hosts\"; nvcf-dev writes registry hosts to /etc/containerd/certs.d, so remove that setting"
        );
        assert!(err(&format!("{base}containerdConfigPatches:\n- |-\n  [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"localhost:5001\"]\n    endpoint = [\"http://r:5000\"]\n"))
            .contains("registry.mirrors"));
        // However the TOML spells it: a dotted key, or containerd 2's plugin.
        assert!(err(&format!("{base}containerdConfigPatches:\n- |-\n  [plugins]\n    \"io.containerd.grpc.v1.cri\".registry.mirrors.\"r.example\".endpoint = [\"http://r\"]\n"))
            .contains("registry.mirrors"));
        assert!(err(&format!("{base}containerdConfigPatches:\n- |-\n  [plugins.'io.containerd.cri.v1.images'.registry]\n    config_path = '/etc/containerd/hosts'\n"))
            .contains("sets config_path = \"/etc/containerd/hosts\""));
        assert!(err(&format!(
            "{base}containerdConfigPatches:\n- |-\n  [plugins\n"
        ))
        .starts_with("a containerdConfigPatches entry is not TOML ("));
    }

    #[test]
    fn local_hosts_toml() {
        assert_eq!(
            hosts_toml_local(C, 5000),
            "[host.\"http://nvcf-dev-registry:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
        );
    }

    #[test]
    fn upstream_hosts_toml_tries_the_mirror_first() {
        let upstream = |registry: &str| mirror_host_file(registry, C).1;
        assert_eq!(
            upstream("nvcr.io"),
            "server = \"https://nvcr.io\"\n\n[host.\"http://nvcf-dev-registry:5000\"]\n  capabilities = [\"pull\", \"resolve\"]\n"
        );
        assert!(upstream("https://nvcr.io/org/team").starts_with("server = \"https://nvcr.io\"\n"));
        assert!(upstream("docker.io").starts_with("server = \"https://registry-1.docker.io\"\n"));
    }

    #[test]
    fn files_for_every_node() {
        assert_eq!(
            hosts_files("nvcr.io", C, 5001),
            [
                (
                    "/etc/containerd/certs.d/localhost:5001".to_string(),
                    hosts_toml_local(C, 5000)
                ),
                mirror_host_file("nvcr.io", C),
            ]
        );
        // Upstream given as a URL or Docker Hub alias: the directory is the host.
        assert_eq!(
            hosts_files("https://index.docker.io/v1/", C, 5001)[1].0,
            "/etc/containerd/certs.d/docker.io"
        );
        // Mirroring from the local registry itself: one file, not a loop.
        assert_eq!(hosts_files("localhost:5001", C, 5001).len(), 1);
    }

    #[test]
    fn hosts_toml_is_well_formed_toml() {
        // No TOML parser among the dependencies: check the shape line by line
        // (tables are quoted keys, values are strings or string arrays).
        for (_, text) in hosts_files("nvcr.io", C, 5001) {
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let table = line.starts_with("[host.\"http://") && line.ends_with("\"]");
                let kv = line.split_once(" = ").is_some_and(|(k, v)| {
                    k.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        && ((v.starts_with('"') && v.ends_with('"'))
                            || (v.starts_with("[\"") && v.ends_with("\"]")))
                });
                assert!(table || kv, "{line:?} in\n{text}");
            }
        }
    }

    #[test]
    fn mirror_host_files_send_other_registries_to_the_local_one_first() {
        let (dir, toml) = mirror_host_file("docker.io", "nvcf-dev-registry");
        assert_eq!(dir, "/etc/containerd/certs.d/docker.io");
        assert!(
            toml.contains("[host.\"http://nvcf-dev-registry:5000\"]"),
            "{toml}"
        );
        assert!(
            toml.starts_with("server = \"https://registry-1.docker.io\""),
            "{toml}"
        );
    }
}
