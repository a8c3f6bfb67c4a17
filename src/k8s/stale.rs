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

use super::client::list;
use super::error::{is_not_found, one_line, KubeError};

/// Everything listed in a namespace (plus the cluster-scoped objects
/// labelled with the release), as input to [`stale_resources`].
#[derive(Debug, Clone, Default)]
pub struct ObservedNamespace {
    pub statefulsets: Vec<StatefulSet>,
    pub deployments: Vec<Deployment>,
    pub replicasets: Vec<ReplicaSet>,
    pub daemonsets: Vec<DaemonSet>,
    pub pods: Vec<Pod>,
    pub services: Vec<Service>,
    pub jobs: Vec<Job>,
    pub pvcs: Vec<PersistentVolumeClaim>,
    pub configmaps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
    /// Cluster-scoped, listed with `app.kubernetes.io/instance=<release>`.
    pub mutating_webhooks: Vec<MutatingWebhookConfiguration>,
    pub cluster_roles: Vec<ClusterRole>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
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

/// References to `objs`, in namespace `ns` (None: cluster-scoped).
fn refs<'a, K: Resource<DynamicType = ()> + 'a>(
    objs: impl IntoIterator<Item = &'a K> + 'a,
    ns: Option<&'a str>,
) -> impl Iterator<Item = ResourceRef> + 'a {
    objs.into_iter().map(move |o| ResourceRef {
        kind: K::kind(&()).to_string(),
        namespace: ns.map(str::to_string),
        name: o.name_any(),
        uid: o.uid(),
        api: ApiResource::erase::<K>(&()),
    })
}

/// The cluster-scoped `objs` labelled as `release`'s.
fn released<'a, K: Resource<DynamicType = ()>>(
    objs: &'a [K],
    release: &'a str,
) -> impl Iterator<Item = ResourceRef> + 'a {
    let ours = objs
        .iter()
        .filter(move |o| o.labels().get(INSTANCE_LABEL).map(String::as_str) == Some(release));
    refs(ours, None)
}

/// Helm release secrets of *another* release (label owner=helm, name≠release)
/// are kept: a namespace may hold more than one release.
fn is_other_release_secret(s: &Secret, release: &str) -> bool {
    let label = |k: &str| s.labels().get(k).map(String::as_str);
    s.type_.as_deref() == Some("helm.sh/release.v1")
        && label("owner") == Some("helm")
        && label("name") != Some(release)
}

/// The default service account's token secret (only on clusters that still
/// create them) belongs to the namespace, not to the release.
fn is_default_sa_token(s: &Secret) -> bool {
    let sa = s.annotations().get("kubernetes.io/service-account.name");
    s.type_.as_deref() == Some("kubernetes.io/service-account-token")
        && sa.map(String::as_str) == Some("default")
}

/// Decides what to delete in `ns` for `release`, following the guide's
/// "delete all,cm,secret,pvc,job --all" with judgement:
/// - all workloads, pods, services, jobs and PVCs;
/// - configmaps except `kube-root-ca.crt` (the API server recreates it anyway);
/// - secrets, including unseal/root-token/cluster-jwt and this release's helm
///   release secrets (`sh.helm.release.v1.<release>.vN`, a stuck release),
///   but not another release's helm secrets nor the default SA token;
/// - cluster-scoped webhooks, cluster roles and bindings labelled
///   `app.kubernetes.io/instance=<release>` (the injector's leftovers).
///
/// Order: workloads before pods (so controllers do not recreate them), PVCs
/// after pods (their `kubernetes.io/pvc-protection` finalizer waits for pods).
pub fn stale_resources(ns: &str, o: &ObservedNamespace, release: &str) -> Vec<ResourceRef> {
    let n = Some(ns);
    let configmaps = o
        .configmaps
        .iter()
        .filter(|c| c.name_any() != "kube-root-ca.crt");
    let secrets = o
        .secrets
        .iter()
        .filter(|s| !is_default_sa_token(s) && !is_other_release_secret(s, release));
    refs(&o.statefulsets, n)
        .chain(refs(&o.deployments, n))
        .chain(refs(&o.daemonsets, n))
        .chain(refs(&o.replicasets, n))
        .chain(refs(&o.jobs, n))
        .chain(refs(&o.pods, n))
        .chain(refs(&o.services, n))
        .chain(refs(configmaps, n))
        .chain(refs(secrets, n))
        .chain(refs(&o.pvcs, n))
        .chain(released(&o.mutating_webhooks, release))
        .chain(released(&o.cluster_roles, release))
        .chain(released(&o.cluster_role_bindings, release))
        .collect()
}

