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
use nvcf_dev::k8s::progress::{diagnosis, while_watching};
use nvcf_dev::k8s::readiness::namespace_ready;
use nvcf_dev::k8s::stale::delete_stale;
use nvcf_dev::model;
use serde_json::{json, Value};

#[tokio::test]
async fn the_watch_reports_the_pod_ready_and_returns_what_it_saw() {
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
    let sink = move |e: String| seen.lock().unwrap().push(e);
    // The work (helm, in `up`) lasts until the watch has reported the pod.
    let work = async {
        while events.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let watching = while_watching(&client, &model::NATS, &sink, work);
    let ((), pods, jobs) = tokio::time::timeout(Duration::from_secs(10), watching)
        .await
        .expect("the watch delivers the Ready pod");
    assert!(namespace_ready(&pods, &jobs), "{pods:?}");
    assert_eq!(events.lock().unwrap().as_slice(), ["pod nats-0 ready"]);
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
async fn what_the_watch_saw_and_the_events_explain_a_failed_install() {
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
    let work = tokio::time::sleep(Duration::from_secs(1));
    let ((), pods, jobs) = while_watching(&client, &model::CASSANDRA, &|_| {}, work).await;
    assert_eq!(pods.len(), 2, "{pods:?}");
    let err = diagnosis(&client, "cassandra-system", &pods, &jobs)
        .await
        .expect("not ready");
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

/// vault-system with a failed migrations job and `pods`; its watches never
/// answer, so only the lists are seen.
fn failed_migrations(pods: Vec<Value>) -> (kube::Client, Server) {
    let failed: Value = fixture("job_openbao-server-migrations_failed.json");
    Server::start(move |_, uri, _| {
        if is_watch(uri) {
            None
        } else if uri.contains("/jobs") {
            Some((200, list("JobList", vec![failed.clone()], "5120")))
        } else if uri.contains("/pods") {
            Some((200, list("PodList", pods.clone(), "5120")))
        } else {
            Some((200, list("EventList", vec![], "5120")))
        }
    })
}

#[tokio::test]
async fn a_failed_job_is_reported_and_explains_a_failed_install() {
    let (client, _server) = failed_migrations(vec![fixture("pod_nats-0_ready.json")]);
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let sink = move |l: String| seen.lock().unwrap().push(l);
    let work = tokio::time::sleep(Duration::from_secs(1));
    let ((), pods, jobs) = while_watching(&client, &model::OPENBAO, &sink, work).await;
    let reported = lines.lock().unwrap().clone();
    assert!(
        reported
            .iter()
            .any(|l| l.starts_with("job openbao-server-migrations failed: BackoffLimitExceeded")),
        "{reported:?}"
    );
    let err = diagnosis(&client, "vault-system", &pods, &jobs)
        .await
        .expect("not ready");
    assert!(
        err.contains("job openbao-server-migrations failed (BackoffLimitExceeded"),
        "{err}"
    );
}

/// helm can fail before the watch has listed anything: the diagnosis reads
/// the namespace again rather than explaining from nothing.
#[tokio::test]
async fn a_failure_before_the_watch_saw_anything_is_still_explained() {
    let (client, _server) = failed_migrations(vec![]);
    let ((), pods, jobs) = while_watching(&client, &model::OPENBAO, &|_| {}, async {}).await;
    assert!(pods.is_empty() && jobs.is_empty(), "{jobs:?}");
    let err = diagnosis(&client, "vault-system", &pods, &jobs)
        .await
        .expect("not ready");
    assert!(
        err.contains("job openbao-server-migrations failed (BackoffLimitExceeded"),
        "{err}"
    );
}

/// helm's rollback can take the failing pods with it before the diagnosis
/// reads the namespace: what the watch saw explains the failure then, and
/// a namespace with nothing in it, seen or read, has nothing to explain.
#[tokio::test]
async fn a_namespace_emptied_by_the_rollback_is_explained_by_what_the_watch_saw() {
    let (client, _server) =
        Server::start(|_, uri, _| (!is_watch(uri)).then(|| (200, list("List", vec![], "6000"))));
    let pulling: k8s_openapi::api::core::v1::Pod =
        serde_json::from_value(fixture("pod_nats-1_imagepullbackoff.json")).unwrap();
    let err = diagnosis(&client, "nats-system", &[pulling], &[])
        .await
        .expect("what the watch saw");
    assert!(err.contains("cannot pull image"), "{err}");
    assert_eq!(diagnosis(&client, "nats-system", &[], &[]).await, None);
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
        _ => Some((405, "{}".into())), // the mock answers it as a Status
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
        let route = move |method: &str, uri: &str, accept: &str| {
            assert_eq!(method, "GET", "verify only reads: {uri}");
            let path = uri.split('?').next().unwrap();
            let secrets = |items: Vec<Value>| {
                let metadata_only = uri.contains("labelSelector=owner%3Dhelm");
                assert!(metadata_only, "release records are listed by label: {uri}");
                // list_metadata asks for PartialObjectMetadataList (the mock
                // then answers without payloads, as the apiserver does).
                assert!(
                    accept.contains("as=PartialObjectMetadataList"),
                    "only metadata is asked for: {accept}"
                );
                list("SecretList", items, "9101")
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
        };
        let (client, server) = Server::serve(move |r: &common::kube_mock::Req| {
            match route(&r.method, &r.uri, r.header("accept")) {
                Some((code, body)) => common::kube_mock::Reply::Json(code, body),
                None => common::kube_mock::Reply::Pending,
            }
        });
        let c = &nvcf_dev::model::CASSANDRA;
        let report = (c.verify)(&client, c).await.unwrap();
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

/// A watch that ends (the apiserver's timeoutSeconds), resumes from the
/// BOOKMARK's resourceVersion, then meets 410 Gone: the client relists, and
/// the relisted state *replaces* what was seen (a pod deleted while nobody
/// watched must not keep the namespace "not ready" for ever).
#[tokio::test]
async fn the_watch_survives_a_bookmark_and_410_gone_with_a_relist() {
    use common::kube_mock::{bookmark, gone, Reply, Req, Step};
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let ready: Value = fixture("pod_nats-0_ready.json");
    let mut other = ready.clone();
    other["metadata"]["name"] = json!("nats-1");
    other["metadata"]["uid"] = json!("uid-nats-1");
    other["status"]["conditions"][2]["status"] = json!("False");
    other["status"]["containerStatuses"][0]["ready"] = json!(false);
    let (pod_lists, pod_watches) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let (client, server) = Server::serve(move |r: &Req| {
        assert_eq!(r.method, "GET");
        let pods = r.path.ends_with("/pods");
        match (pods, r.is_watch()) {
            (true, false) => match pod_lists.fetch_add(1, SeqCst) {
                // nats-1 is starting ...
                0 => Reply::ok(list("PodList", vec![ready.clone(), other.clone()], "1800")),
                // ... and was deleted while the watch was gone.
                _ => Reply::ok(list("PodList", vec![ready.clone()], "2000")),
            },
            (true, true) => match pod_watches.fetch_add(1, SeqCst) {
                0 => Reply::Watch {
                    steps: vec![Step::Event(bookmark("Pod", "v1", "1900"))],
                    close: true,
                },
                1 => Reply::Watch {
                    steps: vec![Step::Event(gone("1900"))],
                    close: true,
                },
                _ => Reply::Pending,
            },
            (false, false) => Reply::ok(list("JobList", vec![], "1800")),
            (false, true) => Reply::watch(vec![]),
        }
    });
    // The work lasts until the client watches again after the relist.
    let watching = |r: &String| r.contains("/pods?") && r.contains("watch=true");
    let work = async {
        while server.requests().iter().filter(|r| watching(r)).count() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let ((), pods, jobs) = tokio::time::timeout(
        Duration::from_secs(20),
        while_watching(&client, &model::NATS, &|_| {}, work),
    )
    .await
    .expect("the watch resumed");
    assert!(
        namespace_ready(&pods, &jobs),
        "the relisted state replaced what was seen: {pods:?}"
    );
    let watches: Vec<String> = server
        .requests()
        .into_iter()
        .filter(|r| r.contains("/pods?") && r.contains("watch=true"))
        .collect();
    assert!(
        watches[0].contains("resourceVersion=1800")
            && watches[0].contains("allowWatchBookmarks=true"),
        "{watches:#?}"
    );
    assert!(
        watches[1].contains("resourceVersion=1900"),
        "resumed from the bookmark: {watches:#?}"
    );
    let lists = server
        .requests()
        .into_iter()
        .filter(|r| r.contains("/pods?") && !r.contains("watch=true"))
        .count();
    assert_eq!(lists, 2, "410 Gone made the client list again");
}

fn finalized_pvc() -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data-openbao-server-0", "namespace": "vault-system", "uid": "pvc-1",
            "finalizers": ["kubernetes.io/pvc-protection"]},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}}, "storageClassName": "standard"},
        "status": {"phase": "Bound"}})
}

