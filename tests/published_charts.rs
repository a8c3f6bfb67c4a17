//! The stand-ins for the charts NVIDIA publishes (tests/charts/current and
//! tests/charts/bitnami) must behave like those charts where nvcf-dev depends
//! on it: versions, which values keys are read, which renders fail, hooks and
//! scheduling. Every check runs with real helm 3 and helm 4.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml_ng::Value;

const REGISTRY: &str = "nvcr.io";
const REPOSITORY: &str = "myorg/myteam";
/// openbao server, agent and sidecar tag of both openbao series.
const BAO_TAG: &str = "2.5.5-nv-1.3.1";
/// The sidecar tag the old install guide pins.
const STALE_SIDECAR_TAG: &str = "2.2.2-nv-1";

// ---------------------------------------------------------------------------
// The charts

use nvcf_dev::model::ComponentId as Component;

struct Chart {
    /// Directory under tests/charts/.
    series: &'static str,
    name: &'static str,
    version: &'static str,
    component: Component,
    /// The wrapped chart, unpacked in charts/: (name, version).
    subchart: Option<(&'static str, &'static str)>,
    /// (kind, name) of objects a render with the guide-shaped values has.
    objects: &'static [(&'static str, &'static str)],
}

const NATS_OBJECTS: &[(&str, &str)] = &[
    ("StatefulSet", "nats"),
    ("Deployment", "nats-box"),
    ("Service", "nats"),
    ("Service", "nats-headless"),
    ("ConfigMap", "nats-config"),
    ("PodDisruptionBudget", "nats"),
    ("Secret", "nats-nkeys"),
    ("Secret", "nats-auth-callout-nkeys"),
    ("RoleBinding", "nats-openbao-nkeys-reader"),
];

const OPENBAO_OBJECTS: &[(&str, &str)] = &[
    ("StatefulSet", "openbao-server"),
    ("Deployment", "openbao-server-agent-injector"),
    ("PodDisruptionBudget", "openbao-server-agent-injector"),
    (
        "MutatingWebhookConfiguration",
        "openbao-server-agent-injector-cfg",
    ),
    ("Secret", "openbao-server-unseal"),
    ("Job", "openbao-server-initialize-cluster"),
    ("Job", "openbao-server-migrations"),
];

const CASSANDRA_OBJECTS: &[(&str, &str)] = &[
    ("StatefulSet", "cassandra"),
    ("Service", "cassandra-headless"),
    ("Secret", "cassandra"),
    ("Secret", "cassandra-service-role"),
    ("Job", "cassandra-initialize-cluster"),
    ("Job", "cassandra-migrations"),
];

const CHARTS: &[Chart] = &[
    Chart {
        series: "current",
        name: "helm-nvcf-nats",
        version: "0.8.0",
        component: Component::Nats,
        subchart: Some(("nats", "1.3.15")),
        objects: NATS_OBJECTS,
    },
    Chart {
        series: "current",
        name: "helm-nvcf-openbao-server",
        version: "0.32.0",
        component: Component::Openbao,
        subchart: Some(("openbao", "0.28.3")),
        objects: OPENBAO_OBJECTS,
    },
    Chart {
        series: "current",
        name: "helm-nvcf-cassandra",
        version: "0.20.1",
        component: Component::Cassandra,
        subchart: None,
        objects: CASSANDRA_OBJECTS,
    },
    Chart {
        series: "bitnami",
        name: "helm-nvcf-nats",
        version: "0.7.2",
        component: Component::Nats,
        subchart: Some(("nats", "1.3.15")),
        objects: NATS_OBJECTS,
    },
    Chart {
        series: "bitnami",
        name: "helm-nvcf-openbao-server",
        version: "0.30.25",
        component: Component::Openbao,
        subchart: Some(("openbao", "0.28.3")),
        objects: OPENBAO_OBJECTS,
    },
    Chart {
        series: "bitnami",
        name: "helm-nvcf-cassandra",
        version: "0.17.0",
        component: Component::Cassandra,
        subchart: Some(("cassandra", "12.3.5")),
        objects: CASSANDRA_OBJECTS,
    },
];

impl Chart {
    fn dir(&self) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/charts")
            .join(self.series)
            .join(self.name)
    }

    fn label(&self) -> String {
        format!("{}/{} {}", self.series, self.name, self.version)
    }

    /// The release name and namespace the guide installs it as.
    fn release(&self) -> (&'static str, &'static str) {
        match self.component {
            Component::Nats => ("nats", "nats-system"),
            Component::Openbao => ("openbao-server", "vault-system"),
            Component::Cassandra => ("cassandra", "cassandra-system"),
        }
    }

    /// The guide's values file (tests/fixtures/guide), placeholders filled.
    fn guide_values(&self) -> String {
        let file = match self.component {
            Component::Nats => "nats",
            Component::Openbao => "openbao",
            Component::Cassandra => "cassandra",
        };
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/guide/{file}-values.yaml"));
        std::fs::read_to_string(path)
            .unwrap()
            .replace("<REGISTRY_CREDENTIAL_B64>", "JG9hdXRodG9rZW46eHh4")
            .replace("<REGISTRY>", REGISTRY)
            .replace("<REPOSITORY>", REPOSITORY)
            .replace("<STORAGE_CLASS>", "standard")
    }
}

