//! Phase 1 as the guide defines it: three components, their charts, releases,
//! namespaces and dependencies, and the install order derived from those.

use std::collections::BTreeMap;

/// One Phase 1 component, exactly as the guide's tables and install commands give it.
#[derive(Debug, Clone)]
pub struct Component {
    pub name: &'static str,
    pub chart: &'static str,
    pub version: &'static str,
    /// Helm release name. openbao's is fixed: other NVCF charts find it by name.
    pub release: &'static str,
    pub namespace: &'static str,
    /// Components that must be installed and healthy first.
    pub depends_on: &'static [&'static str],
    /// The guide installs with `--wait-for-jobs`: its post-install jobs must finish.
    pub wait_for_jobs: bool,
    /// The guide's values file, with placeholders.
    pub base_values: &'static str,
    /// Where the storage class goes in this chart's values (the guide's commented-out keys).
    pub storage_class_path: &'static [&'static str],
    /// Every PVC size in this chart's values.
    pub storage_size_paths: &'static [&'static [&'static str]],
    /// Where the Cassandra password goes in this chart's values: everything
    /// that logs in to Cassandra, and everything Cassandra lets in, must agree.
    pub cassandra_password_paths: &'static [&'static [&'static str]],
    /// What this chart needs of its values beyond the guide's keys, fitted
    /// to the chart pulled (see `fit`).
    pub fit: Option<crate::fit::Rule>,
}

pub const NATS: Component = Component {
    name: "nats",
    chart: "helm-nvcf-nats",
    version: "0.8.0",
    release: "nats",
    namespace: "nats-system",
    depends_on: &[],
    wait_for_jobs: false,
    base_values: include_str!("values/nats-values.yaml"),
    storage_class_path: &[
        "nats",
        "config",
        "jetstream",
        "fileStore",
        "pvc",
        "storageClassName",
    ],
    storage_size_paths: &[&["nats", "config", "jetstream", "fileStore", "pvc", "size"]],
    cassandra_password_paths: &[],
    fit: None,
};

pub const OPENBAO: Component = Component {
    name: "openbao",
    chart: "helm-nvcf-openbao-server",
    version: "0.32.0",
    release: "openbao-server",
    namespace: "vault-system",
    depends_on: &["nats"],
    wait_for_jobs: true,
    base_values: include_str!("values/openbao-values.yaml"),
    storage_class_path: &["openbao", "server", "dataStorage", "storageClass"],
    storage_size_paths: &[&["openbao", "server", "dataStorage", "size"]],
    // In the migrations' env list: filled through its <CASSANDRA_PASSWORD> placeholder.
    cassandra_password_paths: &[],
    fit: Some(crate::fit::openbao),
};

pub const CASSANDRA: Component = Component {
    name: "cassandra",
    chart: "helm-nvcf-cassandra",
    version: "0.20.1",
    release: "cassandra",
    namespace: "cassandra-system",
    depends_on: &[],
    wait_for_jobs: true,
    base_values: include_str!("values/cassandra-values.yaml"),
    storage_class_path: &["cassandra", "global", "defaultStorageClass"],
    storage_size_paths: &[&["cassandra", "persistence", "size"]],
    // The superuser, and the service roles Phase 2 services log in as with
    // the password OpenBao's migrations hand them (DEFAULT_CASSANDRA_PASSWORD).
    cassandra_password_paths: &[
        &["cassandra", "dbUser", "password"],
        &["cassandra", "serviceRolePassword"],
    ],
    fit: Some(crate::fit::cassandra),
};

/// Phase 1, in the guide's order.
pub const PHASE1: [Component; 3] = [NATS, OPENBAO, CASSANDRA];

/// The Phase 1 namespaces, which `up` creates before installing.
pub fn namespaces() -> Vec<&'static str> {
    PHASE1.iter().map(|c| c.namespace).collect()
}

pub fn component_names() -> Vec<&'static str> {
    PHASE1.iter().map(|c| c.name).collect()
}

