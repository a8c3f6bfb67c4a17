//! Stale resources of a failed or removed release (`nvcf-dev reset <component>`,
//! `down`): what the guide's `kubectl delete all,cm,secret,pvc,job --all`
//! removes, decided by a pure function, then deleted and *waited for*, so a
//! reinstall never meets a terminating PVC or a leftover unseal secret.

use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{ApiResource, DeleteParams, DynamicObject, ListParams};
use kube::runtime::wait::{await_condition, conditions::is_deleted};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;

use super::client::list_of;
use super::error::{api_err, is_not_found, one_line, KubeError};

/// The objects of one kind, as listed for [`stale_resources`].
#[derive(Debug, Clone)]
pub struct Listed {
    pub api: ApiResource,
    /// Cluster-scoped kinds are listed by `app.kubernetes.io/instance=<release>`.
    pub cluster_scoped: bool,
    pub objects: Vec<DynamicObject>,
}

/// The kinds looked at, in deletion order: workloads before pods (so
/// controllers do not recreate them), PVCs after pods (their
/// `kubernetes.io/pvc-protection` finalizer waits for pods); `true` marks the
/// cluster-scoped ones.
fn kinds() -> [(ApiResource, bool); 13] {
    fn kind<K: Resource<DynamicType = ()>>(cluster_scoped: bool) -> (ApiResource, bool) {
        (ApiResource::erase::<K>(&()), cluster_scoped)
    }
    [
        kind::<StatefulSet>(false),
        kind::<Deployment>(false),
        kind::<DaemonSet>(false),
        kind::<ReplicaSet>(false),
        kind::<Job>(false),
        kind::<Pod>(false),
        kind::<Service>(false),
        kind::<ConfigMap>(false),
        kind::<Secret>(false),
        kind::<PersistentVolumeClaim>(false),
        kind::<MutatingWebhookConfiguration>(true),
        kind::<ClusterRole>(true),
        kind::<ClusterRoleBinding>(true),
    ]
}

/// A resource to delete. `namespace` is None for cluster-scoped kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    #[serde(skip)]
    pub uid: Option<String>,
    /// Where the API serves its kind.
    #[serde(skip)]
    pub api: ApiResource,
}

impl std::fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind.to_lowercase(), self.name)?;
        match &self.namespace {
            Some(ns) => write!(f, " -n {ns}"),
            None => Ok(()),
        }
    }
}

const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";

/// Whether `o`, listed as `l`, is to be deleted for `release`, following the
/// guide's "delete all,cm,secret,pvc,job --all" with judgement:
/// - all workloads, pods, services, jobs and PVCs;
/// - configmaps except `kube-root-ca.crt` (the API server recreates it anyway);
/// - secrets, including unseal/root-token/cluster-jwt and this release's helm
///   release secrets (`sh.helm.release.v1.<release>.vN`, a stuck release),
///   but not another release's helm secrets (a namespace may hold more than
///   one release) nor the default service account's token (it belongs to the
///   namespace);
/// - cluster-scoped objects labelled as the release's (the injector's leftovers).
fn is_stale(l: &Listed, o: &DynamicObject, release: &str) -> bool {
    let label = |k: &str| o.labels().get(k).map(String::as_str);
    let secret_type = o.data["type"].as_str();
    match l.api.kind.as_str() {
        _ if l.cluster_scoped => label(INSTANCE_LABEL) == Some(release),
        "ConfigMap" => o.name_any() != "kube-root-ca.crt",
        "Secret" => {
            let sa = o.annotations().get("kubernetes.io/service-account.name");
            let default_sa_token = secret_type == Some("kubernetes.io/service-account-token")
                && sa.map(String::as_str) == Some("default");
            let other_release = secret_type == Some("helm.sh/release.v1")
                && label("owner") == Some("helm")
                && label("name") != Some(release);
            !default_sa_token && !other_release
        }
        _ => true,
    }
}

