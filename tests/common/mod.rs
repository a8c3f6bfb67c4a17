//! Shared helpers for the integration tests.
#![allow(dead_code)]

pub mod charts;
pub mod cli;
pub mod fake_http;
pub mod fake_kind;
pub mod kube_mock;
pub mod phase1_api;
pub mod registry;
pub mod warm_up;

use std::path::{Path, PathBuf};

/// A path the test set-up (scripts/setup-test-env.sh, sourced by
/// scripts/test.sh) provides. Missing means the environment was not set up:
/// fail loudly rather than pass without testing anything.
pub fn required_env(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: run scripts/test.sh (it installs and starts what the tests need)"
        ),
    }
}

pub fn helm3() -> String {
    required_env("NVCF_DEV_TEST_HELM3")
}

pub fn helm4() -> String {
    required_env("NVCF_DEV_TEST_HELM4")
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A stand-in of a published chart (tests/charts/PUBLISHED.md): `series` is
/// `current` (nats 0.8.0, openbao 0.32.0, cassandra 0.20.1) or `bitnami`
/// (0.7.2, 0.30.25, 0.17.0).
pub fn published_chart(series: &str, name: &str) -> PathBuf {
    repo_root().join("tests/charts").join(series).join(name)
}

/// `--chart-version` flags for a series' charts.
pub fn series_versions(series: &str) -> [&'static str; 3] {
    match series {
        "current" => ["nats=0.8.0", "openbao=0.32.0", "cassandra=0.20.1"],
        "bitnami" => ["nats=0.7.2", "openbao=0.30.25", "cassandra=0.17.0"],
        other => panic!("no chart series {other}"),
    }
}

/// The guide's values file, verbatim.
pub fn guide_values(component: &str) -> String {
    std::fs::read_to_string(
        repo_root().join(format!("tests/fixtures/guide/{component}-values.yaml")),
    )
    .unwrap()
}

/// The guide's file with its node-selector blocks uncommented "as documented":
/// the lines under a "# Uncomment ... node selectors" comment lose their `# `.
pub fn guide_values_with_node_selectors(component: &str) -> String {
    let mut out = Vec::new();
    let mut uncommenting: Option<usize> = None;
    for line in guide_values(component).lines() {
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        // A heading ("# Uncomment ...") starts a block; only node-selector blocks are uncommented.
        if body.starts_with("# Uncomment") {
            uncommenting = body.contains("node selectors").then_some(indent);
            out.push(line.to_string());
            continue;
        }
        match uncommenting {
            Some(at) if indent == at && body.starts_with("# ") => {
                out.push(format!("{}{}", " ".repeat(at), &body[2..]));
            }
            _ => {
                uncommenting = None;
                out.push(line.to_string());
            }
        }
    }
    out.join("\n") + "\n"
}

/// Every value under a key called `name`, anywhere in the tree: for property
/// checks such as "no nodeSelector anywhere".
pub fn keys_named<'a>(v: &'a serde_yaml_ng::Value, name: &str) -> Vec<&'a serde_yaml_ng::Value> {
    let mut found = Vec::new();
    collect_keys(v, name, &mut found);
    found
}

fn collect_keys<'a>(
    v: &'a serde_yaml_ng::Value,
    name: &str,
    found: &mut Vec<&'a serde_yaml_ng::Value>,
) {
    match v {
        serde_yaml_ng::Value::Mapping(m) => {
            for (k, v) in m {
                if k.as_str() == Some(name) {
                    found.push(v);
                }
                collect_keys(v, name, found);
            }
        }
        serde_yaml_ng::Value::Sequence(seq) => {
            seq.iter().for_each(|v| collect_keys(v, name, found))
        }
        _ => {}
    }
}

/// Settings as the binary resolves them, for `profile` with `flags` and the
/// environment `env` (nothing else is read), the state in a throwaway directory.
pub fn resolve_settings(
    profile: &str,
    flags: nvcf_dev::settings::Flags,
    env: &[(&'static str, &'static str)],
    purpose: nvcf_dev::settings::Purpose,
) -> nvcf_dev::settings::Settings {
    let state = tempfile::tempdir().unwrap();
    let env = nvcf_dev::settings::Env::from_pairs(env.iter().copied());
    let ctx = nvcf_dev::settings::Context {
        env: &env,
        prompt: &nvcf_dev::settings::NoPrompt,
        state_dir: Some(state.path().into()),
    };
    nvcf_dev::settings::resolve(
        nvcf_dev::profile::load(profile).unwrap(),
        "nvcf-dev",
        &flags,
        &ctx,
        purpose,
    )
    .unwrap()
}

/// The dev profile's settings for repository my-org/my-team, as `plan`
/// resolves them, with the state in `state`.
pub fn dev_settings(state: &Path) -> nvcf_dev::settings::Settings {
    let env = nvcf_dev::settings::Env::from_pairs([("REPOSITORY", "my-org/my-team")]);
    let ctx = nvcf_dev::settings::Context {
        env: &env,
        prompt: &nvcf_dev::settings::NoPrompt,
        state_dir: Some(state.into()),
    };
    nvcf_dev::settings::resolve(
        nvcf_dev::profile::load("dev").unwrap(),
        "nvcf-dev",
        &nvcf_dev::settings::Flags::default(),
        &ctx,
        nvcf_dev::settings::Purpose::Plan,
    )
    .unwrap()
}

/// `reset <component>` as the binary runs it after `--yes`.
pub fn reset_options(component: &str, no_reinstall: bool) -> nvcf_dev::ops::reset::ResetOptions {
    nvcf_dev::ops::reset::ResetOptions {
        component: nvcf_dev::model::component(component).unwrap(),
        no_reinstall,
        dry_run: false,
        yes: true,
    }
}

/// Writes `text` to `path` as an executable script (a stand-in binary).
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
