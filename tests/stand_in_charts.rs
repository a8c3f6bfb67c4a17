//! The stand-in charts in tests/charts/ must behave like charts helm accepts:
//! they lint and render with both real helm binaries (3 and 4), with no values
//! and with the guide's values files, so the tests that template, package and
//! push them exercise the same keys the real NVCF charts take.

mod common;

use std::path::Path;
use std::process::Command;

use serde::Deserialize;
use serde_yaml_ng::Value;

struct Chart {
    /// Directory under tests/charts/.
    dir: &'static str,
    /// The guide's values file (tests/fixtures/guide/<component>-values.yaml).
    component: &'static str,
    /// The release name the guide installs it as.
    release: &'static str,
    /// The chart version the guide installs.
    version: &'static str,
    /// (kind, name) of objects the guide's verification steps look for.
    objects: &'static [(&'static str, &'static str)],
    /// A node-selector value the guide's commented-out block sets.
    node_selector: &'static str,
}

const CHARTS: &[Chart] = &[
    Chart {
        dir: "helm-nvcf-nats",
        component: "nats",
        release: "nats",
        version: "0.5.0",
        objects: &[
            ("StatefulSet", "nats"),
            ("Deployment", "nats-box"),
            ("Job", "nats-nkey"),
        ],
        node_selector: "control-plane",
    },
    Chart {
        dir: "helm-nvcf-openbao-server",
        component: "openbao",
        release: "openbao-server",
        version: "0.22.1",
        objects: &[
            ("StatefulSet", "openbao-server"),
            ("Deployment", "openbao-server-agent-injector"),
            ("Job", "openbao-server-initialize-cluster"),
            ("Job", "openbao-server-migrations"),
            (
                "MutatingWebhookConfiguration",
                "openbao-server-agent-injector-cfg",
            ),
            ("PodDisruptionBudget", "openbao-server-agent-injector"),
        ],
        node_selector: "vault",
    },
    Chart {
        dir: "helm-nvcf-cassandra",
        component: "cassandra",
        release: "cassandra",
        version: "0.9.0",
        objects: &[
            ("StatefulSet", "cassandra"),
            ("Job", "cassandra-initialize-cluster"),
            ("Job", "cassandra-migrations"),
            ("Secret", "cassandra"),
        ],
        node_selector: "cassandra",
    },
];

