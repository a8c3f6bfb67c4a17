//! The profiles against their oracles: prod is the guide's values files, dev
//! has the properties a laptop needs, and both render with the real helm 3 and
//! helm 4 against the stand-ins of the published charts, fitted to them as
//! `up` does (tests/charts/PUBLISHED.md).

mod common;

use nvcf_dev::model::{self, ComponentId, PHASE1};
use nvcf_dev::phase1::plan;
use nvcf_dev::profile;
use nvcf_dev::settings::{self, Env, Flags, NoPrompt, Purpose, Settings};
use nvcf_dev::values;
use serde_yaml_ng::Value;

const FAKE_KEY: &str = "fake-ngc-key-for-tests-0123456789";
const PASSWORD: &str = "ch@ng3m3";

fn settings_for(
    profile_name: &str,
    flags: Flags,
    env: &[(&'static str, &'static str)],
) -> Settings {
    let state = tempfile::tempdir().unwrap();
    let env = Env::from_pairs(env.iter().copied());
    let ctx = settings::Context {
        env: &env,
        prompt: &NoPrompt,
        state_dir: Some(state.path().to_path_buf()),
    };
    settings::resolve(
        profile::load(profile_name).unwrap(),
        "nvcf-dev",
        &flags,
        &ctx,
        Purpose::Apply,
    )
    .unwrap()
}

fn prod() -> Settings {
    let flags = Flags {
        target: settings::ContextFlags {
            context: Some("my-eks".into()),
        },
        ..Default::default()
    };
    settings_for(
        "prod",
        flags,
        &[
            ("REPOSITORY", "my-org/my-team"),
            ("NGC_API_KEY", FAKE_KEY),
            ("CASSANDRA_PASSWORD", PASSWORD),
        ],
    )
}

fn dev() -> Settings {
    settings_for(
        "dev",
        Flags::default(),
        &[("REPOSITORY", "my-org/my-team"), ("NGC_API_KEY", FAKE_KEY)],
    )
}

fn parse(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap()
}

#[test]
fn prod_reproduces_the_guides_values_files() {
    let s = prod();
    let p = plan::build(&s);
    let credential = s
        .registry_credential_b64
        .as_ref()
        .unwrap()
        .expose()
        .to_string();
    for c in &PHASE1 {
        let text = common::guide_values_with_node_selectors(c.name)
            .replace("<REGISTRY_CREDENTIAL_B64>", &credential)
            .replace("<REGISTRY>", "nvcr.io")
            .replace("<REPOSITORY>", "my-org/my-team");
        let mut want = parse(&text);
        if c.name == "cassandra" {
            // The one addition: the superuser's and the service roles'
            // password, so that both always match OpenBao's
            // DEFAULT_CASSANDRA_PASSWORD (Phase 2 services log in with it).
            for key in [
                &["cassandra", "dbUser", "password"][..],
                &["cassandra", "serviceRolePassword"],
            ] {
                values::set_path(&mut want, key, Value::from(PASSWORD));
            }
        }
        let got = &p.component(c.id).unwrap().values;
        assert_eq!(
            got,
            &want,
            "{}: prod differs from the guide\n--- prod:\n{}",
            c.name,
            serde_yaml_ng::to_string(got).unwrap()
        );
    }
}

#[test]
fn the_oracle_really_has_node_selectors() {
    // Guards the uncommenting helper: if it silently did nothing, the prod
    // test above would still compare two guide files without node selectors.
    for c in &PHASE1 {
        let v = parse(&common::guide_values_with_node_selectors(c.name));
        assert!(
            !common::keys_named(&v, "nodeSelector").is_empty(),
            "{}",
            c.name
        );
        assert!(
            common::keys_named(&parse(&common::guide_values(c.name)), "nodeSelector").is_empty()
        );
    }
}

#[test]
fn dev_has_no_node_selector_one_cassandra_and_1gi_volumes() {
    let s = dev();
    let p = plan::build(&s);
    for cp in &p.components {
        assert!(
            common::keys_named(&cp.values, "nodeSelector").is_empty(),
            "{} has a nodeSelector",
            cp.component.name
        );
        for path in cp.component.storage_size_paths {
            assert_eq!(
                values::get_path(&cp.values, path),
                Some(&Value::from("1Gi")),
                "{} {path:?}",
                cp.component.name
            );
        }
        for size in common::keys_named(&cp.values, "size") {
            assert_eq!(
                size,
                &Value::from("1Gi"),
                "{}: every PVC is 1Gi",
                cp.component.name
            );
        }
        assert_eq!(
            values::get_path(&cp.values, cp.component.storage_class_path),
            Some(&Value::from("standard")),
            "{}",
            cp.component.name
        );
    }
    let cassandra = &p.component(ComponentId::Cassandra).unwrap().values;
    assert_eq!(cassandra["cassandra"]["replicaCount"], Value::from(1));
    assert_eq!(
        cassandra["cassandra"]["jvm"]["maxHeapSize"],
        Value::from("512M")
    );
    assert!(
        cassandra["cassandra"].get("maxHeapSize").is_none(),
        "no key that no chart reads"
    );
    let openbao = &p.component(ComponentId::Openbao).unwrap().values;
    assert_eq!(openbao["openbao"]["injector"]["replicas"], Value::from(1));
    assert_eq!(openbao["openbao"]["injector"]["affinity"], Value::from(""));
    // Images point at the local registry, with the repository path kept.
    assert_eq!(
        openbao["openbao"]["server"]["image"]["registry"],
        Value::from("localhost:5001")
    );
    assert_eq!(
        openbao["openbao"]["server"]["extraContainers"][0]["image"],
        Value::from("localhost:5001/my-org/my-team/nvcf-openbao:2.2.2-nv-1")
    );
}

