//! A fake kube-apiserver holding a healthy, deployed Phase 1, for running
//! the real binary (`up`, `status`) against it: helm's release secrets as
//! `up` labels them (names and labels for `list_metadata`, the payload for a
//! get), Ready pods, complete hook jobs, nats-0's log, and `bao status` /
//! `nodetool status` through exec. Server-side applies are echoed back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::fake_http::{self, ExecReply};

/// One deployed release: what its records and payload hold.
pub struct Deployed {
    pub release: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// The values it was installed with (the payload's `config`).
    pub config: Value,
}

/// The releases `up` would leave for `plan`, deployed as revision 1 with
/// nvcf-dev's labels for `desired`.
pub fn deployed_as_planned(
    plan: &nvcf_dev::phase1::plan::Plan,
    desired: &BTreeMap<nvcf_dev::model::ComponentId, nvcf_dev::phase1::lifecycle::Desired>,
) -> Vec<Deployed> {
    use nvcf_dev::k8s::releases::{CHART_LABEL, VALUES_LABEL, VERSION_LABEL};
    plan.components
        .iter()
        .map(|cp| {
            let c = cp.component;
            let d = &desired[&c.id];
            let labels = [
                ("owner", "helm"),
                ("name", c.release),
                ("status", "deployed"),
                ("version", "1"),
                (CHART_LABEL, d.chart.as_str()),
                (VERSION_LABEL, d.version.as_str()),
                (VALUES_LABEL, d.values_digest.as_str()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            Deployed {
                release: c.release.to_string(),
                namespace: c.namespace.to_string(),
                labels,
                config: serde_json::to_value(&cp.values).unwrap(),
            }
        })
        .collect()
}

/// Serves a healthy Phase 1 holding `releases`. Returns the address and the
/// request log (`METHOD PATH BODY`).
pub fn serve(releases: Vec<Deployed>) -> (String, Arc<Mutex<Vec<String>>>) {
    let releases = Arc::new(releases);
    fake_http::serve_with_exec(
        move |method, path, body| route(&releases, method, path, body),
        exec,
    )
}

fn route(releases: &[Deployed], method: &str, path: &str, body: &str) -> (u16, String) {
    if path.starts_with("/version") {
        return (200, fake_http::VERSION.into());
    }
    match method {
        "PATCH" => return (200, body.to_string()),
        "POST" => return (201, body.to_string()),
        "GET" => {}
        _ => return (405, status(405, "MethodNotAllowed")),
    }
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let parts: Vec<&str> = route.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        // Release records, names and labels only: one namespace's (`up`'s
        // per-release reads) or the whole cluster's (`status`).
        ["api", "v1", "namespaces", _, "secrets"] | ["api", "v1", "secrets"] => {
            let ns = parts.get(3).copied();
            let items: Vec<Value> = releases
                .iter()
                .filter(|r| ns.is_none_or(|ns| r.namespace == ns))
                .filter(|r| {
                    if query.contains("name%3D") {
                        query.contains(&format!("name%3D{}", r.release))
                    } else {
                        query.contains("owner%3Dhelm")
                    }
                })
                .map(|r| {
                    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                        "metadata": {"name": secret_name(r), "namespace": r.namespace, "labels": r.labels}})
                })
                .collect();
            (
                200,
                json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList",
                "metadata": {"resourceVersion": "100"}, "items": items})
                .to_string(),
            )
        }
        ["api", "v1", "namespaces", ns, "secrets", name] => {
            match releases
                .iter()
                .find(|r| r.namespace == *ns && secret_name(r) == *name)
            {
                Some(r) => (200, release_secret(r).to_string()),
                None => (404, fake_http::NOT_FOUND.to_string()),
            }
        }
        ["api", "v1", "namespaces", ns, "pods"] => (200, list("PodList", pods(ns))),
        ["apis", "batch", "v1", "namespaces", ns, "jobs"] => (200, list("JobList", jobs(ns))),
        ["api", "v1", "namespaces", "nats-system", "pods", "nats-0", "log"] => (200, nats_log()),
        _ => (404, fake_http::NOT_FOUND.to_string()),
    }
}

