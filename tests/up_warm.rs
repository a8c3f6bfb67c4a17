//! `up` run again on a laptop where Phase 1 is already up and unchanged
//! (tests/common/warm_up.rs): it reuses the registry, the cluster and the
//! wiring, finds every chart and image already mirrored, skips helm for all
//! three releases, verifies them through the API (exec included), and asks
//! the upstream registry nothing.

mod common;

use std::sync::atomic::Ordering;

use common::warm_up::WarmWorld;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_warm_re_up_skips_helm_asks_upstream_nothing_and_verifies() {
    let (w, first) =
        WarmWorld::after_first_up(env!("CARGO_BIN_EXE_nvcf-dev").as_ref(), "warm", 15871).await;
    let err = text(&first.stderr);
    assert!(first.status.success(), "first up: {err}");
    // The first up mirrored from upstream but found the releases deployed
    // as it would deploy them: no helm install or upgrade ran.
    assert!(err.contains("Mirrored"), "{err}");
    assert_eq!(w.helm_changes(), Vec::<String>::new(), "{err}");

    let api_before = w.api_log.lock().unwrap().len();
    let helm_before = w.helm_calls().len();
    let out = w.run(&["up"]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    for release in ["nats", "openbao-server", "cassandra"] {
        assert!(
            err.contains(&format!(" • {release}: ")) && err.contains("unchanged"),
            "{release}: {err}"
        );
    }
    assert!(err.contains("0.0 MiB copied"), "{err}");
    assert!(err.contains("Phase 1 is installed and verified"), "{err}");
    assert_eq!(w.helm_changes(), Vec::<String>::new(), "{err}");
    // Not even a render: the charts' images come from the render cache.
    let helm = w.helm_calls()[helm_before..].to_vec();
    assert!(helm.iter().all(|c| c.starts_with("version")), "{helm:?}");
    assert_eq!(
        w.upstream_connections.load(Ordering::SeqCst),
        0,
        "a warm up must not contact the upstream registry"
    );

    // Verification really ran against the cluster: both execs and the log.
    let log = w.api_log.lock().unwrap()[api_before..].to_vec();
    let asked = |needle: &str| log.iter().any(|l| l.contains(needle));
    assert!(asked("/pods/openbao-server-0/exec"), "{log:#?}");
    assert!(asked("/pods/cassandra-0/exec"), "{log:#?}");
    assert!(asked("/pods/nats-0/log"), "{log:#?}");
    assert!(
        !log.iter().any(|l| l.starts_with("DELETE")),
        "a warm up deletes nothing: {log:#?}"
    );

    // `status` sees the same cluster: three deployed releases, all healthy.
    let out = w.run(&["status", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["healthy"], true, "{report:#}");
    let statuses: Vec<&str> = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["release_status"].as_str().unwrap_or("absent"))
        .collect();
    assert_eq!(statuses, ["deployed"; 3], "{report:#}");
}