/// What to delete in `ns` for `release`, in the order of `listed`.
pub fn stale_resources(ns: &str, listed: &[Listed], release: &str) -> Vec<ResourceRef> {
    let refs = |l: &Listed| {
        let stale = l.objects.iter().filter(|o| is_stale(l, o, release));
        stale
            .map(|o| ResourceRef {
                kind: l.api.kind.clone(),
                namespace: (!l.cluster_scoped).then(|| ns.to_string()),
                name: o.name_any(),
                uid: o.uid(),
                api: l.api.clone(),
            })
            .collect::<Vec<_>>()
    };
    listed.iter().flat_map(refs).collect()
}

/// Lists everything [`stale_resources`] looks at.
pub async fn observe(
    client: &kube::Client,
    ns: &str,
    release: &str,
) -> Result<Vec<Listed>, KubeError> {
    let all = ListParams::default();
    let labelled = ListParams::default().labels(&format!("{INSTANCE_LABEL}={release}"));
    let mut listed = Vec::new();
    for (api, cluster_scoped) in kinds() {
        let (lister, lp, scope) = if cluster_scoped {
            (Api::all_with(client.clone(), &api), &labelled, "cluster")
        } else {
            (Api::namespaced_with(client.clone(), ns, &api), &all, ns)
        };
        let objects = list_of(lister, lp, scope, &api.plural).await?;
        listed.push(Listed {
            api,
            cluster_scoped,
            objects,
        });
    }
    Ok(listed)
}

/// Deletes one object (404 counts as done), then waits until it is gone,
/// finalizers included. The uid guards against waiting on a recreated twin.
async fn delete_one(client: &kube::Client, r: &ResourceRef) -> Result<(), KubeError> {
    let api: Api<DynamicObject> = match &r.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &r.api),
        None => Api::all_with(client.clone(), &r.api),
    };
    let advice = "retry, or delete it by hand with kubectl";
    let failed = |detail| api_err(format!("delete {} `{}`", r.kind, r.name), advice, detail);
    match api.delete(&r.name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(failed(one_line(&e))),
    }
    let uid = r.uid.clone().unwrap_or_default();
    await_condition(api, &r.name, is_deleted(&uid))
        .await
        .map(drop)
        .map_err(|e| failed(format!("waiting for deletion: {}", one_line(&e))))
}