fn helms() -> [(&'static str, String); 2] {
    [("helm 3", common::helm3()), ("helm 4", common::helm4())]
}

/// Runs helm and returns stdout; any failure fails the test with helm's output.
fn helm(helm: &str, args: &[&str]) -> String {
    let out = Command::new(helm)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {helm}: {e}"));
    assert!(
        out.status.success(),
        "`{helm} {}` failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The guide's node-selector blocks, set as a second values file (helm merges
/// `-f` files in order) rather than by uncommenting the guide's text.
fn node_selector_overlay(c: &Chart) -> String {
    let sel = format!(
        "nodeSelector:\n  nvcf.nvidia.com/workload: {}\n",
        c.node_selector
    );
    let indent = |n: usize| -> String {
        sel.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect()
    };
    match c.component {
        "nats" => format!(
            "nats:\n  podTemplate:\n    merge:\n      spec:\n{}",
            indent(8)
        ),
        "openbao" => format!(
            "openbao:\n  injector:\n{}  server:\n{}",
            indent(4),
            indent(4)
        ),
        _ => format!("{}:\n{}", c.component, indent(2)),
    }
}

/// The guide's placeholders filled in the way a user would.
fn filled(values: &str) -> String {
    values
        .replace("<REGISTRY_CREDENTIAL_B64>", "JG9hdXRodG9rZW46eHh4")
        .replace("<REGISTRY>", "nvcr.io")
        .replace("<REPOSITORY>", "myorg/myteam")
        .replace("<STORAGE_CLASS>", "standard")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn docs(rendered: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(rendered)
        .map(|d| Value::deserialize(d).expect("helm rendered invalid YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
}

fn images(docs: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = docs
        .iter()
        .flat_map(|d| {
            let spec = &d["spec"]["template"]["spec"];
            ["initContainers", "containers"]
                .into_iter()
                .filter_map(|k| spec[k].as_sequence())
                .flatten()
                .filter_map(|c| c["image"].as_str().map(String::from))
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn charts_carry_the_guides_versions() {
    for c in CHARTS {
        let text =
            std::fs::read_to_string(common::stand_in_chart(c.dir).join("Chart.yaml")).unwrap();
        let v: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(v["name"].as_str(), Some(c.dir));
        assert_eq!(v["version"].as_str(), Some(c.version), "{}", c.dir);
    }
}

#[test]
fn charts_lint_with_helm_3_and_4() {
    let tmp = tempfile::tempdir().unwrap();
    for (label, h) in helms() {
        for c in CHARTS {
            let chart = common::stand_in_chart(c.dir);
            let chart = chart.to_str().unwrap();
            let guide = write(
                tmp.path(),
                &format!("{}.yaml", c.component),
                &filled(&common::guide_values(c.component)),
            );
            let sel = write(tmp.path(), "sel.yaml", &node_selector_overlay(c));
            let out = helm(&h, &["lint", "--strict", chart]);
            assert!(
                out.contains("0 chart(s) failed"),
                "{label} {}: {out}",
                c.dir
            );
            let out = helm(&h, &["lint", "--strict", chart, "-f", &guide, "-f", &sel]);
            assert!(
                out.contains("0 chart(s) failed"),
                "{label} {}: {out}",
                c.dir
            );
        }
    }
}

#[test]
fn charts_template_with_empty_values_using_chart_defaults() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = write(tmp.path(), "empty.yaml", "");
    for (label, h) in helms() {
        for c in CHARTS {
            let chart = common::stand_in_chart(c.dir);
            let out = helm(
                &h,
                &["template", c.release, chart.to_str().unwrap(), "-f", &empty],
            );
            let docs = docs(&out);
            for (kind, name) in c.objects {
                if *kind == "PodDisruptionBudget" {
                    continue; // only when podDisruptionBudget is set
                }
                assert!(
                    find(&docs, kind, name).is_some(),
                    "{label} {}: no {kind}/{name}",
                    c.dir
                );
            }
            let imgs = images(&docs);
            assert!(!imgs.is_empty());
            assert!(
                imgs.iter()
                    .all(|i| i.starts_with("nvcr.io/nvidia/nvcf/") && i.contains(':')),
                "{label} {}: {imgs:?}",
                c.dir
            );
        }
    }
}

#[test]
fn charts_template_with_the_guides_values() {
    let tmp = tempfile::tempdir().unwrap();
    for (label, h) in helms() {
        for c in CHARTS {
            let chart = common::stand_in_chart(c.dir);
            let chart = chart.to_str().unwrap();
            // Verbatim (placeholders and all): helm must still render it.
            let verbatim = write(
                tmp.path(),
                "verbatim.yaml",
                &common::guide_values(c.component),
            );
            helm(&h, &["template", c.release, chart, "-f", &verbatim]);

            let guide = write(
                tmp.path(),
                "guide.yaml",
                &filled(&common::guide_values(c.component)),
            );
            let sel = write(tmp.path(), "sel.yaml", &node_selector_overlay(c));
            let out = helm(
                &h,
                &["template", c.release, chart, "-f", &guide, "-f", &sel],
            );
            let docs = docs(&out);
            for (kind, name) in c.objects {
                let obj = find(&docs, kind, name)
                    .unwrap_or_else(|| panic!("{label} {}: no {kind}/{name}", c.dir));
                let sel = &obj["spec"]["template"]["spec"]["nodeSelector"];
                if *kind == "StatefulSet" {
                    assert_eq!(
                        sel["nvcf.nvidia.com/workload"].as_str(),
                        Some(c.node_selector),
                        "{label} {kind}/{name}"
                    );
                }
            }
            let imgs = images(&docs);
            assert!(
                imgs.iter().all(|i| i.starts_with("nvcr.io/myorg/myteam/")),
                "{label} {}: {imgs:?}",
                c.dir
            );
        }
    }
}

#[test]
fn guide_values_reach_the_pod_templates() {
    let tmp = tempfile::tempdir().unwrap();
    let h = common::helm4();
    let render = |c: &Chart, extra: &str| {
        let f = write(
            tmp.path(),
            "v.yaml",
            &(filled(&common::guide_values(c.component)) + extra),
        );
        let chart = common::stand_in_chart(c.dir);
        docs(&helm(
            &h,
            &["template", c.release, chart.to_str().unwrap(), "-f", &f],
        ))
    };

    // NATS: three replicas of nats + reloader; JetStream PVC from the values.
    let nats = render(
        &CHARTS[0],
        "  config:\n    jetstream:\n      fileStore:\n        pvc:\n          storageClassName: standard\n",
    );
    let sts = find(&nats, "StatefulSet", "nats").unwrap();
    assert_eq!(sts["spec"]["replicas"].as_u64(), Some(3));
    let names: Vec<_> = sts["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nats", "reloader"]);
    let pvc = &sts["spec"]["volumeClaimTemplates"][0]["spec"];
    assert_eq!(pvc["storageClassName"].as_str(), Some("standard"));
    assert_eq!(
        pvc["resources"]["requests"]["storage"].as_str(),
        Some("10Gi")
    );
    let job = find(&nats, "Job", "nats-nkey").unwrap();
    assert_eq!(
        job["metadata"]["annotations"]["helm.sh/hook"].as_str(),
        Some("post-install")
    );

    // OpenBao: the sidecar from extraContainers, the agent image only in the
    // injector's environment, the migrations env list, labelled RBAC.
    let bao = render(&CHARTS[1], "");
    let sts = find(&bao, "StatefulSet", "openbao-server").unwrap();
    assert_eq!(sts["spec"]["replicas"].as_u64(), Some(3));
    let containers = sts["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .unwrap();
    assert_eq!(containers[1]["name"].as_str(), Some("auto-unseal-sidecar"));
    assert_eq!(
        containers[1]["image"].as_str(),
        Some("nvcr.io/myorg/myteam/nvcf-openbao:2.2.2-nv-1")
    );
    let inj = find(&bao, "Deployment", "openbao-server-agent-injector").unwrap();
    assert_eq!(inj["spec"]["replicas"].as_u64(), Some(2));
    let env = inj["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .unwrap();
    assert!(env
        .iter()
        .any(|e| e["name"].as_str() == Some("AGENT_INJECT_VAULT_IMAGE")
            && e["value"].as_str() == Some("nvcr.io/myorg/myteam/nvcf-openbao:2.2.2-nv-1")));
    let mig = find(&bao, "Job", "openbao-server-migrations").unwrap();
    let env = mig["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_sequence()
        .unwrap();
    assert!(env.iter().any(
        |e| e["name"].as_str() == Some("ADMIN_CLIENT_ID") && e["value"].as_str() == Some("ncp")
    ));
    for kind in ["ClusterRole", "ClusterRoleBinding"] {
        let any = bao.iter().filter(|d| d["kind"].as_str() == Some(kind));
        for d in any {
            assert_eq!(
                d["metadata"]["labels"]["app.kubernetes.io/instance"].as_str(),
                Some("openbao-server")
            );
        }
    }

    // Cassandra: replicas and storage class from the values, seed discovery
    // as an initContainer, the password in a Secret, parallel init job.
    let cas = render(
        &CHARTS[2],
        "  nodeSelector:\n    nvcf.nvidia.com/workload: cassandra\n",
    );
    let cas_small = {
        let f = write(
            tmp.path(),
            "c.yaml",
            "cassandra:\n  replicaCount: 1\n  global:\n    defaultStorageClass: standard\n  dbUser:\n    password: s3cret\n",
        );
        let chart = common::stand_in_chart(CHARTS[2].dir);
        docs(&helm(
            &h,
            &["template", "cassandra", chart.to_str().unwrap(), "-f", &f],
        ))
    };
    let sts = find(&cas, "StatefulSet", "cassandra").unwrap();
    assert_eq!(sts["spec"]["replicas"].as_u64(), Some(3));
    assert_eq!(
        sts["spec"]["template"]["spec"]["initContainers"][0]["image"].as_str(),
        Some("nvcr.io/myorg/myteam/bitnami-cassandra:5.0.3-debian-12-r7")
    );
    let sts = find(&cas_small, "StatefulSet", "cassandra").unwrap();
    assert_eq!(sts["spec"]["replicas"].as_u64(), Some(1));
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"].as_str(),
        Some("standard")
    );
    let secret = find(&cas_small, "Secret", "cassandra").unwrap();
    assert_eq!(
        secret["data"]["cassandra-password"].as_str(),
        Some("czNjcmV0") // base64("s3cret")
    );
    let init = find(&cas, "Job", "cassandra-initialize-cluster").unwrap();
    assert_eq!(init["spec"]["parallelism"].as_u64(), Some(2));
}

#[test]
fn cassandra_chart_lists_an_extra_image_in_its_annotation() {
    let text =
        std::fs::read_to_string(common::stand_in_chart("helm-nvcf-cassandra").join("Chart.yaml"))
            .unwrap();
    let v: Value = serde_yaml_ng::from_str(&text).unwrap();
    let list: Value =
        serde_yaml_ng::from_str(v["annotations"]["helm.sh/images"].as_str().unwrap()).unwrap();
    assert_eq!(
        list[0]["image"].as_str(),
        Some("nvcr.io/nvidia/nvcf/cassandra-exporter:2.3.8")
    );
}
