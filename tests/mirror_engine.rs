//! The copy engine against real registries: each test starts its own
//! `docker-registry` processes on free loopback ports, pushes generated
//! images/indexes/charts over the HTTP API, and checks digests on the other side.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use nvcf_dev::registry::{
    destination_for, CopyJob, CopyOptions, CredentialSource, ImageOutcome, Mirror, NoProgress,
    ProgressSink, RegistryError,
};
use nvcf_dev::secret::Secret;

use common::registry::*;

fn mirror() -> Mirror {
    Mirror::new(CopyOptions::default(), CredentialSource::default())
}

fn job(src: &TestRegistry, path: &str, dst: &TestRegistry) -> CopyJob {
    let source = format!("{}/{path}", src.host);
    let destination = destination_for(&source, &dst.host).unwrap();
    CopyJob {
        source,
        destination,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_images_indexes_and_charts_byte_for_byte_and_skips_on_rerun() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    let s = src.client();
    let d = dst.client();
    let app = s
        .push_image(
            "org/team/app",
            "1.0",
            &[random(100_000), random(50_000)],
            DOCKER_MANIFEST,
        )
        .await;
    let (idx, _, _) = s.push_index("org/multi", "2.0").await;
    let chart = s.push_chart("org/charts/nats", "1.0.0").await;
    let jobs = vec![
        job(&src, "org/team/app:1.0", &dst),
        job(&src, "org/multi:2.0", &dst),
        job(&src, "org/charts/nats:1.0.0", &dst),
    ];
    assert_eq!(
        jobs[0].destination,
        format!("{}/org/team/app:1.0", dst.host)
    );

    for (repo, tag) in [
        ("org/team/app", "1.0"),
        ("org/multi", "2.0"),
        ("org/charts/nats", "1.0.0"),
    ] {
        assert!(d.get_manifest_raw(repo, tag).await.is_none(), "{repo}");
    }

    let m = mirror();

    let sum = m.copy(&jobs, &NoProgress).await.unwrap();
    assert_eq!(sum.images, 3);
    assert!(sum.blobs_copied >= 3 + 4 + 2, "{sum:?}");
    for (repo, tag, digest) in [
        ("org/team/app", "1.0", &app),
        ("org/multi", "2.0", &idx),
        ("org/charts/nats", "1.0.0", &chart),
    ] {
        let (src_raw, src_ct) = s.get_manifest_raw(repo, tag).await.unwrap();
        let (dst_raw, dst_ct) = d.get_manifest_raw(repo, tag).await.unwrap();
        assert_eq!(src_raw, dst_raw, "{repo}: manifest bytes differ");
        assert_eq!(src_ct, dst_ct);
        assert_eq!(&digest_of(&dst_raw), digest);
        d.verify_tree(repo, tag).await;
    }

    // A fresh engine (no memory of the first run) finds everything present.
    let again = mirror().copy(&jobs, &NoProgress).await.unwrap();
    assert_eq!(again.images_already_present, 3, "{again:?}");
    assert_eq!(again.blobs_copied, 0);
    assert_eq!(again.bytes_copied, 0);
    assert_eq!(again.manifests_pushed, 0);
    assert_eq!(again.bytes_skipped, sum.bytes_copied + sum.bytes_skipped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn platform_option_pushes_that_platforms_manifest_under_the_tag() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    let (_, _, arm) = src.client().push_index("org/multi", "2.0").await;
    let opts = CopyOptions {
        platform: Some("linux/arm64".parse().unwrap()),
        ..CopyOptions::default()
    };
    let m = Mirror::new(opts, CredentialSource::default());
    m.copy(&[job(&src, "org/multi:2.0", &dst)], &NoProgress)
        .await
        .unwrap();
    let (raw, ct) = dst
        .client()
        .get_manifest_raw("org/multi", "2.0")
        .await
        .unwrap();
    assert_eq!(digest_of(&raw), arm);
    assert_eq!(ct, OCI_MANIFEST);
    dst.client().verify_tree("org/multi", "2.0").await;

    let opts = CopyOptions {
        platform: Some("windows/amd64".parse().unwrap()),
        ..CopyOptions::default()
    };
    let err = Mirror::new(opts, CredentialSource::default())
        .copy(&[job(&src, "org/multi:2.0", &dst)], &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("windows/amd64") && err.contains("linux/arm64/v8"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_layers_are_uploaded_once_and_mounted_elsewhere() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    let s = src.client();
    let base = random(512 * 1024);
    for repo in ["org/a", "org/b", "org/c"] {
        s.push_image(repo, "1", &[base.clone(), random(1000)], OCI_MANIFEST)
            .await;
    }
    let jobs: Vec<_> = ["org/a:1", "org/b:1", "org/c:1"]
        .iter()
        .map(|p| job(&src, p, &dst))
        .collect();
    let m = mirror();
    let sum = m.copy(&jobs, &NoProgress).await.unwrap();
    // Three configs + three own layers + the base once; the base mounted twice.
    assert_eq!(sum.blobs_copied, 7, "{sum:?}");
    assert_eq!(sum.blobs_mounted, 2, "{sum:?}");
    for repo in ["org/a", "org/b", "org/c"] {
        dst.client().verify_tree(repo, "1").await;
    }

    // A later copy with a new image in a new repository mounts the base
    // from where this engine saw it rather than uploading it again.
    s.push_image("org/d", "1", &[base.clone(), random(1000)], OCI_MANIFEST)
        .await;
    let sum = m
        .copy(&[job(&src, "org/d:1", &dst)], &NoProgress)
        .await
        .unwrap();
    assert_eq!(sum.blobs_copied, 2, "{sum:?}");
    assert_eq!(sum.blobs_mounted, 1, "{sum:?}");
    dst.client().verify_tree("org/d", "1").await;
}

/// Signals once `threshold` bytes have streamed.
struct Tripwire {
    seen: AtomicU64,
    threshold: u64,
    notify: Arc<tokio::sync::Notify>,
}

impl ProgressSink for Tripwire {
    fn image_started(&self, _: &str, _: u64) {}
    fn bytes_copied(&self, _: &str, n: u64) {
        if self.seen.fetch_add(n, Ordering::SeqCst) + n >= self.threshold {
            self.notify.notify_one();
        }
    }
    fn blob_skipped(&self, _: &str, _: u64) {}
    fn image_done(&self, _: &str, _: &ImageOutcome) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_copy_leaves_no_manifest_and_a_rerun_completes() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    let layers: Vec<_> = (0..3).map(|_| random(16 << 20)).collect();
    let digest = src
        .client()
        .push_image("org/big", "1", &layers, OCI_MANIFEST)
        .await;
    let jobs = [job(&src, "org/big:1", &dst)];
    let notify = Arc::new(tokio::sync::Notify::new());
    let trip = Tripwire {
        seen: AtomicU64::new(0),
        threshold: 4 << 20,
        notify: notify.clone(),
    };
    let m = mirror();
    tokio::select! {
        biased;
        _ = notify.notified() => {}
        r = m.copy(&jobs, &trip) => panic!("the copy finished before the interruption: {r:?}"),
    }
    // Dropped mid-stream: no manifest may be visible.
    assert!(dst
        .client()
        .get_manifest_raw("org/big", "1")
        .await
        .is_none());

    let sum = mirror().copy(&jobs, &NoProgress).await.unwrap();
    assert_eq!(sum.images, 1);
    let (raw, _) = dst.client().get_manifest_raw("org/big", "1").await.unwrap();
    assert_eq!(digest_of(&raw), digest);
    dst.client().verify_tree("org/big", "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_blob_is_rejected_and_no_manifest_referencing_it_is_pushed() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    let s = src.client();
    let good = random(40_000);
    let bad = random(300_000);
    let bad_digest = digest_of(&bad);
    s.push_image("org/bad", "1", &[good, bad.clone()], OCI_MANIFEST)
        .await;
    // Same size, different bytes: the registry serves it without noticing.
    let mut tampered = bad;
    tampered[1000] ^= 0xff;
    std::fs::write(src.blob_file(&bad_digest), &tampered).unwrap();

    let image = format!("{}/org/bad:1", src.host);
    let err = mirror()
        .copy(&[job(&src, "org/bad:1", &dst)], &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&image) && msg.contains(&bad_digest), "{msg}");
    let d = dst.client();
    assert!(d.get_manifest_raw("org/bad", "1").await.is_none());
    assert!(d.blob("org/bad", &bad_digest).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_name_the_registry_and_credential_source_but_never_the_secret() {
    let src = TestRegistry::start_with_login("tester", "right-password-123");
    let dst = TestRegistry::start();
    src.client()
        .push_image("org/private", "1", &[random(1000)], OCI_MANIFEST)
        .await;
    let jobs = [job(&src, "org/private:1", &dst)];

    // Wrong password from a docker config file.
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg = cfgdir.path().join("config.json");
    let wrong = "wrong-password-987";
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("tester:{wrong}"));
    std::fs::write(
        &cfg,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, src.host),
    )
    .unwrap();
    let creds = CredentialSource {
        docker_config: Some(cfg.clone()),
        ..CredentialSource::default()
    };
    let err = Mirror::new(CopyOptions::default(), creds)
        .copy(&jobs, &NoProgress)
        .await
        .unwrap_err();
    let msg = err.to_string();
    let dbg = format!("{err:?}");
    assert!(msg.contains(&src.host), "{msg}");
    assert!(msg.contains(&cfg.display().to_string()), "{msg}");
    assert!(msg.contains("401"), "{msg}");
    assert!(!msg.contains(wrong) && !dbg.contains(wrong), "{msg}");
    assert!(!msg.contains(&auth) && !dbg.contains(&auth), "{msg}");

    // An NGC key sent to this registry.
    let key = "nvapi-this-is-secret-42";
    let creds = CredentialSource {
        ngc_api_key: Some(Secret::new(key)),
        ngc_registries: vec![src.host.clone()],
        docker_config: None,
    };
    let err = Mirror::new(CopyOptions::default(), creds)
        .copy(&jobs, &NoProgress)
        .await
        .unwrap_err();
    let (msg, dbg) = (err.to_string(), format!("{err:?}"));
    assert!(
        msg.contains("NGC_API_KEY") && msg.contains(&src.host),
        "{msg}"
    );
    assert!(!msg.contains(key) && !dbg.contains(key), "{msg}");

    // No credentials at all.
    let msg = mirror()
        .copy(&jobs, &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("anonymous") && msg.contains(&src.host),
        "{msg}"
    );

    // The right password over Basic auth works.
    let auth = base64::engine::general_purpose::STANDARD.encode("tester:right-password-123");
    std::fs::write(
        &cfg,
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, src.host),
    )
    .unwrap();
    let creds = CredentialSource {
        docker_config: Some(cfg),
        ..CredentialSource::default()
    };
    Mirror::new(CopyOptions::default(), creds)
        .copy(&jobs, &NoProgress)
        .await
        .unwrap();
    dst.client().verify_tree("org/private", "1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_is_named_and_keep_going_reports_every_failure() {
    let src = TestRegistry::start();
    let dst = TestRegistry::start();
    src.client()
        .push_image("org/here", "1", &[random(1000)], OCI_MANIFEST)
        .await;
    let missing = format!("{}/org/nope:9", src.host);
    let err = mirror()
        .copy(&[job(&src, "org/nope:9", &dst)], &NoProgress)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!(
            "image {missing} not found in registry {}",
            src.host
        )),
        "{err}"
    );

    let jobs = [
        job(&src, "org/nope:9", &dst),
        job(&src, "org/here:1", &dst),
        job(&src, "org/here:2", &dst),
    ];
    let opts = CopyOptions {
        keep_going: true,
        ..CopyOptions::default()
    };
    match Mirror::new(opts, CredentialSource::default())
        .copy(&jobs, &NoProgress)
        .await
    {
        Err(RegistryError::Failed { failures, summary }) => {
            assert_eq!(failures.len(), 2, "{failures:?}");
            assert_eq!(summary.images, 1);
        }
        other => panic!("expected two failures, got {other:?}"),
    }
    dst.client().verify_tree("org/here", "1").await;
}

/// `registry status` counts what a registry holds through the registry
/// module's client (catalog, then each repository's tags).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_repositories_and_tagged_images_of_a_registry() {
    let r = TestRegistry::start();
    assert_eq!(
        nvcf_dev::ops::registry::count_images(&r.host)
            .await
            .unwrap(),
        (0, 0)
    );
    let api = r.client();
    for (repo, tag) in [("org/one", "1"), ("org/one", "2"), ("org/two", "x")] {
        api.push_image(repo, tag, &[random(1024)], OCI_MANIFEST)
            .await;
    }
    assert_eq!(
        nvcf_dev::ops::registry::count_images(&r.host)
            .await
            .unwrap(),
        (2, 3)
    );
}
