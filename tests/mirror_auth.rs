//! Mirroring through authenticated registries: `docker-registry` with
//! htpasswd Basic auth, and a plain `docker-registry` behind a token proxy
//! (opaque tokens with `expires_in`, as nvcr.io's Bearer flow). Many first
//! requests go out at once, and tokens expire while the mirror runs.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use nvcf_dev::registry::{
    destination_for, CopyJob, CopyOptions, CredentialSource, Mirror, NoProgress,
};

use common::registry::*;

/// A docker config granting `user:pass` on `host`, and a source that reads it.
fn login(host: &str, user: &str, pass: &str) -> (tempfile::TempDir, CredentialSource) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.json");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    std::fs::write(
        &cfg,
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    let creds = CredentialSource {
        docker_config: Some(cfg),
        ..CredentialSource::default()
    };
    (dir, creds)
}

/// Pushes `n` images of three blobs each to `api`; returns their repositories.
async fn fixtures(api: &Api, n: usize) -> Vec<String> {
    let mut repos = Vec::new();
    for i in 0..n {
        let repo = format!("org/app{i}");
        api.push_image(&repo, "1", &[random(20_000), random(30_000)], OCI_MANIFEST)
            .await;
        repos.push(repo);
    }
    repos
}

fn jobs(src_host: &str, repos: &[String], dst_host: &str) -> Vec<CopyJob> {
    repos
        .iter()
        .map(|r| {
            let source = format!("{src_host}/{r}:1");
            let destination = destination_for(&source, dst_host).unwrap();
            CopyJob {
                source,
                destination,
            }
        })
        .collect()
}

fn concurrent() -> CopyOptions {
    CopyOptions {
        concurrency: 6,
        ..CopyOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basic_auth_upstream_serves_many_concurrent_first_requests() {
    let behind = TestRegistry::start_with_login("tester", "basic-secret-55");
    let dst = TestRegistry::start();
    let repos = fixtures(&behind.client(), 6).await;
    // Only latency: every first request is out before the first 401 is back.
    let src = RegistryProxy::start(
        &behind.host,
        ProxyOptions {
            latency: Duration::from_millis(150),
            ..ProxyOptions::default()
        },
    )
    .await;
    let (_cfg, creds) = login(&src.host, "tester", "basic-secret-55");
    let sum = Mirror::new(concurrent(), creds)
        .copy(&jobs(&src.host, &repos, &dst.host), &NoProgress)
        .await
        .unwrap();
    assert_eq!(sum.images, repos.len(), "{sum:?}");
    for r in &repos {
        dst.client().verify_tree(r, "1").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_upstream_serves_many_concurrent_first_requests() {
    let upstream = TestRegistry::start();
    let dst = TestRegistry::start();
    let repos = fixtures(&upstream.client(), 6).await;
    let proxy = RegistryProxy::start(
        &upstream.host,
        ProxyOptions {
            bearer: Some((
                "$oauthtoken".into(),
                "nvapi-bearer-secret".into(),
                Duration::from_secs(300),
            )),
            latency: Duration::from_millis(150),
            ..ProxyOptions::default()
        },
    )
    .await;
    let (_cfg, creds) = login(&proxy.host, "$oauthtoken", "nvapi-bearer-secret");
    let sum = Mirror::new(concurrent(), creds)
        .copy(&jobs(&proxy.host, &repos, &dst.host), &NoProgress)
        .await
        .unwrap();
    assert_eq!(sum.images, repos.len(), "{sum:?}");
    for r in &repos {
        dst.client().verify_tree(r, "1").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expires_during_the_mirror_is_refreshed() {
    let src = TestRegistry::start();
    let behind = TestRegistry::start();
    let repos = fixtures(&src.client(), 2).await;
    // Tokens live 2 s and each upload is held 2.5 s after it starts, so the
    // token taken for an upload is stale by the time its bytes are sent.
    // (Whole seconds: with 1 s tokens, a loaded machine's scheduling jitter
    // decided the outcome.)
    let dst = RegistryProxy::start(
        &behind.host,
        ProxyOptions {
            bearer: Some((
                "pusher".into(),
                "push-secret-77".into(),
                Duration::from_secs(2),
            )),
            upload_start_delay: Duration::from_millis(2500),
            ..ProxyOptions::default()
        },
    )
    .await;
    let (_cfg, creds) = login(&dst.host, "pusher", "push-secret-77");
    let opts = CopyOptions {
        concurrency: 2,
        ..CopyOptions::default()
    };
    let sum = Mirror::new(opts, creds)
        .copy(&jobs(&src.host, &repos, &dst.host), &NoProgress)
        .await
        .unwrap();
    assert_eq!(sum.images, repos.len(), "{sum:?}");
    for r in &repos {
        behind.client().verify_tree(r, "1").await;
    }
    assert!(
        dst.tokens_issued.load(Ordering::SeqCst) > 1,
        "the mirror outlived its first token, so it must have taken another"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_listed_across_pages_with_credentials() {
    let reg = TestRegistry::start_with_login("lister", "tags-secret-31");
    let api = reg.client();
    let digest = api
        .push_image("org/charts/nats", "0.7.1", &[random(100)], OCI_MANIFEST)
        .await;
    let (raw, _) = api
        .get_manifest_raw("org/charts/nats", &digest)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    for tag in ["0.8.0", "0.10.0", "latest", "1.0.0-rc.1"] {
        api.push_manifest("org/charts/nats", tag, OCI_MANIFEST, &body)
            .await;
    }
    let (_cfg, creds) = login(&reg.host, "lister", "tags-secret-31");
    let creds_for_host = creds.resolve(&reg.host).await.unwrap();
    let r = nvcf_dev::registry::client::Registry::connect(&reg.host, creds_for_host, &[]).unwrap();
    let mut paged = r.list_tags("org/charts/nats", Some(2)).await.unwrap();
    paged.sort();
    assert_eq!(paged, ["0.10.0", "0.7.1", "0.8.0", "1.0.0-rc.1", "latest"]);

    let all = nvcf_dev::registry::list_tags(&creds, &reg.host, "org/charts/nats")
        .await
        .unwrap();
    assert_eq!(all.len(), 5, "{all:?}");
    assert_eq!(
        nvcf_dev::registry::release_versions(&all)
            .last()
            .map(String::as_str),
        Some("0.10.0")
    );
    let missing = nvcf_dev::registry::list_tags(&creds, &reg.host, "org/nope")
        .await
        .unwrap_err();
    assert!(
        matches!(missing, nvcf_dev::registry::RegistryError::NotFound { .. }),
        "{missing:?}"
    );
}
