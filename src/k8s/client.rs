//! Connecting to a cluster, and the listers and getters the other modules share.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use super::error::{api_err, one_line, KubeError, CHECK_UP};

/// How long a TCP connect may take. kind's API server is local, so anything
/// slower means it is down; failing fast beats hanging.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on the first request that proves the API server answers.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// A client for exactly `context` from the usual kubeconfig ($KUBECONFIG or
/// ~/.kube/config), and the API server's version
/// (`gitVersion`) its proof of life answered, so nobody needs to ask again.
/// The connect and first request are bounded, so a stopped kind cluster is
/// reported in seconds; the read timeout stays at kube's default (295 s) on
/// purpose: watches legitimately stay silent for minutes while helm installs.
pub async fn connect(context: &str) -> Result<(kube::Client, String), KubeError> {
    let kubeconfig = Kubeconfig::read().map_err(|e| KubeError::Kubeconfig {
        detail: one_line(&e),
    })?;
    client_from_kubeconfig(kubeconfig, context).await
}

/// [`connect`] on an already-read kubeconfig.
pub async fn client_from_kubeconfig(
    kubeconfig: Kubeconfig,
    context: &str,
) -> Result<(kube::Client, String), KubeError> {
    let known: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if !known.contains(&context) {
        let available = if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        };
        let context = context.to_string();
        return Err(KubeError::ContextNotFound { context, available });
    }
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| KubeError::Kubeconfig {
            detail: one_line(&e),
        })?;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    let connect_err = |detail: String| KubeError::Connect {
        context: context.to_string(),
        detail,
    };
    let client = kube::Client::try_from(config).map_err(|e| connect_err(one_line(&e)))?;
    match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(v)) => Ok((client, v.git_version)),
        Ok(Err(e)) => Err(connect_err(one_line(&e))),
        Err(_) => Err(connect_err(format!(
            "no answer within {}s",
            PROBE_TIMEOUT.as_secs()
        ))),
    }
}

/// A client for `context` and the API server's version, within `within`.
pub async fn reach(context: &str, within: Duration) -> Result<(kube::Client, String), KubeError> {
    let reached = tokio::time::timeout(within, connect(context)).await;
    reached.unwrap_or_else(|_| {
        let detail = format!("no answer within {}s", within.as_secs());
        let context = context.to_string();
        Err(KubeError::Connect { context, detail })
    })
}

/// The context name kind gives a cluster.
pub fn kind_context(cluster: &str) -> String {
    format!("kind-{cluster}")
}

/// The items of a list through `api`; a failure names the kind and `ns`
/// (the namespace, or "cluster" for cluster-scoped kinds).
pub(crate) async fn list<K>(api: Api<K>, lp: &ListParams, ns: &str) -> Result<Vec<K>, KubeError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    list_of(api, lp, ns, &K::plural(&())).await
}

/// [`list`] for kinds known only at run time (dynamic objects), named `plural`.
pub(crate) async fn list_of<K>(
    api: Api<K>,
    lp: &ListParams,
    ns: &str,
    plural: &str,
) -> Result<Vec<K>, KubeError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    // A cluster-scoped kind is listed with no namespace to name.
    let place = if ns.is_empty() {
        String::new()
    } else {
        format!(" in `{ns}`")
    };
    let failed = |e| api_err(format!("list {plural}{place}"), CHECK_UP, one_line(&e));
    api.list(lp).await.map(|l| l.items).map_err(failed)
}

/// Every pod and job in `ns`.
pub(crate) async fn list_pods_jobs(
    client: &kube::Client,
    ns: &str,
) -> Result<(Vec<Pod>, Vec<Job>), KubeError> {
    let all = ListParams::default();
    let pods = list(Api::namespaced(client.clone(), ns), &all, ns).await?;
    let jobs = list(Api::namespaced(client.clone(), ns), &all, ns).await?;
    Ok((pods, jobs))
}

/// Object `name` in `ns`, when it exists; a failure names it `<ns>/<name>`.
pub(crate) async fn get_opt<K>(
    client: &kube::Client,
    ns: &str,
    name: &str,
) -> Result<Option<K>, KubeError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let action = format!("read {} `{ns}/{name}`", K::kind(&()));
    let failed = |e| api_err(action, CHECK_UP, one_line(&e));
    Api::<K>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_context_names_kind_convention() {
        let kubeconfig = Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts:\n- name: kind-a\n  context: {cluster: kind-a, user: kind-a}\n",
        )
        .unwrap();
        let Err(err) = client_from_kubeconfig(kubeconfig, "kind-nvcf").await else {
            panic!("expected an error");
        };
        let msg = err.to_string();
        assert!(msg.contains("`kind-nvcf` not found"), "{msg}");
        assert!(msg.contains("available: kind-a"), "{msg}");
        assert!(msg.contains("kind-<cluster>"), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[tokio::test]
    async fn unreachable_api_server_fails_fast() {
        // Port 1 on localhost refuses at once: a stopped kind cluster looks like this.
        let kubeconfig = Kubeconfig::from_yaml(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kind-x\n  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}\nusers:\n- name: kind-x\n  user: {token: t}\ncontexts:\n- name: kind-x\n  context: {cluster: kind-x, user: kind-x}\n",
        )
        .unwrap();
        let started = std::time::Instant::now();
        let Err(err) = client_from_kubeconfig(kubeconfig, "kind-x").await else {
            panic!("expected an error");
        };
        let msg = err.to_string();
        assert!(started.elapsed() < PROBE_TIMEOUT + Duration::from_secs(2));
        assert!(
            msg.starts_with("cannot reach the Kubernetes API of context `kind-x`"),
            "{msg}"
        );
    }
}
