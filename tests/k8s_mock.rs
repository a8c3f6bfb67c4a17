//! The async side of `nvcf_dev::k8s` against a mocked API server
//! (tower-test), answering with realistic Kubernetes JSON: lists with
//! `metadata.resourceVersion`, watch streams as newline-delimited events,
//! Status objects for 404s.
//!
//! Exec (`bao status`, `nodetool status`) goes over a websocket upgrade,
//! which tower-test cannot mock; its transport is kept thin and its output
//! and exit-code Status are tested in the unit tests of `k8s::verify`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::kube_mock::{delete_ok, fixture, is_watch, list, not_found, Server};
use nvcf_dev::k8s::progress::{wait_ready, ProgressEvent};
use nvcf_dev::k8s::stale::delete_stale;
use serde_json::{json, Value};

#[tokio::test]
async fn wait_ready_returns_when_the_watch_shows_the_pod_ready() {
    let ready: Value = fixture("pod_nats-0_ready.json");
    let mut starting = ready.clone();
    starting["status"]["conditions"][2]["status"] = json!("False");
    starting["status"]["containerStatuses"][0]["ready"] = json!(false);
    let watched = std::sync::atomic::AtomicBool::new(false);
    let (client, server) = Server::start(move |method, uri, _| {
        assert_eq!(method, "GET");
        match (uri.contains("/pods"), is_watch(uri)) {
            (true, false) => Some((200, list("PodList", vec![starting.clone()], "1800"))),
            (true, true) if !watched.swap(true, std::sync::atomic::Ordering::SeqCst) => {
                let mut obj = ready.clone();
                obj["metadata"]["resourceVersion"] = json!("1843");
                Some((
                    200,
                    format!("{}\n", json!({"type": "MODIFIED", "object": obj})),
                ))
            }
            (false, false) => Some((200, list("JobList", vec![], "1800"))),
            _ => None,
        }
    });
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink = move |e: ProgressEvent| seen.lock().unwrap().push(e);
    wait_ready(&client, "nats-system", &[], Duration::from_secs(5), &sink)
        .await
        .expect("ready once the watch delivers the Ready pod");
    assert_eq!(
        events.lock().unwrap().as_slice(),
        [ProgressEvent::PodReady {
            pod: "nats-0".into(),
            note: None
        }]
    );
    let reqs = server.requests();
    assert!(
        reqs.iter().any(
            |r| r.starts_with("GET /api/v1/namespaces/nats-system/pods?")
                && r.contains("watch=true")
                && r.contains("resourceVersion=1800")
        ),
        "{reqs:#?}"
    );
}

#[tokio::test]
async fn wait_ready_times_out_with_a_diagnosis() {
    let pending: Value = fixture("pod_cassandra-2_pending_no_condition_message.json");
    let pulling: Value = fixture("pod_nats-1_imagepullbackoff.json");
    let events: Value = fixture("events_cassandra-system.json");
    let (client, _server) = Server::start(move |_, uri, _| {
        if is_watch(uri) {
            return None;
        }
        if uri.contains("/events") {
            Some((200, events.to_string()))
        } else if uri.contains("/pods") {
            Some((
                200,
                list("PodList", vec![pending.clone(), pulling.clone()], "2450"),
            ))
        } else {
            Some((200, list("JobList", vec![], "2450")))
        }
    });
    let err = wait_ready(
        &client,
        "cassandra-system",
        &["cassandra-initialize-cluster"],
        Duration::from_millis(500),
        &|_| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("`cassandra-system` not ready after 0s"),
        "{err}"
    );
    assert!(
        err.contains(
            "pod cassandra-2 cannot be scheduled: 0/1 nodes are available: 1 Insufficient memory."
        ),
        "{err}"
    );
    assert!(
        err.contains("cannot pull image localhost:5001/nvcf/nats-server:2.10.22-alpine"),
        "{err}"
    );
    assert!(!err.contains('\n'));
}

#[tokio::test]
async fn wait_ready_stops_early_when_a_job_fails() {
    let failed: Value = fixture("job_openbao-server-migrations_failed.json");
    let ready: Value = fixture("pod_nats-0_ready.json");
    let (client, _server) = Server::start(move |_, uri, _| {
        if is_watch(uri) {
            None
        } else if uri.contains("/jobs") {
            Some((200, list("JobList", vec![failed.clone()], "5120")))
        } else if uri.contains("/pods") {
            Some((200, list("PodList", vec![ready.clone()], "5120")))
        } else {
            Some((200, list("EventList", vec![], "5120")))
        }
    });
    let started = std::time::Instant::now();
    let err = wait_ready(
        &client,
        "vault-system",
        &[],
        Duration::from_secs(30),
        &|_| {},
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        err.contains("job openbao-server-migrations failed (BackoffLimitExceeded"),
        "{err}"
    );
}

