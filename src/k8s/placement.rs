//! Will the rendered workloads fit the cluster's nodes? Checked before helm
//! runs, so a profile that cannot schedule (prod's two OpenBao injectors, each
//! needing a `vault` node of its own, on a cluster with one) fails in seconds
//! with what to change, instead of after helm's 15-minute wait on a Pending
//! pod. Only the hard constraints that decide it: node selectors, taints
//! (NoSchedule/NoExecute) and a required pod anti-affinity on the hostname.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, PodSpec, PodTemplateSpec, Taint, Toleration};
use serde::Deserialize;
use serde_yaml_ng::Value;

pub const HOSTNAME: &str = "kubernetes.io/hostname";

/// A Deployment or StatefulSet as far as placement goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// e.g. `Deployment/openbao-server-agent-injector`.
    pub name: String,
    pub replicas: i32,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    /// A required anti-affinity on the hostname against its own pods: every
    /// replica needs a node of its own.
    pub one_per_node: bool,
}

/// The Deployments and StatefulSets in `helm template` output. Documents
/// that are not workloads, or do not parse as one, are skipped: rendering
/// errors are helm's to report.
pub fn workloads(rendered: &str) -> Vec<Workload> {
    let docs = serde_yaml_ng::Deserializer::from_str(rendered);
    let workload = |o: Value| {
        let kind = o["kind"]
            .as_str()
            .filter(|k| ["Deployment", "StatefulSet"].contains(k))?;
        let spec = o.get("spec")?;
        let template: PodTemplateSpec = match &spec["template"] {
            Value::Null => PodTemplateSpec::default(),
            t => serde_yaml_ng::from_value(t.clone()).ok()?,
        };
        let labels = template.metadata.and_then(|m| m.labels).unwrap_or_default();
        let pod = template.spec.unwrap_or_default();
        Some(Workload {
            name: format!("{kind}/{}", o["metadata"]["name"].as_str()?),
            replicas: match &spec["replicas"] {
                Value::Null => 1,
                r => i32::try_from(r.as_i64()?).ok()?,
            },
            one_per_node: one_per_node(&pod, &labels),
            node_selector: pod.node_selector.unwrap_or_default(),
            tolerations: pod.tolerations.unwrap_or_default(),
        })
    };
    docs.filter_map(|doc| workload(Value::deserialize(doc).ok()?))
        .collect()
}

fn one_per_node(pod: &PodSpec, labels: &BTreeMap<String, String>) -> bool {
    let terms = pod
        .affinity
        .as_ref()
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|p| {
            p.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    terms.is_some_and(|terms| {
        terms.iter().any(|t| {
            t.topology_key == HOSTNAME
                && t.label_selector
                    .as_ref()
                    .and_then(|s| s.match_labels.as_ref())
                    .is_none_or(|want| want.iter().all(|(k, v)| labels.get(k) == Some(v)))
        })
    })
}

fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| {
        let exists = t.operator.as_deref() == Some("Exists");
        let key_ok = match t.key.as_deref() {
            None | Some("") => exists,
            Some(k) => k == taint.key,
        };
        let value_ok =
            exists || t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("");
        let effect_ok = t
            .effect
            .as_deref()
            .is_none_or(|e| e.is_empty() || e == taint.effect);
        key_ok && value_ok && effect_ok
    })
}

/// Whether `w`'s pods may run on `n`: not cordoned, selector matched, and
/// every taint that keeps pods off (NoSchedule, NoExecute) tolerated.
fn fits(w: &Workload, n: &Node) -> bool {
    let spec = n.spec.as_ref();
    let labels = n.metadata.labels.as_ref();
    let taints = spec.and_then(|s| s.taints.as_ref()).into_iter().flatten();
    let mut keeping_off = taints.filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute");
    !spec.and_then(|s| s.unschedulable).unwrap_or(false)
        && w.node_selector
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        && keeping_off.all(|t| tolerates(&w.tolerations, t))
}