/// Looks a component up by name; the error lists the valid ones.
pub fn component(name: &str) -> Result<&'static Component, ModelError> {
    PHASE1
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| ModelError::UnknownComponent {
            name: name.to_string(),
            valid: component_names().join(", "),
        })
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("unknown component `{name}`: valid components are {valid}")]
    UnknownComponent { name: String, valid: String },
    #[error("component `{component}` depends on `{dependency}`, which is not a component: valid components are {valid}")]
    UnknownDependency {
        component: String,
        dependency: String,
        valid: String,
    },
    #[error("the components' dependencies form a cycle ({0}): no install order exists")]
    Cycle(String),
}

/// Install stages: every component in a stage depends only on earlier stages,
/// so a stage's components install in parallel. Within a stage, the input
/// order is kept, so the order is stable. Phase 1 gives `[nats, cassandra]`,
/// then `[openbao]`.
pub fn stages<'a>(deps: &[(&'a str, Vec<&'a str>)]) -> Result<Vec<Vec<&'a str>>, ModelError> {
    let names: Vec<&str> = deps.iter().map(|(n, _)| *n).collect();
    for (name, ds) in deps {
        for d in ds {
            if !names.contains(d) {
                return Err(ModelError::UnknownDependency {
                    component: name.to_string(),
                    dependency: d.to_string(),
                    valid: names.join(", "),
                });
            }
        }
    }
    let mut placed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut out: Vec<Vec<&str>> = Vec::new();
    while placed.len() < deps.len() {
        let stage: Vec<&str> = deps
            .iter()
            .filter(|(n, ds)| !placed.contains_key(n) && ds.iter().all(|d| placed.contains_key(d)))
            .map(|(n, _)| *n)
            .collect();
        if stage.is_empty() {
            let rest: Vec<&str> = names
                .iter()
                .copied()
                .filter(|n| !placed.contains_key(n))
                .collect();
            return Err(ModelError::Cycle(rest.join(" -> ")));
        }
        for n in &stage {
            placed.insert(n, out.len());
        }
        out.push(stage);
    }
    Ok(out)
}

/// The stages of Phase 1.
pub fn phase1_stages() -> Vec<Vec<&'static str>> {
    let deps: Vec<(&str, Vec<&str>)> = PHASE1
        .iter()
        .map(|c| (c.name, c.depends_on.to_vec()))
        .collect();
    stages(&deps).expect("Phase 1's dependencies are acyclic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase1_installs_nats_and_cassandra_then_openbao() {
        assert_eq!(
            phase1_stages(),
            vec![vec!["nats", "cassandra"], vec!["openbao"]]
        );
    }

    #[test]
    fn the_model_matches_the_guide() {
        let o = component("openbao").unwrap();
        assert_eq!(
            (o.release, o.namespace, o.chart, o.version),
            (
                "openbao-server",
                "vault-system",
                "helm-nvcf-openbao-server",
                "0.32.0"
            )
        );
        assert!(o.wait_for_jobs);
        let n = component("nats").unwrap();
        assert_eq!(
            (n.release, n.namespace, n.version),
            ("nats", "nats-system", "0.8.0")
        );
        assert!(!n.wait_for_jobs);
        let c = component("cassandra").unwrap();
        assert_eq!(
            (c.release, c.namespace, c.version),
            ("cassandra", "cassandra-system", "0.20.1")
        );
        assert_eq!(
            namespaces(),
            ["nats-system", "vault-system", "cassandra-system"]
        );
    }

    #[test]
    fn stages_follow_chains_and_keep_input_order() {
        let deps = vec![
            ("c", vec!["b"]),
            ("a", vec![]),
            ("b", vec!["a"]),
            ("d", vec![]),
        ];
        assert_eq!(
            stages(&deps).unwrap(),
            vec![vec!["a", "d"], vec!["b"], vec!["c"]]
        );
    }

    #[test]
    fn a_cycle_is_an_error() {
        let deps = vec![("a", vec!["b"]), ("b", vec!["a"]), ("c", vec![])];
        assert_eq!(
            stages(&deps).unwrap_err(),
            ModelError::Cycle("a -> b".into())
        );
    }

    #[test]
    fn an_unknown_dependency_is_an_error() {
        let err = stages(&[("a", vec!["zz"])]).unwrap_err();
        assert!(
            err.to_string().contains("`zz`, which is not a component"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_component_lists_the_valid_ones() {
        let err = component("vault").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown component `vault`: valid components are nats, openbao, cassandra"
        );
    }
}
