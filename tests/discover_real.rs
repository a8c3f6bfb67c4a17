//! Image discovery (`nvcf_dev::registry::discover`) against the real helm and
//! the stand-ins of the published charts (tests/charts/PUBLISHED.md), both
//! series, with the values nvcf-dev produces: the plan's values fitted to the
//! chart (`plan::fit_values`), rendered by helm, then discovered the way
//! `nvcf-dev mirror` does it (src/ops/mirror.rs).

mod common;

use nvcf_dev::model::{self, Component};
use nvcf_dev::phase1::plan;
use nvcf_dev::registry::discover::{self, DiscoveredImage, Found, Unresolved};
use nvcf_dev::settings::{Flags, Purpose, Settings};
use nvcf_dev::values;
use serde_yaml_ng::Value;

const SERIES: [&str; 2] = ["current", "bitnami"];
/// The guide's registry (the upstream the mirror discovers against) and a
/// repository of the guide's shape.
const REG: &str = "nvcr.io";
const REPO: &str = "0abc123/nvcf";
/// The server, agent and sidecar tag of both openbao series.
const BAO_TAG: &str = "2.5.5-nv-1.3.1";

fn settings_for(profile_name: &str) -> Settings {
    let s = common::resolve_settings(
        profile_name,
        Flags::default(),
        &[
            ("REPOSITORY", REPO),
            ("NGC_API_KEY", "fake-ngc-key-for-tests-0123456789"),
            ("CASSANDRA_PASSWORD", "ch@ng3m3"),
        ],
        Purpose::Apply,
    );
    assert_eq!(s.upstream_registry, REG);
    s
}