fn charts(component: Component) -> impl Iterator<Item = &'static Chart> {
    CHARTS.iter().filter(move |c| c.component == component)
}

/// The guide's openbao sidecar with the server's tag: what the guide should
/// now say. (helm replaces lists, so this overlay replaces the guide's.)
fn sidecar_overlay(tag: &str) -> String {
    format!(
        "openbao:\n  server:\n    extraContainers:\n      - name: auto-unseal-sidecar\n        image: \"{REGISTRY}/{REPOSITORY}/nvcf-openbao:{tag}\"\n"
    )
}

/// Registry and repositories only: every other key at its chart default.
fn openbao_images_only() -> String {
    let image =
        |repo: &str| format!("      registry: {REGISTRY}\n      repository: {REPOSITORY}/{repo}\n");
    format!(
        "openbao:\n  server:\n    image:\n{}  injector:\n    image:\n{}    agentImage:\n{}  migrations:\n    image:\n{}",
        image("nvcf-openbao"),
        image("oss-vault-k8s"),
        image("nvcf-openbao"),
        image("nvcf-openbao-migrations"),
    )
}

// ---------------------------------------------------------------------------
// helm

struct Helm {
    label: &'static str,
    path: String,
}

/// The real helm binaries the test set-up provides. An unset variable skips
/// that helm, loudly; a set one that does not run fails the test.
fn helms() -> Vec<Helm> {
    let mut out = Vec::new();
    for (label, var) in [
        ("helm 3", "NVCF_DEV_TEST_HELM3"),
        ("helm 4", "NVCF_DEV_TEST_HELM4"),
    ] {
        match std::env::var(var) {
            Ok(path) if !path.is_empty() => out.push(Helm { label, path }),
            _ => eprintln!(
                "SKIPPED with {label}: {var} is not set (run scripts/test.sh, which installs helm 3 and 4)"
            ),
        }
    }
    out
}