/// Removes the stale resources of `release` in `ns` and returns what it
/// removed. With `dry_run` it only returns the list. Deletes use
/// propagationPolicy=Background; then every object is awaited (watch, not
/// polling) until really gone, bounded by `timeout`.
pub async fn delete_stale(
    client: &kube::Client,
    ns: &str,
    release: &str,
    timeout: Duration,
    dry_run: bool,
) -> Result<Vec<ResourceRef>, KubeError> {
    let observed = observe(client, ns, release).await?;
    let stale = stale_resources(ns, &observed, release);
    if dry_run || stale.is_empty() {
        return Ok(stale);
    }
    let all = futures::future::try_join_all(stale.iter().map(|r| delete_one(client, r)));
    match tokio::time::timeout(timeout, all).await {
        Ok(res) => res.map(|_| stale),
        Err(_) => {
            let now = observe(client, ns, release).await?;
            let left: Vec<String> = stale_resources(ns, &now, release)
                .iter()
                .filter(|r| stale.iter().any(|s| s.uid == r.uid))
                .map(ToString::to_string)
                .collect();
            Err(KubeError::DeleteTimeout {
                timeout_secs: timeout.as_secs(),
                remaining: left.join(", "),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// `objects` (each with its `kind`) listed as [`observe`] lists them.
    fn listed(objects: &[Value]) -> Vec<Listed> {
        let of_kind = |api: &ApiResource| {
            let of_kind = objects.iter().filter(|o| o["kind"] == api.kind.as_str());
            of_kind
                .map(|o| serde_json::from_value(o.clone()).unwrap())
                .collect()
        };
        kinds()
            .into_iter()
            .map(|(api, cluster_scoped)| Listed {
                objects: of_kind(&api),
                api,
                cluster_scoped,
            })
            .collect()
    }

    fn named(kind: &str, name: &str) -> Value {
        json!({"kind": kind, "metadata": {"name": name, "namespace": "vault-system", "uid": format!("uid-{name}")}})
    }

    fn secret(name: &str, type_: &str, labels: Value, ann: Value) -> Value {
        json!({"kind": "Secret", "type": type_,
            "metadata": {"name": name, "namespace": "vault-system", "uid": format!("uid-{name}"), "labels": labels, "annotations": ann}})
    }

    fn released(kind: &str, name: &str, instance: &str) -> Value {
        json!({"kind": kind, "metadata": {"name": name, "uid": format!("uid-{name}"), "labels": {"app.kubernetes.io/instance": instance}}})
    }

    fn observed_vault_system() -> Vec<Listed> {
        listed(&[
            named("StatefulSet", "openbao-server"),
            named("Deployment", "openbao-server-agent-injector"),
            named("Pod", "openbao-server-0"),
            named("Job", "openbao-server-initialize-cluster"),
            json!({"kind": "PersistentVolumeClaim", "metadata": {"name": "data-openbao-server-0", "namespace": "vault-system", "uid": "pvc0", "finalizers": ["kubernetes.io/pvc-protection"]}}),
            named("ConfigMap", "kube-root-ca.crt"),
            named("ConfigMap", "openbao-server-config"),
            secret("openbao-server-unseal", "Opaque", json!({}), json!({})),
            secret("openbao-server-root-token", "Opaque", json!({}), json!({})),
            secret("cluster-jwt", "Opaque", json!({}), json!({})),
            secret(
                "sh.helm.release.v1.openbao-server.v1",
                "helm.sh/release.v1",
                json!({"owner": "helm", "name": "openbao-server", "status": "pending-install", "version": "1"}),
                json!({}),
            ),
            secret(
                "sh.helm.release.v1.other.v3",
                "helm.sh/release.v1",
                json!({"owner": "helm", "name": "other", "status": "deployed", "version": "3"}),
                json!({}),
            ),
            secret(
                "default-token-x7k2p",
                "kubernetes.io/service-account-token",
                json!({}),
                json!({"kubernetes.io/service-account.name": "default"}),
            ),
            released(
                "ClusterRole",
                "openbao-server-agent-injector-clusterrole",
                "openbao-server",
            ),
            released("ClusterRole", "someone-else", "x"),
            released(
                "MutatingWebhookConfiguration",
                "openbao-server-agent-injector-cfg",
                "openbao-server",
            ),
        ])
    }

    #[test]
    fn openbao_leftovers_are_chosen_with_judgement() {
        let names: Vec<String> =
            stale_resources("vault-system", &observed_vault_system(), "openbao-server")
                .iter()
                .map(ToString::to_string)
                .collect();
        assert_eq!(
            names,
            [
                "statefulset/openbao-server -n vault-system",
                "deployment/openbao-server-agent-injector -n vault-system",
                "job/openbao-server-initialize-cluster -n vault-system",
                "pod/openbao-server-0 -n vault-system",
                "configmap/openbao-server-config -n vault-system",
                "secret/openbao-server-unseal -n vault-system",
                "secret/openbao-server-root-token -n vault-system",
                "secret/cluster-jwt -n vault-system",
                "secret/sh.helm.release.v1.openbao-server.v1 -n vault-system",
                "persistentvolumeclaim/data-openbao-server-0 -n vault-system",
                "mutatingwebhookconfiguration/openbao-server-agent-injector-cfg",
                "clusterrole/openbao-server-agent-injector-clusterrole",
            ]
        );
    }

    #[test]
    fn empty_namespace_has_nothing_stale() {
        assert!(stale_resources("nats-system", &listed(&[]), "nats").is_empty());
    }
}
