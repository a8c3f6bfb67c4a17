//! Objects `up` puts into the cluster itself: the KEP-1755 registry
//! ConfigMap and the Phase 1 namespaces. Built by pure functions, applied
//! with server-side apply so re-running `up` is a no-op.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};

use super::error::{api_err, one_line, KubeError, CHECK_UP, CHECK_WRITE};

/// Field manager for every server-side apply: lets the API server tell our
/// fields from helm's and kubectl's.
pub const FIELD_MANAGER: &str = "nvcf-dev";
/// Marks what nvcf-dev created, so `down` and `status` can find it.
pub const MANAGED_BY_LABEL: &str = "dev.nvcf.managed-by";

fn managed_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(MANAGED_BY_LABEL.to_string(), FIELD_MANAGER.to_string())])
}

/// The KEP-1755 `local-registry-hosting` ConfigMap in kube-public, which tells
/// tools (Tilt, skaffold, ...) where the cluster's local registry is.
/// `host` is what you push to from the host, e.g. `localhost:5001`.
pub fn local_registry_configmap(host: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some("local-registry-hosting".into()),
            namespace: Some("kube-public".into()),
            labels: Some(managed_labels()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([(
            "localRegistryHosting.v1".to_string(),
            format!(
                "host: \"{host}\"\nhelp: \"https://kind.sigs.k8s.io/docs/user/local-registry/\"\n"
            ),
        )])),
        ..Default::default()
    }
}

/// A namespace labelled as ours.
pub fn managed_namespace(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(managed_labels()),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Server-side applies the registry ConfigMap (idempotent).
pub async fn apply_local_registry_configmap(
    client: &kube::Client,
    host: &str,
) -> Result<ConfigMap, KubeError> {
    let name = "local-registry-hosting";
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-public");
    let cm = local_registry_configmap(host);
    let applied = api.patch(name, &apply, &Patch::Apply(&cm)).await;
    let action = format!("apply ConfigMap `kube-public/{name}`");
    applied.map_err(|e| api_err(action, CHECK_WRITE, one_line(&e)))
}

/// Creates each namespace that does not exist yet, labelled as ours. A
/// namespace that already exists is left exactly as it is: it is not ours,
/// so `down` will never empty it. Returns the names it created.
pub async fn ensure_namespaces(
    client: &kube::Client,
    names: &[&str],
) -> Result<Vec<String>, KubeError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let failed = |name: &str, e: kube::Error| {
        api_err(
            format!("apply Namespace `{name}`"),
            CHECK_WRITE,
            one_line(&e),
        )
    };
    let mut created = Vec::new();
    for name in names {
        let found = api.get_opt(name).await.map_err(|e| failed(name, e))?;
        if found.is_some() {
            continue;
        }
        let ns = managed_namespace(name);
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => created.push(name.to_string()),
            // Created meanwhile by someone else: theirs, and fine.
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => return Err(failed(name, e)),
        }
    }
    Ok(created)
}

/// Whether namespace `ns` exists and `up` created it (it carries our label).
pub async fn namespace_is_ours(client: &kube::Client, ns: &str) -> Result<bool, KubeError> {
    let api: Api<Namespace> = Api::all(client.clone());
    let found = api.get_opt(ns).await;
    let found =
        found.map_err(|e| api_err(format!("read Namespace `{ns}`"), CHECK_UP, one_line(&e)))?;
    Ok(found.is_some_and(|n| {
        n.labels().get(MANAGED_BY_LABEL).map(String::as_str) == Some(FIELD_MANAGER)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_configmap_follows_kep_1755() {
        let cm = local_registry_configmap("localhost:5001");
        let v = serde_json::to_value(&cm).unwrap();
        assert_eq!(v["metadata"]["namespace"], "kube-public");
        assert_eq!(v["metadata"]["labels"]["dev.nvcf.managed-by"], "nvcf-dev");
        let data = v["data"]["localRegistryHosting.v1"].as_str().unwrap();
        assert_eq!(
            data,
            "host: \"localhost:5001\"\nhelp: \"https://kind.sigs.k8s.io/docs/user/local-registry/\"\n"
        );
        let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(data).unwrap();
        assert_eq!(parsed["host"], "localhost:5001");
    }

    #[test]
    fn namespaces_carry_the_managed_label() {
        let ns = managed_namespace("vault-system");
        assert_eq!(ns.metadata.name.as_deref(), Some("vault-system"));
        assert_eq!(ns.metadata.labels.unwrap()[MANAGED_BY_LABEL], FIELD_MANAGER);
    }
}