impl Helm {
    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(&self.path)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} ({}): {e}", self.label, self.path))
    }

    fn lint(&self, chart: &Chart, values: &[&Path]) {
        let dir = chart.dir();
        let mut args = vec!["lint", "--strict", dir.to_str().unwrap()];
        for v in values {
            args.extend(["-f", v.to_str().unwrap()]);
        }
        let out = self.run(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains("0 chart(s) failed"),
            "{} lint {}:\n{text}{}",
            self.label,
            chart.label(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `helm template` as the guide installs the chart: Ok(stdout) or Err(stderr).
    fn template(&self, chart: &Chart, values: &[&Path]) -> Result<String, String> {
        let (release, namespace) = chart.release();
        let dir = chart.dir();
        let mut args = vec![
            "template",
            release,
            dir.to_str().unwrap(),
            "--namespace",
            namespace,
        ];
        for v in values {
            args.extend(["-f", v.to_str().unwrap()]);
        }
        let out = self.run(&args);
        if out.status.success() {
            Ok(String::from_utf8(out.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn render(&self, chart: &Chart, values: &[&Path]) -> Render {
        match self.template(chart, values) {
            Ok(text) => Render::parse(&text),
            Err(e) => panic!("{} template {} failed:\n{e}", self.label, chart.label()),
        }
    }

    /// The `Error:` line of a render that must fail.
    fn render_error(&self, chart: &Chart, values: &[&Path]) -> String {
        match self.template(chart, values) {
            Ok(_) => panic!(
                "{} template {}: rendered, must fail",
                self.label,
                chart.label()
            ),
            Err(stderr) => stderr
                .lines()
                .find(|l| l.starts_with("Error:"))
                .unwrap_or_else(|| panic!("no Error: line in\n{stderr}"))
                .to_string(),
        }
    }
}

/// Values files in a temporary directory, one per call.
struct Values {
    dir: tempfile::TempDir,
    count: std::cell::Cell<usize>,
}

impl Values {
    fn new() -> Self {
        Values {
            dir: tempfile::tempdir().unwrap(),
            count: Default::default(),
        }
    }

    fn file(&self, text: &str) -> PathBuf {
        self.count.set(self.count.get() + 1);
        let p = self.dir.path().join(format!("v{}.yaml", self.count.get()));
        std::fs::write(&p, text).unwrap();
        p
    }
}

// ---------------------------------------------------------------------------
// Rendered objects

struct Render(Vec<Value>);

impl Render {
    fn parse(text: &str) -> Self {
        Render(
            serde_yaml_ng::Deserializer::from_str(text)
                .map(|d| Value::deserialize(d).expect("helm rendered invalid YAML"))
                .filter(|v| !v.is_null())
                .collect(),
        )
    }

    fn find(&self, kind: &str, name: &str) -> Option<&Value> {
        self.0.iter().find(|d| {
            d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name)
        })
    }

    fn get(&self, kind: &str, name: &str) -> &Value {
        self.find(kind, name)
            .unwrap_or_else(|| panic!("no {kind}/{name} in the render"))
    }

    fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.0
            .iter()
            .filter(move |d| d["kind"].as_str() == Some(kind))
    }

    /// Every container and init container image of every pod template.
    fn images(&self) -> Vec<String> {
        self.0
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
            .collect()
    }
}

fn pod_spec(obj: &Value) -> &Value {
    &obj["spec"]["template"]["spec"]
}

fn container<'a>(obj: &'a Value, name: &str) -> &'a Value {
    let spec = pod_spec(obj);
    ["containers", "initContainers"]
        .into_iter()
        .filter_map(|k| spec[k].as_sequence())
        .flatten()
        .find(|c| c["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no container {name} in {:?}", obj["metadata"]["name"]))
}

fn env<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_sequence()?
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .map(|e| e["value"].as_str().unwrap_or(""))
}

fn hook(obj: &Value) -> Option<&str> {
    obj["metadata"]["annotations"]["helm.sh/hook"].as_str()
}

fn secret_value(secret: &Value, key: &str) -> String {
    use base64::Engine;
    let b64 = secret["data"][key].as_str().expect("secret key");
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------
// All charts

#[test]
fn charts_carry_the_published_versions_and_their_subcharts() {
    let read = |p: PathBuf| -> Value {
        serde_yaml_ng::from_str(&std::fs::read_to_string(&p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    for c in CHARTS {
        let meta = read(c.dir().join("Chart.yaml"));
        assert_eq!(meta["name"].as_str(), Some(c.name), "{}", c.label());
        assert_eq!(meta["version"].as_str(), Some(c.version), "{}", c.label());
        let deps = meta["dependencies"]
            .as_sequence()
            .cloned()
            .unwrap_or_default();
        match c.subchart {
            None => {
                assert!(deps.is_empty(), "{}: no subchart expected", c.label());
                assert!(!c.dir().join("charts").exists(), "{}", c.label());
            }
            Some((name, version)) => {
                assert_eq!(deps.len(), 1, "{}", c.label());
                assert_eq!(deps[0]["name"].as_str(), Some(name), "{}", c.label());
                assert_eq!(deps[0]["version"].as_str(), Some(version), "{}", c.label());
                let sub = read(c.dir().join("charts").join(name).join("Chart.yaml"));
                assert_eq!(sub["name"].as_str(), Some(name), "{}", c.label());
                assert_eq!(sub["version"].as_str(), Some(version), "{}", c.label());
            }
        }
    }
}

#[test]
fn charts_lint_and_render_with_guide_shaped_values() {
    let v = Values::new();
    for h in helms() {
        for c in CHARTS {
            let guide = v.file(&c.guide_values());
            let mut files = vec![guide.as_path()];
            let fixed;
            if c.component == Component::Openbao {
                fixed = v.file(&sidecar_overlay(BAO_TAG));
                files.push(&fixed);
            }
            h.lint(c, &[]);
            h.lint(c, &files);

            let r = h.render(c, &files);
            for (kind, name) in c.objects {
                assert!(
                    r.find(kind, name).is_some(),
                    "{} {}: no {kind}/{name}",
                    h.label,
                    c.label()
                );
            }
            let images = r.images();
            assert!(!images.is_empty(), "{} {}", h.label, c.label());
            let prefix = format!("{REGISTRY}/{REPOSITORY}/");
            assert!(
                images.iter().all(|i| i.starts_with(&prefix)),
                "{} {}: images not all from the guide's registry: {images:?}",
                h.label,
                c.label()
            );
            for obj in &r.0 {
                for key in ["apiVersion", "kind"] {
                    assert!(obj[key].is_string(), "{} {}: {obj:?}", h.label, c.label());
                }
                assert!(obj["metadata"]["name"].is_string(), "{obj:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// OpenBao

#[test]
fn openbao_refuses_the_guides_stale_sidecar_tag() {
    let v = Values::new();
    for h in helms() {
        for c in charts(Component::Openbao) {
            let guide = v.file(&c.guide_values());
            let err = h.render_error(c, &[&guide]);
            assert!(
                err.contains("OpenBao image tag mismatch")
                    && err.contains(STALE_SIDECAR_TAG)
                    && err.contains(BAO_TAG),
                "{} {}: {err}",
                h.label,
                c.label()
            );
            // The same file with the server's tag on the sidecar renders.
            let fixed = v.file(&sidecar_overlay(BAO_TAG));
            h.render(c, &[&guide, &fixed]);
        }
    }
}

#[test]
fn openbao_refuses_an_agent_tag_other_than_the_servers() {
    let v = Values::new();
    let images = v.file(&openbao_images_only());
    let agent = v.file("openbao:\n  injector:\n    agentImage:\n      tag: 2.4.0\n");
    for h in helms() {
        for c in charts(Component::Openbao) {
            let err = h.render_error(c, &[&images, &agent]);
            assert!(
                err.contains("OpenBao image tag mismatch")
                    && err.contains("2.4.0")
                    && err.contains(BAO_TAG),
                "{} {}: {err}",
                h.label,
                c.label()
            );
        }
    }
}

#[test]
fn openbao_default_sidecar_runs_the_servers_image_and_tag() {
    let v = Values::new();
    let images = v.file(&openbao_images_only());
    // A new server tag, the agent moved with it: the default sidecar follows.
    let bumped = v.file(
        "openbao:\n  server:\n    image:\n      tag: 2.6.0\n  injector:\n    agentImage:\n      tag: 2.6.0\n",
    );
    for h in helms() {
        for c in charts(Component::Openbao) {
            for (files, tag) in [(vec![&images], BAO_TAG), (vec![&images, &bumped], "2.6.0")] {
                let files: Vec<&Path> = files.into_iter().map(|p| p.as_path()).collect();
                let r = h.render(c, &files);
                let sts = r.get("StatefulSet", "openbao-server");
                let want = format!("{REGISTRY}/{REPOSITORY}/nvcf-openbao:{tag}");
                for name in ["openbao", "auto-unseal-sidecar"] {
                    assert_eq!(
                        container(sts, name)["image"].as_str(),
                        Some(want.as_str()),
                        "{} {} {name}",
                        h.label,
                        c.label()
                    );
                }
                let inj = r.get("Deployment", "openbao-server-agent-injector");
                assert_eq!(
                    env(
                        container(inj, "sidecar-injector"),
                        "AGENT_INJECT_VAULT_IMAGE"
                    ),
                    Some(want.as_str())
                );
                assert_eq!(sts["spec"]["replicas"].as_u64(), Some(3));
            }
        }
    }
}

#[test]
fn openbao_hooks_initialize_on_install_only_and_migrate_on_every_upgrade() {
    let v = Values::new();
    let images = v.file(&openbao_images_only());
    for h in helms() {
        for c in charts(Component::Openbao) {
            let r = h.render(c, &[&images]);
            let init = r.get("Job", "openbao-server-initialize-cluster");
            assert_eq!(hook(init), Some("post-install"), "{}", c.label());
            let mig = r.get("Job", "openbao-server-migrations");
            assert_eq!(
                hook(mig),
                Some("post-install,post-upgrade"),
                "{}",
                c.label()
            );
            let m = container(mig, "migrations");
            let tag = if c.series == "current" {
                "0.18.0"
            } else {
                "0.16.2"
            };
            let want = format!("{REGISTRY}/{REPOSITORY}/nvcf-openbao-migrations:{tag}");
            assert_eq!(m["image"].as_str(), Some(want.as_str()), "{}", c.label());
            assert_eq!(env(m, "DEFAULT_CASSANDRA_PASSWORD"), Some("ch@ng3m3"));
            assert_eq!(env(m, "ADMIN_CLIENT_ID"), Some("ncp"));
        }
    }
}

#[test]
fn openbao_injector_requires_one_pod_per_node_unless_affinity_is_emptied() {
    let v = Values::new();
    let images = v.file(&openbao_images_only());
    let no_affinity = v.file("openbao:\n  injector:\n    affinity: \"\"\n");
    let guide = v.file(&format!(
        "{}openbao:\n  injector:\n    replicas: 2\n    nodeSelector:\n      nvcf.nvidia.com/workload: vault\n",
        openbao_images_only()
    ));
    for h in helms() {
        for c in charts(Component::Openbao) {
            let r = h.render(c, &[&images]);
            let inj = r.get("Deployment", "openbao-server-agent-injector");
            let terms = pod_spec(inj)["affinity"]["podAntiAffinity"]
                ["requiredDuringSchedulingIgnoredDuringExecution"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{} {}: no required anti-affinity", h.label, c.label()));
            assert!(terms
                .iter()
                .any(|t| t["topologyKey"].as_str() == Some("kubernetes.io/hostname")));
            // The server's own anti-affinity is switched off by the wrapper.
            let sts = r.get("StatefulSet", "openbao-server");
            assert!(pod_spec(sts)["affinity"].is_null(), "{}", c.label());

            let r = h.render(c, &[&images, &no_affinity]);
            let inj = r.get("Deployment", "openbao-server-agent-injector");
            assert!(
                pod_spec(inj)["affinity"].is_null(),
                "{} {}",
                h.label,
                c.label()
            );

            let r = h.render(c, &[&guide]);
            let inj = r.get("Deployment", "openbao-server-agent-injector");
            assert_eq!(inj["spec"]["replicas"].as_u64(), Some(2));
            assert_eq!(
                pod_spec(inj)["nodeSelector"]["nvcf.nvidia.com/workload"].as_str(),
                Some("vault")
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Cassandra 0.20.1 (Apache)

fn current_cassandra() -> &'static Chart {
    charts(Component::Cassandra)
        .find(|c| c.series == "current")
        .unwrap()
}

fn seeds(r: &Render) -> Vec<String> {
    let sts = r.get("StatefulSet", "cassandra");
    env(container(sts, "cassandra"), "CASSANDRA_SEEDS")
        .expect("CASSANDRA_SEEDS")
        .split(',')
        .map(String::from)
        .collect()
}

fn seed_host(i: u32) -> String {
    format!("cassandra-{i}.cassandra-headless.cassandra-system.svc.cluster.local")
}

#[test]
fn cassandra_seeds_name_pods_that_do_not_exist_when_seed_exceeds_replicas() {
    let c = current_cassandra();
    let v = Values::new();
    let one = v.file("cassandra:\n  replicaCount: 1\n");
    let one_seed = v.file("cassandra:\n  replicaCount: 1\n  cluster:\n    seed: 1\n");
    for h in helms() {
        // The trap: the default seed 2 names cassandra-1 with one replica.
        let r = h.render(c, &[&one]);
        let sts = r.get("StatefulSet", "cassandra");
        assert_eq!(sts["spec"]["replicas"].as_u64(), Some(1));
        assert_eq!(seeds(&r), [seed_host(0), seed_host(1)], "{}", h.label);

        let r = h.render(c, &[&one_seed]);
        assert_eq!(seeds(&r), [seed_host(0)], "{}", h.label);
    }
}

#[test]
fn cassandra_heap_comes_from_jvm_max_heap_size_or_the_preset() {
    let c = current_cassandra();
    let v = Values::new();
    let cases = [
        (
            "cassandra:\n  jvm:\n    maxHeapSize: 512M\n",
            Some("512M"),
            None,
        ),
        (
            "cassandra:\n  jvm:\n    maxHeapSize: 1G\n    heapNewSize: 200M\n",
            Some("1G"),
            Some("200M"),
        ),
        // Half the preset's 1536Mi memory limit.
        (
            "cassandra:\n  resourcesPreset: medium\n",
            Some("768M"),
            None,
        ),
        ("cassandra:\n  resourcesPreset: none\n", None, None),
        ("", None, None),
    ];
    for h in helms() {
        for (values, max, new) in cases {
            let f = v.file(values);
            let r = h.render(c, &[&f]);
            let cas = container(r.get("StatefulSet", "cassandra"), "cassandra");
            assert_eq!(env(cas, "MAX_HEAP_SIZE"), max, "{} {values:?}", h.label);
            assert_eq!(env(cas, "HEAP_NEWSIZE"), new, "{} {values:?}", h.label);
        }
    }
}

#[test]
fn cassandra_ignores_the_keys_of_older_charts() {
    let c = current_cassandra();
    let v = Values::new();
    let base = v.file(&c.guide_values());
    let jvm = v.file("cassandra:\n  jvm:\n    maxHeapSize: 512M\n");
    let ignored = [
        // Top-level heap keys (not jvm.*).
        "cassandra:\n  maxHeapSize: 512M\n  newHeapSize: 128M\n",
        // Keys of the Bitnami-based charts.
        "cassandra:\n  initialization:\n    image:\n      tag: x\n  dynamicSeedDiscovery:\n    enabled: false\n  global:\n    security:\n      allowInsecureImages: false\n",
    ];
    for h in helms() {
        let plain = h.template(c, &[&base]).unwrap();
        // A key the chart reads does change the render (so the comparison can fail).
        assert_ne!(plain, h.template(c, &[&base, &jvm]).unwrap());
        for values in ignored {
            let f = v.file(values);
            assert_eq!(
                plain,
                h.template(c, &[&base, &f]).unwrap(),
                "{}: {values:?} changed the render",
                h.label
            );
        }
    }
}

#[test]
fn cassandra_service_role_password_reaches_the_init_job() {
    let c = current_cassandra();
    let v = Values::new();
    let f = v.file("cassandra:\n  serviceRolePassword: s3rv1ce\n  dbUser:\n    password: sup3r\n");
    for h in helms() {
        let r = h.render(c, &[&f]);
        let role = r.get("Secret", "cassandra-service-role");
        assert_eq!(secret_value(role, "password"), "s3rv1ce");
        assert_eq!(
            secret_value(r.get("Secret", "cassandra"), "cassandra-password"),
            "sup3r"
        );
        let init = r.get("Job", "cassandra-initialize-cluster");
        let env = container(init, "initialize-cluster")["env"]
            .as_sequence()
            .unwrap();
        assert!(env.iter().any(|e| {
            let r = &e["valueFrom"]["secretKeyRef"];
            r["name"].as_str() == Some("cassandra-service-role")
                && r["key"].as_str() == Some("password")
        }));
        for job in ["cassandra-initialize-cluster", "cassandra-migrations"] {
            assert_eq!(
                hook(r.get("Job", job)),
                Some("post-install,post-upgrade"),
                "{job}"
            );
        }

        // The default is the value openbao's migrations hand out.
        let r = h.render(c, &[]);
        assert_eq!(
            secret_value(r.get("Secret", "cassandra-service-role"), "password"),
            "ch@ng3m3"
        );
    }
}

#[test]
fn cassandra_storage_and_scheduling_pass_through() {
    let c = current_cassandra();
    let v = Values::new();
    let global = v.file("cassandra:\n  global:\n    defaultStorageClass: standard\n");
    let explicit = v.file(
        "cassandra:\n  global:\n    defaultStorageClass: standard\n  persistence:\n    size: 20Gi\n    storageClass: fast\n  nodeSelector:\n    nvcf.nvidia.com/workload: cassandra\n",
    );
    for h in helms() {
        let pvc = |r: &Render| {
            r.get("StatefulSet", "cassandra")["spec"]["volumeClaimTemplates"][0]["spec"].clone()
        };
        let r = h.render(c, &[&global]);
        assert_eq!(pvc(&r)["storageClassName"].as_str(), Some("standard"));
        assert_eq!(
            pvc(&r)["resources"]["requests"]["storage"].as_str(),
            Some("10Gi")
        );
        let r = h.render(c, &[&explicit]);
        assert_eq!(pvc(&r)["storageClassName"].as_str(), Some("fast"));
        assert_eq!(
            pvc(&r)["resources"]["requests"]["storage"].as_str(),
            Some("20Gi")
        );
        let sts = r.get("StatefulSet", "cassandra");
        assert_eq!(
            pod_spec(sts)["nodeSelector"]["nvcf.nvidia.com/workload"].as_str(),
            Some("cassandra")
        );
    }
}

// ---------------------------------------------------------------------------
// Cassandra 0.17.0 (Bitnami)

fn bitnami_cassandra() -> &'static Chart {
    charts(Component::Cassandra)
        .find(|c| c.series == "bitnami")
        .unwrap()
}

#[test]
fn bitnami_cassandra_reads_its_own_jvm_and_seed_keys() {
    let c = bitnami_cassandra();
    let v = Values::new();
    let guide = v.file(&c.guide_values());
    let jvm = v.file("cassandra:\n  jvm:\n    maxHeapSize: 512M\n    newHeapSize: 128M\n");
    let seed_count = v.file("cassandra:\n  cluster:\n    seedCount: 2\n");
    for h in helms() {
        let r = h.render(c, &[&guide]);
        let sts = r.get("StatefulSet", "cassandra");
        let cas = container(sts, "cassandra");
        assert_eq!(env(cas, "MAX_HEAP_SIZE"), None, "{}", h.label);
        assert_eq!(env(cas, "HEAP_NEWSIZE"), None, "{}", h.label);
        // The wrapper's cluster.seed (2) is not Bitnami's key: one seed.
        assert_eq!(seeds(&r), [seed_host(0)], "{}", h.label);
        assert_eq!(
            container(sts, "dynamic-seed-discovery")["image"].as_str(),
            Some("nvcr.io/myorg/myteam/bitnami-cassandra:5.0.6-nv-1")
        );

        let r = h.render(c, &[&guide, &jvm]);
        let cas = container(r.get("StatefulSet", "cassandra"), "cassandra");
        assert_eq!(env(cas, "MAX_HEAP_SIZE"), Some("512M"), "{}", h.label);
        assert_eq!(env(cas, "HEAP_NEWSIZE"), Some("128M"), "{}", h.label);

        let r = h.render(c, &[&guide, &seed_count]);
        assert_eq!(seeds(&r), [seed_host(0), seed_host(1)], "{}", h.label);

        let role = r.get("Secret", "cassandra-service-role");
        assert_eq!(secret_value(role, "password"), "ch@ng3m3");
    }
}

#[test]
fn bitnami_cassandra_refuses_non_bitnami_images_unless_allowed() {
    let c = bitnami_cassandra();
    let v = Values::new();
    let guide = v.file(&c.guide_values());
    let strict = v.file("cassandra:\n  global:\n    security:\n      allowInsecureImages: false\n");
    // Bitnami's own images under a new tag pass verification.
    let bitnami_images = v.file(
        "cassandra:\n  image:\n    registry: docker.io\n    repository: bitnami/cassandra\n  dynamicSeedDiscovery:\n    image:\n      registry: docker.io\n      repository: bitnami/os-shell\n",
    );
    for h in helms() {
        // The wrapper's default (allowInsecureImages: true) lets the guide's images through.
        h.render(c, &[&guide]);

        let err = h.render_error(c, &[&guide, &strict]);
        assert!(
            err.contains("Original containers have been substituted"),
            "{}: {err}",
            h.label
        );

        let r = h.render(c, &[&guide, &strict, &bitnami_images]);
        let sts = r.get("StatefulSet", "cassandra");
        assert_eq!(
            container(sts, "cassandra")["image"].as_str(),
            Some("docker.io/bitnami/cassandra:5.0.6-nv-1")
        );
    }
}

// ---------------------------------------------------------------------------
// NATS

#[test]
fn nats_renders_no_nkey_job_and_generates_the_nkeys() {
    let v = Values::new();
    for h in helms() {
        for c in charts(Component::Nats) {
            // The guide's file sets nats.nkeyJob.image.
            let guide = c.guide_values();
            assert!(guide.contains("nkeyJob:"));
            let f = v.file(&guide);
            let r = h.render(c, &[&f]);
            let jobs: Vec<_> = r
                .of_kind("Job")
                .chain(r.of_kind("CronJob"))
                .filter_map(|j| j["metadata"]["name"].as_str())
                .collect();
            assert!(
                !jobs.iter().any(|n| n.contains("nkey")),
                "{} {}: {jobs:?}",
                h.label,
                c.label()
            );
            let user = r.get("Secret", "nats-nkeys");
            assert!(secret_value(user, "user.pub").starts_with('U'));
            assert!(secret_value(user, "user.key").starts_with("SU"));
            let callout = r.get("Secret", "nats-auth-callout-nkeys");
            assert!(secret_value(callout, "account_pub").starts_with('A'));

            // openbao's hook jobs (vault-system) may read them.
            let rb = r.get("RoleBinding", "nats-openbao-nkeys-reader");
            assert_eq!(
                rb["subjects"][0]["name"].as_str(),
                Some("openbao-server-initialize-cluster")
            );
            assert_eq!(
                rb["subjects"][0]["namespace"].as_str(),
                Some("vault-system")
            );
        }
    }
}

#[test]
fn nats_pod_template_merge_and_jetstream_pvc_reach_the_statefulset() {
    let v = Values::new();
    let overlay = v.file(
        "nats:\n  podTemplate:\n    merge:\n      spec:\n        nodeSelector:\n          nvcf.nvidia.com/workload: control-plane\n  config:\n    jetstream:\n      fileStore:\n        pvc:\n          size: 5Gi\n          storageClassName: standard\n",
    );
    for h in helms() {
        for c in charts(Component::Nats) {
            let guide = v.file(&c.guide_values());
            let plain = h.render(c, &[&guide]);
            let sts = plain.get("StatefulSet", "nats");
            assert!(pod_spec(sts)["nodeSelector"].is_null(), "{}", c.label());

            let r = h.render(c, &[&guide, &overlay]);
            let sts = r.get("StatefulSet", "nats");
            assert_eq!(sts["spec"]["replicas"].as_u64(), Some(3));
            assert_eq!(
                pod_spec(sts)["nodeSelector"]["nvcf.nvidia.com/workload"].as_str(),
                Some("control-plane"),
                "{} {}",
                h.label,
                c.label()
            );
            let names: Vec<_> = pod_spec(sts)["containers"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, ["nats", "reloader"]);
            assert_eq!(
                container(sts, "nats")["image"].as_str(),
                Some("nvcr.io/myorg/myteam/nats-server:2.11.17-alpine3.22")
            );
            assert_eq!(
                container(sts, "reloader")["image"].as_str(),
                Some("nvcr.io/myorg/myteam/nats-server-config-reloader:0.23.0")
            );
            let pvc = &sts["spec"]["volumeClaimTemplates"][0]["spec"];
            assert_eq!(pvc["storageClassName"].as_str(), Some("standard"));
            assert_eq!(
                pvc["resources"]["requests"]["storage"].as_str(),
                Some("5Gi")
            );

            let bx = r.get("Deployment", "nats-box");
            assert_eq!(
                container(bx, "nats-box")["image"].as_str(),
                Some("nvcr.io/myorg/myteam/nats-box:0.19.5-nonroot")
            );
        }
    }
}

#[test]
fn nats_images_fall_back_to_the_global_registry() {
    let v = Values::new();
    let f = v.file(
        "nats:\n  global:\n    image:\n      registry: mirror.local:5000\n  container:\n    image:\n      repository: nvcf/nats-server\n",
    );
    for h in helms() {
        for c in charts(Component::Nats) {
            let r = h.render(c, &[&f]);
            let sts = r.get("StatefulSet", "nats");
            assert_eq!(
                container(sts, "nats")["image"].as_str(),
                Some("mirror.local:5000/nvcf/nats-server:2.11.17-alpine3.22"),
                "{} {}",
                h.label,
                c.label()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// What nvcf-dev's profiles produce, fitted to the chart

/// A profile's values for `chart`, as `up` hands them to helm: the plan's
/// (profiles/<name>.yaml over the guide's files), fitted to the chart.
fn profile_values(profile_name: &str, chart: &Chart) -> String {
    use nvcf_dev::settings::{Flags, Purpose};
    let s = common::resolve_settings(
        profile_name,
        Flags::default(),
        &[
            ("REPOSITORY", REPOSITORY),
            ("NGC_API_KEY", "fake-ngc-key-for-tests-0123456789"),
            ("CASSANDRA_PASSWORD", "ch@ng3m3"),
        ],
        Purpose::Apply,
    );
    let plan = nvcf_dev::phase1::plan::build(&s);
    let c = plan.component(chart.component).unwrap().component;
    let info = nvcf_dev::chart::read_path(&chart.dir()).unwrap();
    let (values, _) = nvcf_dev::phase1::plan::fit_values(c, &s, &s.image_registry(), &info)
        .unwrap_or_else(|e| panic!("{profile_name} {}: {e}", chart.label()));
    serde_yaml_ng::to_string(&values).unwrap()
}

/// (kind/name, nodeSelector) of every pod template in the render.
fn node_selectors(r: &Render) -> Vec<(String, Value)> {
    r.0.iter()
        .filter(|d| !pod_spec(d).is_null())
        .map(|d| {
            (
                format!(
                    "{}/{}",
                    d["kind"].as_str().unwrap(),
                    d["metadata"]["name"].as_str().unwrap()
                ),
                pod_spec(d)["nodeSelector"].clone(),
            )
        })
        .collect()
}

#[test]
fn prod_node_selectors_land_where_the_guide_says_and_dev_has_none() {
    let sel = |w: &str| -> Value {
        serde_yaml_ng::from_str(&format!("nvcf.nvidia.com/workload: {w}")).unwrap()
    };
    let v = Values::new();
    for h in helms() {
        for c in CHARTS {
            // The guide's blocks: nats' StatefulSet (through podTemplate.merge),
            // openbao's server and injector, cassandra; the hook Jobs take the
            // chart's own nodeSelector too. nats-box has none in the guide.
            let want: Vec<(&str, Option<&str>)> = match c.component {
                Component::Nats => vec![
                    ("Deployment/nats-box", None),
                    ("StatefulSet/nats", Some("control-plane")),
                ],
                Component::Openbao => vec![
                    ("Deployment/openbao-server-agent-injector", Some("vault")),
                    ("StatefulSet/openbao-server", Some("vault")),
                    ("Job/openbao-server-initialize-cluster", Some("vault")),
                    ("Job/openbao-server-migrations", Some("vault")),
                ],
                Component::Cassandra => vec![
                    ("StatefulSet/cassandra", Some("cassandra")),
                    ("Job/cassandra-initialize-cluster", Some("cassandra")),
                    ("Job/cassandra-migrations", Some("cassandra")),
                ],
            };
            let prod = v.file(&profile_values("prod", c));
            let got = node_selectors(&h.render(c, &[&prod]));
            let want_prod: Vec<(String, Value)> = want
                .iter()
                .map(|(o, w)| (o.to_string(), w.map_or(Value::Null, sel)))
                .collect();
            assert_eq!(got, want_prod, "{} {} prod", h.label, c.label());

            let dev = v.file(&profile_values("dev", c));
            let got = node_selectors(&h.render(c, &[&dev]));
            let want_dev: Vec<(String, Value)> = want
                .iter()
                .map(|(o, _)| (o.to_string(), Value::Null))
                .collect();
            assert_eq!(got, want_dev, "{} {} dev", h.label, c.label());
        }
    }
}

#[test]
fn openbao_cluster_scoped_objects_carry_the_release_label() {
    // `nvcf-dev reset` finds the injector's cluster-scoped leftovers by
    // app.kubernetes.io/instance=<release> (src/k8s/stale.rs).
    let v = Values::new();
    for h in helms() {
        for c in charts(Component::Openbao) {
            let f = v.file(&profile_values("dev", c));
            let r = h.render(c, &[&f]);
            let cluster_scoped: Vec<(&str, &str, Option<&str>)> = [
                "ClusterRole",
                "ClusterRoleBinding",
                "MutatingWebhookConfiguration",
            ]
            .into_iter()
            .flat_map(|k| r.of_kind(k))
            .map(|d| {
                (
                    d["kind"].as_str().unwrap(),
                    d["metadata"]["name"].as_str().unwrap(),
                    d["metadata"]["labels"]["app.kubernetes.io/instance"].as_str(),
                )
            })
            .collect();
            assert_eq!(
                cluster_scoped,
                [
                    (
                        "ClusterRole",
                        "openbao-server-agent-injector-clusterrole",
                        Some("openbao-server")
                    ),
                    (
                        "ClusterRoleBinding",
                        "openbao-server-agent-injector-binding",
                        Some("openbao-server")
                    ),
                    (
                        "MutatingWebhookConfiguration",
                        "openbao-server-agent-injector-cfg",
                        Some("openbao-server")
                    ),
                ],
                "{} {}",
                h.label,
                c.label()
            );
        }
    }
}