fn secret_name(r: &Deployed) -> String {
    format!("sh.helm.release.v1.{}.v1", r.release)
}

/// helm's storage: the release JSON, gzipped and base64'd, as the secret's
/// `release` key (which the API base64s once more).
fn release_secret(r: &Deployed) -> Value {
    use base64::Engine;
    use std::io::Write;
    let payload = json!({"name": r.release, "namespace": r.namespace, "version": 1,
        "info": {"status": "deployed"},
        "chart": {"metadata": {"name": r.labels.get(nvcf_dev::k8s::releases::CHART_LABEL)}, "values": {}},
        "config": r.config, "hooks": []});
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(payload.to_string().as_bytes()).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let helm_text = b64.encode(gz.finish().unwrap());
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": secret_name(r), "namespace": r.namespace, "labels": r.labels},
        "data": {"release": b64.encode(helm_text)}})
}

/// A list of `kind` holding `items`.
pub fn list(kind: &str, items: Vec<Value>) -> String {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "100"}, "items": items})
        .to_string()
}

fn pods(ns: &str) -> Vec<Value> {
    let names: &[&str] = match ns {
        "nats-system" => &["nats-0", "nats-1", "nats-2"],
        "vault-system" => &[
            "openbao-server-0",
            "openbao-server-1",
            "openbao-server-2",
            "openbao-server-agent-injector-5d9c8b7f4-x2x7k",
        ],
        "cassandra-system" => &["cassandra-0"],
        _ => &[],
    };
    ready_pods(ns, names)
}

/// Running, Ready pods called `names` in `ns`.
pub fn ready_pods(ns: &str, names: &[&str]) -> Vec<Value> {
    names
        .iter()
        .map(|n| {
            json!({"metadata": {"name": n, "namespace": ns},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
        })
        .collect()
}

fn jobs(ns: &str) -> Vec<Value> {
    let names: &[&str] = match ns {
        "vault-system" => &[
            "openbao-server-initialize-cluster",
            "openbao-server-migrations",
        ],
        "cassandra-system" => &["cassandra-initialize-cluster", "cassandra-migrations"],
        _ => &[],
    };
    names
        .iter()
        .map(|n| {
            json!({"metadata": {"name": n, "namespace": ns},
                "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}})
        })
        .collect()
}

/// nats-0 with routes to its two peers.
fn nats_log() -> String {
    [
        "[7] 2025/06/02 09:14:05.112233 [INF] Starting nats-server",
        "[7] 2025/06/02 09:14:05.200000 [INF] Cluster name is nats",
        "[7] 2025/06/02 09:14:06.100000 [INF] 10.244.0.9:6222 - rid:5 - Route connection created",
        "[7] 2025/06/02 09:14:06.200000 [INF] 10.244.0.10:6222 - rid:6 - Route connection created",
    ]
    .join("\n")
}

/// `bao status` unsealed in every server; `nodetool status` with one UN node.
fn exec(path: &str) -> Option<ExecReply> {
    let stdout = if path.contains("/pods/openbao-server-") && path.contains("command=bao") {
        r#"{"type":"shamir","initialized":true,"sealed":false,"t":1,"n":1,"progress":0,"version":"2.5.5","storage_type":"raft","ha_enabled":true,"raft_committed_index":42}"#.to_string()
    } else if path.contains("/pods/cassandra-0/") && path.contains("command=nodetool") {
        "Datacenter: datacenter1\n=======================\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n--  Address      Load        Tokens  Owns (effective)  Host ID                               Rack\nUN  10.244.0.12  180.35 KiB  256     100.0%            4c1f2d0a-9d8e-4b7a-a1c2-3e4f5a6b7c8d  rack1\n".to_string()
    } else {
        return None;
    };
    Some(ExecReply {
        stdout,
        exit_code: 0,
    })
}

fn status(code: u16, reason: &str) -> String {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": reason, "code": code})
        .to_string()
}
