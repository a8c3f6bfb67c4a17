//! Fitting a component's values to the chart actually pulled. The guide's
//! values files are older than the charts NVIDIA publishes: some of their keys
//! are no longer read, and one (the OpenBao auto-unseal sidecar's image tag)
//! now makes every chart refuse to render. These rules read the chart's own
//! defaults ([`ChartInfo`]) and keep what the user asked for, or say clearly
//! why it cannot work. All pure: the caller fetches the chart.

use serde_yaml_ng::Value;

use crate::chart::{self, ChartInfo};
use crate::values;

/// The layers of one component's values, so a rule can tell a key the guide
/// wrote (ours to fix) from one the user's profile set (theirs: checked).
pub struct Fit<'a> {
    pub chart: &'a ChartInfo,
    /// The profile's `values.<component>` (the user's explicit choices).
    pub user: &'a Value,
    /// Guide, profile and settings merged: what helm gets.
    pub values: &'a mut Value,
    /// What was changed, for the user to read (`-v`).
    pub notes: Vec<String>,
}

/// A per-component rule, kept in the component table.
pub type Rule = fn(&mut Fit<'_>) -> Result<(), FitError>;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FitError {
    #[error("the profile's values.openbao.{key} is {tag}, but {chart} runs the OpenBao server at {server_tag} (openbao.server.image.tag) and refuses to render unless they are equal: remove the override from the profile, or set both tags to the same value")]
    TagMismatch {
        chart: String,
        key: String,
        tag: String,
        server_tag: String,
    },
    #[error("the profile's values.cassandra.{key} is {seeds}, more seeds than the {replicas} Cassandra replica(s): seed pods that never start keep Cassandra from forming; set it to at most {replicas}")]
    TooManySeeds {
        key: String,
        seeds: i64,
        replicas: i64,
    },
}

/// What fitting changed, and the user's keys the chart does not read (each
/// with a "did you mean" where one exists).
#[derive(Debug, Clone, Default)]
pub struct Fitted {
    pub notes: Vec<String>,
    pub unread: Vec<String>,
}

/// Fits `values` to `chart` in place: the guide's keys the chart does not
/// declare are dropped (they would do nothing, and their images would be
/// reported as unmirrorable), then the component's own rule runs, then the
/// user's keys the chart does not read are listed, so nothing is a silent no-op.
pub fn fit(
    component: &'static str,
    rule: Option<Rule>,
    chart: &ChartInfo,
    guide: &Value,
    user: &Value,
    values: &mut Value,
) -> Result<Fitted, FitError> {
    let name = format!("{} {}", chart.name, chart.version);
    let mut notes = Vec::new();
    for path in chart::undeclared(guide, &chart.defaults) {
        if values::get_path(user, &path).is_none() {
            values::remove_path(values, &path);
            let key = path.join(".");
            notes.push(format!(
                "{name} does not read the guide's `{key}`: left out"
            ));
        }
    }
    let mut fit = Fit {
        chart,
        user,
        values,
        notes,
    };
    if let Some(rule) = rule {
        rule(&mut fit)?;
    }
    let unread = chart::undeclared(user, &chart.defaults)
        .into_iter()
        .map(|p| {
            let hint = chart::same_name_elsewhere(&chart.defaults, &p)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            let key = p.join(".");
            format!("{name} has no value `{key}`, so the profile's values.{component}.{key} does nothing{hint}")
        })
        .collect();
    Ok(Fitted {
        notes: fit.notes,
        unread,
    })
}

/// The value at `path`: what helm gets, else the chart's default.
fn effective<'v>(values: &'v Value, defaults: &'v Value, path: &[&str]) -> Option<&'v Value> {
    values::get_path(values, path).or_else(|| values::get_path(defaults, path))
}

/// The tag of an image reference, when it has a literal one (not a template,
/// not a digest).
fn image_tag(image: &str) -> Option<&str> {
    if image.contains("{{") || image.contains('@') {
        return None;
    }
    let name = image.rsplit('/').next()?;
    name.split_once(':').map(|(_, tag)| tag)
}

const SIDECAR: &str = "auto-unseal-sidecar";

fn sidecar_index(containers: &Value) -> Option<usize> {
    containers
        .as_sequence()?
        .iter()
        .position(|c| c.get("name").and_then(Value::as_str) == Some(SIDECAR))
}