/// Both profiles: dev (one Cassandra, no node selectors) and prod (the
/// guide's values with its node selectors). Images must not depend on them.
fn profiles() -> [(&'static str, Settings); 2] {
    [("dev", settings_for("dev")), ("prod", settings_for("prod"))]
}

/// `helm template` as nvcf-dev runs it: Ok(stdout) or Err(helm's `Error:` line).
fn template(helm: &str, c: &Component, series: &str, values: &Value) -> Result<String, String> {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("values.yaml");
    std::fs::write(&file, serde_yaml_ng::to_string(values).unwrap()).unwrap();
    let out = std::process::Command::new(helm)
        .args(["template", c.release])
        .arg(common::published_chart(series, c.chart))
        .args(["--namespace", c.namespace, "-f"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {helm}: {e}"));
    if out.status.success() {
        return Ok(String::from_utf8(out.stdout).unwrap());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(stderr
        .lines()
        .find(|l| l.starts_with("Error:"))
        .unwrap_or_else(|| panic!("helm failed with no Error: line:\n{stderr}"))
        .to_string())
}

struct Discovery {
    images: Vec<DiscoveredImage>,
    unresolved: Vec<Unresolved>,
    annotation: Vec<Found>,
}

/// What `nvcf-dev mirror` finds for one chart, with `values` as helm gets them.
fn discover_with(c: &Component, series: &str, values: &Value) -> Discovery {
    let info = nvcf_dev::chart::read_path(&common::published_chart(series, c.chart)).unwrap();
    let rendered = template(&common::helm4(), c, series, values)
        .unwrap_or_else(|e| panic!("{series} {}: {e}", c.name));
    let manifests = discover::images_in_manifests(&rendered).unwrap();
    let mut merged = info.defaults.clone();
    values::merge(&mut merged, values);
    let from_values = discover::images_in_values(&merged, &manifests);
    let annotation = discover::images_in_chart_annotation(&info.chart_yaml);
    let images = discover::merge_found(
        manifests
            .into_iter()
            .chain(from_values.found)
            .chain(annotation.clone()),
    );
    Discovery {
        images,
        unresolved: from_values.unresolved,
        annotation,
    }
}

/// The plan's values fitted to the chart: what nvcf-dev hands helm.
fn fitted(c: &Component, series: &str, s: &Settings) -> Value {
    let info = nvcf_dev::chart::read_path(&common::published_chart(series, c.chart)).unwrap();
    plan::fit_values(c, s, &s.upstream_registry, &info)
        .unwrap_or_else(|e| panic!("{series} {}: {e}", c.name))
        .0
}

fn discover(c: &Component, series: &str, s: &Settings) -> Discovery {
    discover_with(c, series, &fitted(c, series, s))
}

/// Every image with every place it was found, as `mirror --why` shows them.
fn why(d: &[DiscoveredImage]) -> Vec<(String, Vec<String>)> {
    d.iter()
        .map(|i| (i.image.clone(), i.sources.clone()))
        .collect()
}

fn img(name_tag: &str) -> String {
    format!("{REG}/{REPO}/{name_tag}")
}

fn entry(image: String, sources: &[&str]) -> (String, Vec<String>) {
    (image, sources.iter().map(|s| s.to_string()).collect())
}

fn unresolved_paths(u: &[Unresolved]) -> Vec<&str> {
    u.iter().map(|u| u.path.as_str()).collect()
}

#[test]
fn nats_images_are_the_three_containers_and_no_nkey_job() {
    // Both series generate their nkeys in templates: no hook Job, so the
    // guide's nkeyJob image (alpine-k8s) is neither mirrored nor reported.
    for (profile, s) in profiles() {
        for series in SERIES {
            let d = discover(&model::NATS, series, &s);
            assert_eq!(d.unresolved, [], "{profile} {series}");
            assert_eq!(
                why(&d.images),
                [
                    entry(
                        img("nats-box:0.19.5-nonroot"),
                        &["Deployment/nats-box container nats-box"]
                    ),
                    entry(
                        img("nats-server-config-reloader:0.23.0"),
                        &["StatefulSet/nats container reloader"]
                    ),
                    entry(
                        img("nats-server:2.11.17-alpine3.22"),
                        &["StatefulSet/nats container nats"]
                    ),
                ],
                "{profile} {series}"
            );
        }
    }
}

#[test]
fn openbao_images_include_the_hook_jobs_and_the_sidecar_is_the_server_image() {
    for (profile, s) in profiles() {
        for series in SERIES {
            let migrations = match series {
                "current" => "0.18.0",
                _ => "0.16.2",
            };
            let d = discover(&model::OPENBAO, series, &s);
            assert_eq!(d.unresolved, [], "{profile} {series}");
            // The agent image (repository as the guide gives it, tag fitted to
            // the server's) is the server image, which the pods already pull.
            assert_eq!(
                why(&d.images),
                [
                    entry(
                        img(&format!("nvcf-openbao-migrations:{migrations}")),
                        &["Job/openbao-server-migrations container migrations (post-install,post-upgrade hook)"]
                    ),
                    entry(
                        img(&format!("nvcf-openbao:{BAO_TAG}")),
                        &[
                            "Job/openbao-server-initialize-cluster container initialize-cluster (post-install hook)",
                            "StatefulSet/openbao-server container auto-unseal-sidecar",
                            "StatefulSet/openbao-server container openbao",
                        ]
                    ),
                    entry(
                        img("oss-vault-k8s:1.7.4"),
                        &["Deployment/openbao-server-agent-injector container sidecar-injector"]
                    ),
                ],
                "{profile} {series}"
            );
        }
    }
}

#[test]
fn openbao_agent_image_is_found_only_in_values_when_its_repository_differs() {
    let (_, mut s) = profiles().into_iter().next().unwrap();
    let user = s
        .profile
        .values
        .entry("openbao".into())
        .or_insert_with(|| Value::Mapping(Default::default()));
    values::set_path(
        user,
        &["openbao", "injector", "agentImage", "repository"],
        Value::from(format!("{REPO}/nvcf-openbao-agent")),
    );
    for series in SERIES {
        let d = discover(&model::OPENBAO, series, &s);
        assert_eq!(d.unresolved, [], "{series}");
        let agent = img(&format!("nvcf-openbao-agent:{BAO_TAG}"));
        let found: Vec<_> = why(&d.images)
            .into_iter()
            .filter(|(i, _)| i.contains("nvcf-openbao-agent"))
            .collect();
        assert_eq!(
            found,
            [entry(agent, &["values openbao.injector.agentImage"])],
            "{series}"
        );
        assert_eq!(d.images.len(), 4, "{series}: {:?}", why(&d.images));
    }
}

#[test]
fn cassandra_images_include_the_init_containers_and_hook_jobs() {
    for (profile, s) in profiles() {
        for series in SERIES {
            let (server, init) = match series {
                "current" => ("bitnami-cassandra:5.0.8-nv-2.0.1", "conf"),
                _ => ("bitnami-cassandra:5.0.6-nv-1", "dynamic-seed-discovery"),
            };
            let migrations = match series {
                "current" => "0.16.0",
                _ => "0.11.0",
            };
            let d = discover(&model::CASSANDRA, series, &s);
            assert_eq!(d.unresolved, [], "{profile} {series}");
            // Neither published chart lists images in a helm.sh/images
            // annotation; Bitnami's switched-off metrics and
            // volumePermissions images (docker.io/bitnami/...) are not needed.
            assert_eq!(d.annotation, [], "{profile} {series}");
            assert_eq!(
                why(&d.images),
                [
                    entry(
                        img(server),
                        &[
                            "Job/cassandra-initialize-cluster container initialize-cluster (post-install,post-upgrade hook)",
                            "StatefulSet/cassandra container cassandra",
                            &format!("StatefulSet/cassandra initContainer {init}"),
                        ]
                    ),
                    entry(
                        img(&format!("nvcf-cassandra-migrations:{migrations}")),
                        &["Job/cassandra-migrations container migrations (post-install,post-upgrade hook)"]
                    ),
                ],
                "{profile} {series}"
            );
        }
    }
}

#[test]
fn without_fitting_the_guides_unread_keys_look_like_unmirrorable_images() {
    // What fitting saves the user from: image keys the chart never reads have
    // no tag in its defaults, and would be reported as "no tag decides it".
    let (_, s) = profiles().into_iter().next().unwrap();
    for (c, series, want) in [
        (&model::NATS, "current", vec!["nats.nkeyJob.image"]),
        (&model::NATS, "bitnami", vec!["nats.nkeyJob.image"]),
        (
            &model::CASSANDRA,
            "current",
            vec![
                "cassandra.dynamicSeedDiscovery.image",
                "cassandra.initialization.image",
            ],
        ),
        (
            &model::CASSANDRA,
            "bitnami",
            vec!["cassandra.initialization.image"],
        ),
    ] {
        let raw = plan::component_values_for_registry(c, &s, &s.upstream_registry);
        let d = discover_with(c, series, &raw);
        assert_eq!(unresolved_paths(&d.unresolved), want, "{series} {}", c.name);
    }
}

#[test]
fn openbao_refuses_the_guides_values_unfitted_and_renders_them_fitted() {
    for helm in [common::helm3(), common::helm4()] {
        for (profile, s) in profiles() {
            for series in SERIES {
                let c = &model::OPENBAO;
                let raw = plan::component_values_for_registry(c, &s, &s.upstream_registry);
                let err = template(&helm, c, series, &raw)
                    .expect_err("the guide's stale sidecar tag must fail the render");
                assert!(
                    err.starts_with("Error:")
                        && err.contains("OpenBao image tag mismatch")
                        && err.contains("2.2.2-nv-1")
                        && err.contains(BAO_TAG),
                    "{helm} {profile} {series}: {err}"
                );
                let rendered = template(&helm, c, series, &fitted(c, series, &s))
                    .unwrap_or_else(|e| panic!("{helm} {profile} {series}: {e}"));
                let server: Vec<_> = discover::images_in_manifests(&rendered)
                    .unwrap()
                    .into_iter()
                    .filter(|f| f.source.starts_with("StatefulSet/"))
                    .map(|f| (f.image, f.source))
                    .collect();
                let bao = img(&format!("nvcf-openbao:{BAO_TAG}"));
                assert_eq!(
                    server,
                    [
                        (
                            bao.clone(),
                            "StatefulSet/openbao-server container openbao".to_string()
                        ),
                        (
                            bao,
                            "StatefulSet/openbao-server container auto-unseal-sidecar".to_string()
                        ),
                    ],
                    "{helm} {profile} {series}: one sidecar, the chart's, on the server's image"
                );
                assert!(
                    !rendered.contains("2.2.2-nv-1"),
                    "{helm} {profile} {series}"
                );
            }
        }
    }
}