/// Why each workload that cannot be placed cannot, one line each, with what
/// to do. Empty when everything fits.
pub fn unplaceable(component: &str, workloads: &[Workload], nodes: &[Node]) -> Vec<String> {
    let mut out = Vec::new();
    for w in workloads.iter().filter(|w| w.replicas > 0) {
        let fitting = nodes.iter().filter(|n| fits(w, n)).count();
        let labels: Vec<String> = w
            .node_selector
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let wanted = if labels.is_empty() {
            "an untainted node".to_string()
        } else {
            format!("a node labelled {}", labels.join(","))
        };
        if fitting == 0 {
            out.push(format!(
                "{component}'s {} needs {wanted} and the cluster has none: label one (kubectl label node NODE {}), or use a profile without node selectors",
                w.name,
                labels.join(" ")
            ));
        } else if w.one_per_node && (w.replicas as usize) > fitting {
            out.push(format!(
                "{component}'s {} runs {} replicas, each on a node of its own (required anti-affinity on {HOSTNAME}), but only {fitting} node(s) fit ({wanted}): add nodes, or lower its replicas in the profile",
                w.name, w.replicas
            ));
        }
    }
    out
}

/// The cluster's nodes, for [`unplaceable`].
pub async fn nodes(client: &kube::Client) -> Result<Vec<Node>, super::KubeError> {
    let api: kube::Api<Node> = kube::Api::all(client.clone());
    super::client::list(api, &kube::api::ListParams::default(), "").await
}

#[cfg(test)]
mod tests {
    use super::*;

    const INJECTOR: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: openbao-server}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: openbao-server-agent-injector}
spec:
  replicas: 2
  template:
    metadata:
      labels: {app.kubernetes.io/instance: openbao-server, component: webhook}
    spec:
      nodeSelector: {nvcf.nvidia.com/workload: vault}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - labelSelector:
                matchLabels: {app.kubernetes.io/instance: openbao-server, component: webhook}
              topologyKey: kubernetes.io/hostname
      containers: [{name: sidecar-injector, image: x}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: openbao-server}
spec:
  replicas: 3
  template:
    spec:
      nodeSelector: {nvcf.nvidia.com/workload: vault}
      containers: [{name: openbao, image: x}]
"#;

    fn node(name: &str, workload: Option<&str>, taint: bool) -> Node {
        let labels = workload.map(|w| serde_json::json!({"nvcf.nvidia.com/workload": w}));
        let taints = taint.then(|| {
            serde_json::json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}])
        });
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": taints},
        }))
        .unwrap()
    }

    #[test]
    fn workloads_are_read_from_rendered_manifests() {
        let w = workloads(INJECTOR);
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].name, "Deployment/openbao-server-agent-injector");
        assert!(w[0].one_per_node);
        assert_eq!(w[1].replicas, 3);
        assert!(!w[1].one_per_node);
    }

    #[test]
    fn two_injectors_on_one_vault_node_cannot_be_placed() {
        let nodes = [
            node("cp", None, true),
            node("w1", Some("control-plane"), false),
            node("w2", Some("vault"), false),
            node("w3", Some("cassandra"), false),
        ];
        let problems = unplaceable("openbao", &workloads(INJECTOR), &nodes);
        assert_eq!(
            problems,
            ["openbao's Deployment/openbao-server-agent-injector runs 2 replicas, each on a node of its own (required anti-affinity on kubernetes.io/hostname), but only 1 node(s) fit (a node labelled nvcf.nvidia.com/workload=vault): add nodes, or lower its replicas in the profile"]
        );
        let mut more = nodes.to_vec();
        more.push(node("w4", Some("vault"), false));
        assert!(unplaceable("openbao", &workloads(INJECTOR), &more).is_empty());
    }

    #[test]
    fn a_selector_no_node_matches_and_taints_are_named() {
        let nodes = [node("kind-control-plane", None, false)];
        let problems = unplaceable("openbao", &workloads(INJECTOR), &nodes);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("needs a node labelled nvcf.nvidia.com/workload=vault and the cluster has none: label one (kubectl label node NODE nvcf.nvidia.com/workload=vault)"), "{}", problems[0]);
        let plain = "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: nats}\nspec:\n  replicas: 3\n  template: {spec: {containers: []}}\n";
        let tainted = [node("cp", None, true)];
        assert_eq!(unplaceable("nats", &workloads(plain), &tainted).len(), 1);
        let tolerant = plain.replace(
            "{containers: []}",
            "{containers: [], tolerations: [{operator: Exists}]}",
        );
        assert!(unplaceable("nats", &workloads(&tolerant), &tainted).is_empty());
        assert!(
            unplaceable("nats", &workloads(plain), &[node("one", None, false)]).is_empty(),
            "no anti-affinity: 3 on one node"
        );
    }
}