#[tokio::test]
async fn stale_openbao_resources_are_deleted_and_awaited() {
    let unseal = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "openbao-server-unseal", "namespace": "vault-system", "uid": "u-1", "resourceVersion": "700"},
        "data": {"unseal_key": "c2VjcmV0"}});
    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-openbao-server-0", "namespace": "vault-system", "uid": "pvc-1", "resourceVersion": "701",
            "finalizers": ["kubernetes.io/pvc-protection"]},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}, "storageClassName": "standard"},
        "status": {"phase": "Bound"}});
    let root_ca = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "kube-root-ca.crt", "namespace": "vault-system", "uid": "c-1"}, "data": {"ca.crt": "x"}});
    let webhook = json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": "openbao-server-agent-injector-cfg", "uid": "mw-1", "labels": {"app.kubernetes.io/instance": "openbao-server"}}, "webhooks": []});
    let deleted = Arc::new(Mutex::new(Vec::<String>::new()));
    let gone = deleted.clone();
    let (client, server) = Server::start(move |method, uri, _| {
        let path = uri.split('?').next().unwrap();
        if method == "DELETE" {
            gone.lock().unwrap().push(path.to_string());
            // The secret was already removed by someone else: 404 is fine.
            if path.ends_with("/openbao-server-unseal") {
                return Some((404, not_found("secrets", "openbao-server-unseal")));
            }
            return Some((200, delete_ok()));
        }
        if is_watch(uri) {
            return None;
        }
        // await_condition lists by name: after a DELETE, the object is gone.
        if uri.contains("fieldSelector=metadata.name") {
            return Some((200, list("List", vec![], "800")));
        }
        let items = match path {
            "/api/v1/namespaces/vault-system/secrets" if gone.lock().unwrap().is_empty() => {
                vec![unseal.clone()]
            }
            "/api/v1/namespaces/vault-system/persistentvolumeclaims"
                if gone.lock().unwrap().is_empty() =>
            {
                vec![pvc.clone()]
            }
            "/api/v1/namespaces/vault-system/configmaps" => vec![root_ca.clone()],
            "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
                if gone.lock().unwrap().is_empty() =>
            {
                assert!(
                    uri.contains("labelSelector=app.kubernetes.io%2Finstance%3Dopenbao-server"),
                    "{uri}"
                );
                vec![webhook.clone()]
            }
            _ => vec![],
        };
        Some((200, list("List", items, "750")))
    });

    let c = &client;
    let stale = move |dry_run| {
        delete_stale(
            c,
            "vault-system",
            "openbao-server",
            Duration::from_secs(5),
            dry_run,
        )
    };
    let dry = stale(true).await.unwrap();
    let names: Vec<String> = dry.iter().map(ToString::to_string).collect();
    assert_eq!(
        names,
        [
            "secret/openbao-server-unseal -n vault-system",
            "persistentvolumeclaim/data-openbao-server-0 -n vault-system",
            "mutatingwebhookconfiguration/openbao-server-agent-injector-cfg",
        ]
    );
    assert!(
        server.requests().iter().all(|r| r.starts_with("GET ")),
        "dry run deletes nothing"
    );

    stale(false).await.unwrap();
    let mut dels: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("DELETE "))
        .collect();
    dels.sort();
    assert_eq!(dels.len(), 3, "{dels:#?}");
    assert!(dels[0].starts_with(
        "DELETE /api/v1/namespaces/vault-system/persistentvolumeclaims/data-openbao-server-0"
    ));
    assert!(
        dels[1].starts_with("DELETE /api/v1/namespaces/vault-system/secrets/openbao-server-unseal")
    );
    assert!(dels[2].starts_with("DELETE /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/openbao-server-agent-injector-cfg"));
    assert!(
        dels.iter()
            .all(|d| d.contains(r#""propagationPolicy":"Background""#)),
        "{dels:#?}"
    );
    // Waited for: the PVC and the webhook were looked up by name after deletion.
    let reqs = server.requests();
    assert!(
        reqs.iter().any(|r| r.contains("persistentvolumeclaims?")
            && r.contains("fieldSelector=metadata.name%3Ddata-openbao-server-0")),
        "{reqs:#?}"
    );
    // A second run finds nothing left.
    let again = stale(true).await.unwrap();
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn only_missing_namespaces_are_created_and_existing_ones_are_left_alone() {
    // vault-system already exists (someone else's); the other two do not.
    let (client, server) = Server::start(|method, uri, body| {
        match method {
        "GET" if uri.starts_with("/api/v1/namespaces/vault-system") => Some((
            200,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "vault-system", "labels": {"team": "platform"}}}).to_string(),
        )),
        "GET" => {
            let name = uri.trim_start_matches("/api/v1/namespaces/").split('?').next().unwrap().to_string();
            Some((404, not_found("namespaces", &name)))
        }
        "POST" => Some((201, body.to_string())),
        _ => Some((405, "{}".into())),
    }
    });
    let created = nvcf_dev::k8s::wiring::ensure_namespaces(
        &client,
        &["nats-system", "vault-system", "cassandra-system"],
    )
    .await
    .unwrap();
    assert_eq!(created, ["nats-system", "cassandra-system"]);
    let posts: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST"))
        .collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(
        posts
            .iter()
            .all(|p| p.contains("\"dev.nvcf.managed-by\":\"nvcf-dev\"")),
        "{posts:?}"
    );
    assert!(
        !posts.iter().any(|p| p.contains("vault-system")),
        "an existing namespace is never touched"
    );
}