/// OpenBao: the chart refuses to render unless the injector's agent image and
/// the auto-unseal sidecar run the server's tag. Where the chart defines its
/// own sidecar (it follows the server's image), the guide's copy with its
/// stale tag is dropped; otherwise the guide's sidecar gets the server's tag.
/// A tag the user set must agree, or the error says so before helm runs.
pub fn openbao(fit: &mut Fit<'_>) -> Result<(), FitError> {
    const SERVER_TAG: &[&str] = &["openbao", "server", "image", "tag"];
    const AGENT_TAG: &[&str] = &["openbao", "injector", "agentImage", "tag"];
    const EXTRA: &[&str] = &["openbao", "server", "extraContainers"];
    let defaults = &fit.chart.defaults;
    let Some(server_tag) = effective(fit.values, defaults, SERVER_TAG)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
    else {
        return Ok(());
    };
    let mismatch = |key: String, tag: &str| FitError::TagMismatch {
        chart: format!("{} {}", fit.chart.name, fit.chart.version),
        key,
        tag: tag.to_string(),
        server_tag: server_tag.clone(),
    };

    match values::get_path(fit.user, AGENT_TAG).and_then(Value::as_str) {
        Some(tag) if tag != server_tag => return Err(mismatch(AGENT_TAG.join("."), tag)),
        Some(_) => {}
        None => {
            let current = effective(fit.values, defaults, AGENT_TAG).and_then(Value::as_str);
            if current.is_some_and(|t| t != server_tag) {
                values::set_path(fit.values, AGENT_TAG, Value::from(server_tag.as_str()));
                fit.notes.push(format!(
                    "the injector's agent image follows the server's tag {server_tag}"
                ));
            }
        }
    }

    let user_extra = values::get_path(fit.user, EXTRA);
    if let Some(i) = user_extra.and_then(sidecar_index) {
        let image = user_extra
            .and_then(|cs| cs[i]["image"].as_str())
            .unwrap_or("");
        return match image_tag(image) {
            Some(tag) if tag != server_tag => Err(mismatch(
                format!("{} ({SIDECAR}) image", EXTRA.join(".")),
                tag,
            )),
            _ => Ok(()),
        };
    }
    let chart_has_sidecar = values::get_path(defaults, EXTRA)
        .and_then(sidecar_index)
        .is_some();
    let Some(containers) = values::get_path_mut(fit.values, EXTRA) else {
        return Ok(());
    };
    let Some(i) = sidecar_index(containers) else {
        return Ok(());
    };
    if chart_has_sidecar && user_extra.is_none() {
        values::remove_path(fit.values, EXTRA);
        fit.notes.push(format!(
            "{} {} brings its own {SIDECAR}, on the server's image: the guide's copy is left out",
            fit.chart.name, fit.chart.version
        ));
        return Ok(());
    }
    let image = &mut containers[i]["image"];
    let current = image.as_str().unwrap_or_default();
    if let Some(tag) = image_tag(current).filter(|t| *t != server_tag) {
        // The tag ends the reference: swap it for the server's.
        let fixed = format!("{}{server_tag}", &current[..current.len() - tag.len()]);
        fit.notes.push(format!(
            "the {SIDECAR} runs the server's tag {server_tag}, not the guide's {tag}"
        ));
        *image = Value::from(fixed);
    }
    Ok(())
}