/// Lists everything [`stale_resources`] looks at.
pub async fn observe(
    client: &kube::Client,
    ns: &str,
    release: &str,
) -> Result<ObservedNamespace, KubeError> {
    let c = client;
    let all = ListParams::default();
    let labelled = ListParams::default().labels(&format!("{INSTANCE_LABEL}={release}"));
    Ok(ObservedNamespace {
        statefulsets: list(Api::namespaced(c.clone(), ns), &all, ns).await?,
        deployments: list(Api::namespaced(c.clone(), ns), &all, ns).await?,
        replicasets: list(Api::namespaced(c.clone(), ns), &all, ns).await?,
        daemonsets: list(Api::namespaced(c.clone(), ns), &all, ns).await?,
        pods: list(Api::namespaced(c.clone(), ns), &all, ns).await?,
        services: list(Api::namespaced(c.clone(), ns), &all, ns).await?,
        jobs: list(Api::namespaced(c.clone(), ns), &all, ns).await?,
        pvcs: list(Api::namespaced(c.clone(), ns), &all, ns).await?,
        configmaps: list(Api::namespaced(c.clone(), ns), &all, ns).await?,
        secrets: list(Api::namespaced(c.clone(), ns), &all, ns).await?,
        mutating_webhooks: list(Api::all(c.clone()), &labelled, "cluster").await?,
        cluster_roles: list(Api::all(c.clone()), &labelled, "cluster").await?,
        cluster_role_bindings: list(Api::all(c.clone()), &labelled, "cluster").await?,
    })
}

/// Deletes one object (404 counts as done), then waits until it is gone,
/// finalizers included. The uid guards against waiting on a recreated twin.
async fn delete_one(client: &kube::Client, r: &ResourceRef) -> Result<(), KubeError> {
    let api: Api<DynamicObject> = match &r.namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &r.api),
        None => Api::all_with(client.clone(), &r.api),
    };
    let failed = |detail| KubeError::Delete {
        kind: r.kind.clone(),
        name: r.name.clone(),
        detail,
    };
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
    use crate::k8s::fixtures::obj;
    use serde_json::json;

    fn secret(
        name: &str,
        type_: &str,
        labels: serde_json::Value,
        ann: serde_json::Value,
    ) -> Secret {
        obj(&json!({"apiVersion": "v1", "kind": "Secret", "type": type_,
            "metadata": {"name": name, "namespace": "vault-system", "uid": format!("uid-{name}"), "labels": labels, "annotations": ann}})
        .to_string())
    }

    fn observed_vault_system() -> ObservedNamespace {
        ObservedNamespace {
            statefulsets: vec![obj(
                r#"{"metadata":{"name":"openbao-server","namespace":"vault-system","uid":"s1"}}"#,
            )],
            deployments: vec![obj(
                r#"{"metadata":{"name":"openbao-server-agent-injector","namespace":"vault-system","uid":"d1"}}"#,
            )],
            pods: vec![obj(
                r#"{"metadata":{"name":"openbao-server-0","namespace":"vault-system","uid":"p0"}}"#,
            )],
            jobs: vec![obj(
                r#"{"metadata":{"name":"openbao-server-initialize-cluster","namespace":"vault-system","uid":"j1"}}"#,
            )],
            pvcs: vec![obj(
                r#"{"metadata":{"name":"data-openbao-server-0","namespace":"vault-system","uid":"pvc0","finalizers":["kubernetes.io/pvc-protection"]}}"#,
            )],
            configmaps: vec![
                obj(
                    r#"{"metadata":{"name":"kube-root-ca.crt","namespace":"vault-system","uid":"c0"}}"#,
                ),
                obj(
                    r#"{"metadata":{"name":"openbao-server-config","namespace":"vault-system","uid":"c1"}}"#,
                ),
            ],
            secrets: vec![
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
            ],
            cluster_roles: vec![
                obj(
                    r#"{"metadata":{"name":"openbao-server-agent-injector-clusterrole","uid":"cr1","labels":{"app.kubernetes.io/instance":"openbao-server"}}}"#,
                ),
                obj(
                    r#"{"metadata":{"name":"someone-else","uid":"cr2","labels":{"app.kubernetes.io/instance":"x"}}}"#,
                ),
            ],
            mutating_webhooks: vec![obj(
                r#"{"metadata":{"name":"openbao-server-agent-injector-cfg","uid":"mw1","labels":{"app.kubernetes.io/instance":"openbao-server"}}}"#,
            )],
            ..Default::default()
        }
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
        assert!(stale_resources("nats-system", &ObservedNamespace::default(), "nats").is_empty());
    }
}