const PVC: &str = "/api/v1/namespaces/vault-system/persistentvolumeclaims/data-openbao-server-0";

/// A PVC held by `kubernetes.io/pvc-protection` is only marked for deletion
/// by its DELETE; `delete_stale` returns once the finalizer is removed and
/// the object is really gone, not before.
#[tokio::test]
async fn delete_stale_waits_until_a_finalizer_held_pvc_is_gone() {
    let (client, server) = Server::start(|method, uri, _| {
        assert_eq!(method, "GET", "{uri}");
        if is_watch(uri) {
            return None;
        }
        Some((200, list("List", vec![], "750")))
    });
    server.object(finalized_pvc());
    let c = client.clone();
    let run = tokio::spawn(async move {
        delete_stale(
            &c,
            "vault-system",
            "openbao-server",
            Duration::from_secs(20),
            false,
        )
        .await
    });
    // The DELETE was answered, the PVC is terminating: still waiting.
    let started = std::time::Instant::now();
    while server
        .holds(PVC)
        .is_some_and(|p| p["metadata"]["deletionTimestamp"].is_null())
    {
        assert!(started.elapsed() < Duration::from_secs(10), "never deleted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !run.is_finished(),
        "returned while the PVC was still terminating"
    );
    server.remove_finalizers(PVC);
    let gone = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("returned once the PVC was gone")
        .unwrap()
        .unwrap();
    assert_eq!(
        gone.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["persistentvolumeclaim/data-openbao-server-0 -n vault-system"]
    );
    assert!(server.holds(PVC).is_none());
    let reqs = server.requests();
    assert!(
        reqs.iter().any(|r| r
            .starts_with("GET /api/v1/namespaces/vault-system/persistentvolumeclaims?")
            && r.contains("watch=true")
            && r.contains("fieldSelector=metadata.name%3Ddata-openbao-server-0")),
        "awaited by a watch: {reqs:#?}"
    );
}

#[tokio::test]
async fn delete_stale_times_out_naming_the_pvc_its_finalizer_holds() {
    let (client, server) = Server::start(|_, uri, _| {
        if is_watch(uri) {
            return None;
        }
        Some((200, list("List", vec![], "750")))
    });
    server.object(finalized_pvc());
    let started = std::time::Instant::now();
    let err = delete_stale(
        &client,
        "vault-system",
        "openbao-server",
        Duration::from_secs(1),
        false,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        err,
        "stale resources still present after 1s: persistentvolumeclaim/data-openbao-server-0 -n vault-system; check finalizers (`kubectl get <kind> <name> -o yaml`) and retry"
    );
    assert!(
        !server.holds(PVC).unwrap()["metadata"]["deletionTimestamp"].is_null(),
        "it was deleted, and is terminating"
    );
}

fn registry_cm_route(
    conflict_without_force: bool,
) -> impl Fn(&common::kube_mock::Req) -> common::kube_mock::Reply {
    use common::kube_mock::{apply_conflict, status, Reply};
    move |r| {
        assert_eq!(r.method, "PATCH", "{}", r.uri);
        assert_eq!(
            r.path,
            "/api/v1/namespaces/kube-public/configmaps/local-registry-hosting"
        );
        let force = r.query("force").as_deref() == Some("true");
        if conflict_without_force && !force {
            // kubectl owns data (a hand-made ConfigMap): without force, SSA refuses.
            return Reply::Json(
                409,
                apply_conflict(
                    "configmaps",
                    "local-registry-hosting",
                    "kubectl-client-side-apply",
                    ".data.localRegistryHosting.v1",
                ),
            );
        }
        if !conflict_without_force {
            return Reply::Json(409, status(409, "Conflict", "Operation cannot be fulfilled on configmaps \"local-registry-hosting\": the object has been modified; please apply your changes to the latest version and try again"));
        }
        let mut cm: Value = serde_yaml_ng::from_str(&r.body).unwrap();
        cm["metadata"]["resourceVersion"] = json!("4242");
        cm["metadata"]["uid"] = json!("cm-uid");
        Reply::ok(cm)
    }
}

/// The registry ConfigMap is server-side applied as nvcf-dev with force: a
/// field kubectl set by hand does not stop `up`.
#[tokio::test]
async fn registry_configmap_is_applied_with_field_manager_and_force() {
    let (client, server) = Server::serve(registry_cm_route(true));
    let cm = nvcf_dev::k8s::wiring::apply_local_registry_configmap(&client, "localhost:5001")
        .await
        .unwrap();
    assert_eq!(cm.metadata.resource_version.as_deref(), Some("4242"));
    let req = &server.received()[0];
    assert_eq!(req.header("content-type"), "application/apply-patch+yaml");
    assert_eq!(req.query("fieldManager").as_deref(), Some("nvcf-dev"));
    assert_eq!(req.query("force").as_deref(), Some("true"));
}

/// A 409 the apply cannot force its way through is one line saying what failed.
#[tokio::test]
async fn a_409_on_the_registry_configmap_is_one_clear_line() {
    let (client, _server) = Server::serve(registry_cm_route(false));
    let err = nvcf_dev::k8s::wiring::apply_local_registry_configmap(&client, "localhost:5001")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot apply ConfigMap `kube-public/local-registry-hosting`: "),
        "{err}"
    );
    assert!(err.contains("the object has been modified"), "{err}");
    assert!(
        !err.contains("Status {"),
        "no debug dump of the Status: {err}"
    );
    assert!(
        err.ends_with("check that the cluster is up and you may write to it"),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

/// The mock refuses what a real apiserver refuses: an apply without a field manager.
#[tokio::test]
async fn the_mock_refuses_an_apply_without_field_manager_like_an_apiserver() {
    use kube::api::{Patch, PatchParams};
    let (client, _server) = Server::start(|_, _, _| Some((200, "{}".into())));
    let api: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(client, "x");
    let err = api
        .patch(
            "y",
            &PatchParams::default(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap"})),
        )
        .await
        .unwrap_err();
    let kube::Error::Api(s) = err else {
        panic!("{err}")
    };
    assert_eq!((s.code, s.reason.as_str()), (422, "Invalid"));
    assert!(
        s.message.contains("fieldManager: Required value"),
        "{}",
        s.message
    );
}

/// A namespace created by someone else between our GET and POST (409
/// AlreadyExists) is theirs: not an error, and not reported as created.
#[tokio::test]
async fn a_namespace_created_meanwhile_is_left_alone() {
    use common::kube_mock::status;
    let (client, server) = Server::start(|method, uri, _| match method {
        "GET" => {
            let name = uri.trim_start_matches("/api/v1/namespaces/").to_string();
            Some((404, not_found("namespaces", &name)))
        }
        "POST" if uri.starts_with("/api/v1/namespaces") => Some((
            409,
            status(
                409,
                "AlreadyExists",
                "namespaces \"nats-system\" already exists",
            ),
        )),
        _ => Some((405, "{}".into())),
    });
    let created = nvcf_dev::k8s::wiring::ensure_namespaces(&client, &["nats-system"])
        .await
        .unwrap();
    assert!(created.is_empty(), "{created:?}");
    assert_eq!(server.requests().len(), 2);
}