/// Cassandra: every seed must be a pod that exists. The Apache-based chart
/// (0.18+) names `cluster.seed` pods, Bitnami's `cluster.seedCount`; with one
/// replica the chart's default of 2 seeds names a pod that never starts.
pub fn cassandra(fit: &mut Fit<'_>) -> Result<(), FitError> {
    let defaults = &fit.chart.defaults;
    let Some(replicas) =
        effective(fit.values, defaults, &["cassandra", "replicaCount"]).and_then(Value::as_i64)
    else {
        return Ok(());
    };
    for key in ["seed", "seedCount"] {
        let path = ["cassandra", "cluster", key];
        // Only the key this chart declares.
        let seeds = values::get_path(defaults, &path)
            .and(effective(fit.values, defaults, &path))
            .and_then(Value::as_i64);
        let Some(seeds) = seeds.filter(|s| *s > replicas) else {
            continue;
        };
        if values::get_path(fit.user, &path).is_some() {
            return Err(FitError::TooManySeeds {
                key: path.join("."),
                seeds,
                replicas,
            });
        }
        values::set_path(fit.values, &path, Value::from(replicas));
        fit.notes.push(format!(
            "cassandra.cluster.{key} follows the {replicas} replica(s) (the chart's default is {seeds})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    fn chart(name: &str, version: &str, defaults: &str) -> ChartInfo {
        ChartInfo {
            name: name.into(),
            version: version.into(),
            chart_yaml: String::new(),
            defaults: yaml(defaults),
        }
    }

    const OPENBAO_WITH_SIDECAR: &str = r#"
openbao:
  migrations: {image: {registry: "", repository: "", tag: 0.18.0}, env: []}
  server:
    image: {registry: "", repository: "", tag: 2.5.5-nv-1.3.1}
    extraContainers:
      - name: auto-unseal-sidecar
        image: '{{ .Values.server.image.registry }}/{{ .Values.server.image.repository }}:{{ .Values.server.image.tag }}'
    dataStorage: {size: 10Gi, storageClass: null}
    affinity: ""
  injector:
    image: {registry: "", repository: "", tag: 1.7.4}
    agentImage: {registry: "", repository: "", tag: 2.5.5-nv-1.3.1}
    replicas: 1
    affinity: "required"
"#;

    fn guide_openbao() -> Value {
        yaml(
            r#"
openbao:
  server:
    image: {registry: reg, repository: o/t/nvcf-openbao}
    extraContainers:
      - name: auto-unseal-sidecar
        image: reg/o/t/nvcf-openbao:2.2.2-nv-1
  injector:
    agentImage: {registry: reg, repository: o/t/nvcf-openbao}
"#,
        )
    }

    fn run(
        rule: Rule,
        c: &ChartInfo,
        user: &str,
        component: &'static str,
        guide: Value,
    ) -> Result<(Value, Fitted), FitError> {
        let user = yaml(user);
        let mut values = guide.clone();
        values::merge(&mut values, &user);
        let fitted = fit(component, Some(rule), c, &guide, &user, &mut values)?;
        Ok((values, fitted))
    }

    #[test]
    fn a_chart_with_its_own_sidecar_gets_no_stale_copy() {
        let c = chart("helm-nvcf-openbao-server", "0.32.0", OPENBAO_WITH_SIDECAR);
        let (v, f) = run(openbao, &c, "{}", "openbao", guide_openbao()).unwrap();
        assert!(
            v["openbao"]["server"].get("extraContainers").is_none(),
            "{v:?}"
        );
        assert!(
            f.notes.iter().any(|n| n.contains("brings its own")),
            "{:?}",
            f.notes
        );
        assert!(f.unread.is_empty());
    }

    #[test]
    fn a_chart_without_a_sidecar_gets_the_guides_with_the_server_tag() {
        let defaults = OPENBAO_WITH_SIDECAR.replace(
            "    extraContainers:\n      - name: auto-unseal-sidecar\n        image: '{{ .Values.server.image.registry }}/{{ .Values.server.image.repository }}:{{ .Values.server.image.tag }}'\n",
            "    extraContainers: []\n",
        );
        let c = chart("helm-nvcf-openbao-server", "0.22.1", &defaults);
        let (v, _) = run(openbao, &c, "{}", "openbao", guide_openbao()).unwrap();
        assert_eq!(
            v["openbao"]["server"]["extraContainers"][0]["image"],
            yaml("reg/o/t/nvcf-openbao:2.5.5-nv-1.3.1")
        );
    }

    #[test]
    fn a_user_server_tag_moves_the_agent_tag_with_it() {
        let c = chart("helm-nvcf-openbao-server", "0.32.0", OPENBAO_WITH_SIDECAR);
        let user = "openbao: {server: {image: {tag: 2.6.0-nv-1}}}";
        let (v, _) = run(openbao, &c, user, "openbao", guide_openbao()).unwrap();
        assert_eq!(
            v["openbao"]["injector"]["agentImage"]["tag"],
            yaml("2.6.0-nv-1")
        );
    }

    #[test]
    fn a_user_tag_that_disagrees_is_refused_with_both_tags() {
        let c = chart("helm-nvcf-openbao-server", "0.32.0", OPENBAO_WITH_SIDECAR);
        let user = "openbao: {injector: {agentImage: {tag: 2.2.2-nv-1}}}";
        let err = run(openbao, &c, user, "openbao", guide_openbao()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the profile's values.openbao.openbao.injector.agentImage.tag is 2.2.2-nv-1, but helm-nvcf-openbao-server 0.32.0 runs the OpenBao server at 2.5.5-nv-1.3.1 (openbao.server.image.tag) and refuses to render unless they are equal: remove the override from the profile, or set both tags to the same value"
        );
        let user = "openbao: {server: {extraContainers: [{name: auto-unseal-sidecar, image: 'r/x/nvcf-openbao:2.2.2-nv-1'}]}}";
        let err = run(openbao, &c, user, "openbao", guide_openbao()).unwrap_err();
        assert!(
            err.to_string()
                .contains("extraContainers (auto-unseal-sidecar) image is 2.2.2-nv-1"),
            "{err}"
        );
        let user = "openbao: {server: {extraContainers: [{name: auto-unseal-sidecar, image: 'r:5000/x/nvcf-openbao:2.5.5-nv-1.3.1'}]}}";
        let (v, _) = run(openbao, &c, user, "openbao", guide_openbao()).unwrap();
        assert_eq!(
            v["openbao"]["server"]["extraContainers"][0]["image"],
            yaml("r:5000/x/nvcf-openbao:2.5.5-nv-1.3.1"),
            "an agreeing sidecar of the user's is kept"
        );
    }

    const CASSANDRA_APACHE: &str = r#"
cassandra:
  global: {imagePullSecrets: [], defaultStorageClass: ""}
  image: {registry: "", repository: "", tag: 5.0.8-nv-2.0.1}
  replicaCount: 3
  cluster: {name: cassandra, seed: 2, extraSeeds: []}
  jvm: {maxHeapSize: "", heapNewSize: ""}
  resources: {}
  persistence: {size: 10Gi, storageClass: ""}
  migrations: {image: {registry: "", repository: "", tag: 0.16.0}}
  dbUser: {user: cassandra, password: cassandra}
  serviceRolePassword: "ch@ng3m3"
"#;

    fn guide_cassandra() -> Value {
        yaml(
            r#"
cassandra:
  global: {security: {allowInsecureImages: true}}
  replicaCount: 3
  image: {registry: reg, repository: o/t/bitnami-cassandra}
  dynamicSeedDiscovery: {image: {registry: reg, repository: o/t/bitnami-cassandra}}
  initialization: {image: {registry: reg, repository: o/t/alpine-k8s}}
  persistence: {size: 10Gi}
"#,
        )
    }

    #[test]
    fn the_guides_unread_keys_are_left_out_and_the_users_are_named() {
        let c = chart("helm-nvcf-cassandra", "0.20.1", CASSANDRA_APACHE);
        let user = "cassandra: {replicaCount: 1, maxHeapSize: 512M, jvm: {maxHeapSize: 512M}}";
        let (v, f) = run(cassandra, &c, user, "cassandra", guide_cassandra()).unwrap();
        let cass = &v["cassandra"];
        for gone in ["dynamicSeedDiscovery", "initialization"] {
            assert!(cass.get(gone).is_none(), "{gone} left out: {v:?}");
        }
        assert!(cass["global"].get("security").is_none());
        assert_eq!(cass["jvm"]["maxHeapSize"], yaml("512M"));
        assert_eq!(
            f.unread,
            ["helm-nvcf-cassandra 0.20.1 has no value `cassandra.maxHeapSize`, so the profile's values.cassandra.cassandra.maxHeapSize does nothing (did you mean `cassandra.jvm.maxHeapSize`?)"]
        );
        assert!(
            f.notes
                .iter()
                .any(|n| n.contains("the guide's `cassandra.initialization`")),
            "{:?}",
            f.notes
        );
    }

    #[test]
    fn seeds_follow_one_replica_and_a_users_excess_is_refused() {
        let c = chart("helm-nvcf-cassandra", "0.20.1", CASSANDRA_APACHE);
        let (v, _) = run(
            cassandra,
            &c,
            "cassandra: {replicaCount: 1}",
            "cassandra",
            guide_cassandra(),
        )
        .unwrap();
        assert_eq!(v["cassandra"]["cluster"]["seed"], yaml("1"));
        let (v, _) = run(cassandra, &c, "{}", "cassandra", guide_cassandra()).unwrap();
        assert!(
            v["cassandra"].get("cluster").is_none(),
            "3 replicas keep the chart's 2 seeds"
        );
        let err = run(
            cassandra,
            &c,
            "cassandra: {replicaCount: 1, cluster: {seed: 2}}",
            "cassandra",
            guide_cassandra(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("is 2, more seeds than the 1 Cassandra replica"),
            "{err}"
        );
    }

    #[test]
    fn bitnami_seed_count_is_fitted_too() {
        let c = chart(
            "helm-nvcf-cassandra",
            "0.17.0",
            "cassandra:\n  replicaCount: 3\n  cluster: {seed: 2, seedCount: 3}\n",
        );
        let (v, _) = run(
            cassandra,
            &c,
            "cassandra: {replicaCount: 1}",
            "cassandra",
            guide_cassandra(),
        )
        .unwrap();
        assert_eq!(v["cassandra"]["cluster"]["seed"], yaml("1"));
        assert_eq!(v["cassandra"]["cluster"]["seedCount"], yaml("1"));
    }

    #[test]
    fn image_tags_are_read_past_a_registry_port() {
        assert_eq!(
            image_tag("localhost:5001/o/t/nvcf-openbao:2.2.2-nv-1"),
            Some("2.2.2-nv-1")
        );
        assert_eq!(image_tag("localhost:5001/o/t/nvcf-openbao"), None);
        assert_eq!(image_tag("{{ .Values.x }}:{{ .Values.y }}"), None);
    }
}