/// A helm release secret as helm 3 and 4 store it: the release JSON,
/// gzipped, base64-encoded, and base64-encoded again as Secret data.
fn helm_release_secret(
    ns: &str,
    release: &str,
    revision: u32,
    status: &str,
    payload: Value,
) -> Value {
    use base64::Engine;
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(payload.to_string().as_bytes()).unwrap();
    let inner = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    let outer = base64::engine::general_purpose::STANDARD.encode(inner);
    json!({"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{release}.v{revision}"), "namespace": ns,
            "uid": format!("uid-{release}-{revision}"), "resourceVersion": "9100",
            "labels": {"owner": "helm", "name": release, "status": status, "version": revision.to_string()}},
        "data": {"release": outer}})
}

/// Cassandra's Verify, through the API: the deployed releases are read from
/// their secrets, and a serviceRolePassword that differs from OpenBao's
/// DEFAULT_CASSANDRA_PASSWORD fails the report (Phase 2 could not log in),
/// without showing either password.
#[tokio::test]
async fn cassandra_verify_compares_the_deployed_releases_passwords() {
    async fn verify_with(cassandra_config: Value) -> nvcf_dev::k8s::HealthReport {
        let bao = helm_release_secret(
            "vault-system",
            "openbao-server",
            1,
            "deployed",
            json!({"name": "openbao-server", "version": 1,
                "chart": {"values": {"openbao": {"migrations": {"env": [
                    {"name": "DEFAULT_CASSANDRA_PASSWORD", "value": "ch@ng3m3"}]}}}},
                "config": {"openbao": {"migrations": {"env": [
                    {"name": "DEFAULT_CASSANDRA_PASSWORD", "value": "gen-Pa55"}]}}}}),
        );
        let cass_v1 =
            helm_release_secret("cassandra-system", "cassandra", 1, "superseded", json!({}));
        let cass_v2 = helm_release_secret(
            "cassandra-system",
            "cassandra",
            2,
            "deployed",
            json!({"name": "cassandra", "version": 2,
                "chart": {"values": {"cassandra": {"serviceRolePassword": "ch@ng3m3"}}},
                "config": cassandra_config}),
        );
        let (client, server) = Server::start(move |method, uri, _| {
            assert_eq!(method, "GET", "verify only reads: {uri}");
            let path = uri.split('?').next().unwrap();
            let secrets = |items: Vec<Value>| {
                let metadata_only = uri.contains("labelSelector=owner%3Dhelm");
                assert!(metadata_only, "release records are listed by label: {uri}");
                // list_metadata: PartialObjectMetadataList, no payloads.
                let items: Vec<Value> = items
                    .into_iter()
                    .map(|s| json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": s["metadata"]}))
                    .collect();
                json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList",
                    "metadata": {"resourceVersion": "9101"}, "items": items})
                .to_string()
            };
            Some(match path {
                "/api/v1/namespaces/cassandra-system/pods" => {
                    (200, list("PodList", vec![], "9000"))
                }
                "/apis/batch/v1/namespaces/cassandra-system/jobs" => {
                    (200, list("JobList", vec![], "9000"))
                }
                "/api/v1/namespaces/vault-system/secrets" => (200, secrets(vec![bao.clone()])),
                "/api/v1/namespaces/cassandra-system/secrets" => {
                    (200, secrets(vec![cass_v1.clone(), cass_v2.clone()]))
                }
                "/api/v1/namespaces/vault-system/secrets/sh.helm.release.v1.openbao-server.v1" => {
                    (200, bao.to_string())
                }
                "/api/v1/namespaces/cassandra-system/secrets/sh.helm.release.v1.cassandra.v2" => {
                    (200, cass_v2.to_string())
                }
                other => (404, not_found("Secret", other)),
            })
        });
        let report = nvcf_dev::ops::install::verify(&client, &nvcf_dev::model::CASSANDRA)
            .await
            .unwrap();
        let reqs = server.requests();
        assert!(
            !reqs
                .iter()
                .any(|r| r.contains("sh.helm.release.v1.cassandra.v1")),
            "only the deployed revision's payload is read: {reqs:?}"
        );
        report
    }
    let check = |r: &nvcf_dev::k8s::HealthReport| {
        r.checks
            .iter()
            .find(|c| c.name == "service roles' password")
            .cloned()
            .unwrap()
    };
    let agree = verify_with(json!({"cassandra": {"serviceRolePassword": "gen-Pa55"}})).await;
    assert!(check(&agree).ok, "{:?}", check(&agree));
    // An install that never set it: the chart's default ch@ng3m3 applies.
    let differ = verify_with(json!({"cassandra": {"dbUser": {"password": "gen-Pa55"}}})).await;
    let c = check(&differ);
    assert!(!c.ok && !differ.healthy());
    assert!(
        c.detail.contains("nvcf-dev reset cassandra"),
        "{}",
        c.detail
    );
    let shown = serde_json::to_string(&differ).unwrap();
    assert!(
        !shown.contains("gen-Pa55") && !shown.contains("ch@ng3m3"),
        "{shown}"
    );
}