#[test]
fn cassandra_and_openbao_share_the_password() {
    let s = dev();
    let p = plan::build(&s);
    let pw = s.cassandra_password.as_ref().unwrap().expose();
    let env = &p.component(ComponentId::Openbao).unwrap().values["openbao"]["migrations"]["env"];
    assert_eq!(env[0]["name"], Value::from("DEFAULT_CASSANDRA_PASSWORD"));
    assert_eq!(env[0]["value"], Value::from(pw));
    assert_eq!(
        p.component(ComponentId::Cassandra).unwrap().values["cassandra"]["dbUser"]["password"],
        Value::from(pw)
    );
}

#[test]
fn storage_environment_wins_over_the_profile() {
    let s = settings_for(
        "dev",
        Flags::default(),
        &[
            ("REPOSITORY", "o/t"),
            ("NGC_API_KEY", FAKE_KEY),
            ("STORAGE_CLASS", "gp3"),
            ("STORAGE_SIZE", "20Gi"),
        ],
    );
    let p = plan::build(&s);
    let cassandra = &p.component(ComponentId::Cassandra).unwrap().values;
    assert_eq!(
        cassandra["cassandra"]["persistence"]["size"],
        Value::from("20Gi")
    );
    assert_eq!(
        cassandra["cassandra"]["global"]["defaultStorageClass"],
        Value::from("gp3")
    );
}

/// Renders a component's values, fitted to the published stand-in of its
/// chart (current series) as `up` fits them, with a real helm.
fn render(helm: &str, s: &Settings, component: &model::Component) -> String {
    let chart = common::published_chart("current", component.chart);
    let info = nvcf_dev::chart::read_path(&chart).unwrap();
    let (values, _) = plan::fit_values(component, s, &s.image_registry(), &info).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("values.yaml");
    std::fs::write(&file, serde_yaml_ng::to_string(&values).unwrap()).unwrap();
    let out = std::process::Command::new(helm)
        .args(["template", component.release])
        .arg(&chart)
        .args(["--namespace", component.namespace, "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{helm} template {}: {}",
        component.name,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn generated_values_render_with_helm_3_and_helm_4() {
    for helm in [common::helm3(), common::helm4()] {
        let d = dev();
        let nats = render(&helm, &d, &model::NATS);
        assert!(
            nats.contains("localhost:5001/my-org/my-team/nats-server:"),
            "{nats}"
        );
        assert!(!nats.contains("nodeSelector"), "{nats}");
        let cassandra = render(&helm, &d, &model::CASSANDRA);
        assert!(cassandra.contains("replicas: 1"), "{cassandra}");
        assert!(cassandra.contains("storage: 1Gi"), "{cassandra}");
        let openbao = render(&helm, &d, &model::OPENBAO);
        // The sidecar's stale tag from the guide is fitted away: the chart's
        // own sidecar runs the server's image.
        assert!(
            openbao.contains("localhost:5001/my-org/my-team/nvcf-openbao:2.5.5-nv-1.3.1"),
            "{openbao}"
        );
        assert!(!openbao.contains("2.2.2-nv-1"), "{openbao}");
        assert!(!openbao.contains("nodeSelector"), "{openbao}");

        let p = prod();
        let openbao = render(&helm, &p, &model::OPENBAO);
        assert!(
            openbao.contains("nvcf.nvidia.com/workload: vault"),
            "{openbao}"
        );
        assert!(
            openbao.contains("nvcr.io/my-org/my-team/nvcf-openbao"),
            "{openbao}"
        );
        let cassandra = render(&helm, &p, &model::CASSANDRA);
        assert!(cassandra.contains("replicas: 3"), "{cassandra}");
        assert!(
            cassandra.contains("nvcf.nvidia.com/workload: cassandra"),
            "{cassandra}"
        );
    }
}

#[test]
fn keys_named_finds_nested_keys() {
    let v: serde_yaml_ng::Value =
        serde_yaml_ng::from_str("a: {nodeSelector: {x: 1}}\nl: [{nodeSelector: {}}]\n").unwrap();
    assert_eq!(common::keys_named(&v, "nodeSelector").len(), 2);
}
