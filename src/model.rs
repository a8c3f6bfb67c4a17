//! Phase 1 as the guide defines it: one table entry per component holding
//! everything known about it (chart, release, namespace, dependencies, how
//! it is verified, its troubleshooting logs and jobs, what its values need),
//! and the install order derived from those. Adding a component means adding
//! a [`ComponentId`] and its entry here.

use std::collections::BTreeMap;
use std::fmt;

use futures::future::BoxFuture;

use crate::k8s::logs::LogSource;
use crate::k8s::{verify, HealthReport, KubeError};

/// A Phase 1 component; its CLI name is its table entry's `name` (also how
/// it serializes, e.g. in `reset -o json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComponentId {
    Nats,
    Openbao,
    Cassandra,
}

impl ComponentId {
    /// Everything this id knows, from [`PHASE1`] (indexed by the id).
    pub fn component(self) -> &'static Component {
        &PHASE1[self as usize]
    }

    pub fn as_str(self) -> &'static str {
        self.component().name
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ComponentId {
    type Err = ModelError;
    fn from_str(name: &str) -> Result<Self, ModelError> {
        component(name).map(|c| c.id)
    }
}

/// Runs the guide's Verify section of a component in its namespace.
pub type VerifyFn = for<'a> fn(&'a kube::Client, &'static str) -> Verifying<'a>;
pub type Verifying<'a> = BoxFuture<'a, Result<HealthReport, KubeError>>;

/// One Phase 1 component, exactly as the guide's tables and install commands give it.
#[derive(Debug, Clone)]
pub struct Component {
    pub id: ComponentId,
    pub name: &'static str,
    pub chart: &'static str,
    pub version: &'static str,
    /// Helm release name. openbao's is fixed: other NVCF charts find it by name.
    pub release: &'static str,
    pub namespace: &'static str,
    /// Components that must be installed and healthy first.
    pub depends_on: &'static [ComponentId],
    /// The guide installs with `--wait-for-jobs`: its post-install jobs must finish.
    pub wait_for_jobs: bool,
    pub verify: VerifyFn,
    /// The logs the guide's Troubleshooting section names (`nvcf-dev logs`).
    pub logs: &'static [LogSource],
    /// Jobs whose pods are *expected* to fail while the job retries (shown
    /// as such while installing).
    pub retrying_jobs: &'static [&'static str],
    /// The chart's migration job: a helm upgrade re-runs it only when it
    /// re-creates it, which `reset` checks.
    pub migrations_job: Option<&'static str>,
    /// Components whose secrets this one's migrations copy: resetting one of
    /// them must re-run this component's migrations.
    pub copies_secrets_of: &'static [ComponentId],
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
    id: ComponentId::Nats,
    name: "nats",
    chart: "helm-nvcf-nats",
    version: "0.8.0",
    release: "nats",
    namespace: "nats-system",
    depends_on: &[],
    wait_for_jobs: false,
    verify: |k, ns| Box::pin(verify::verify_nats(k, ns)),
    logs: &[LogSource::Pod {
        pod: "nats-0",
        container: Some("nats"),
    }],
    retrying_jobs: &[],
    migrations_job: None,
    copies_secrets_of: &[],
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
    id: ComponentId::Openbao,
    name: "openbao",
    chart: "helm-nvcf-openbao-server",
    version: "0.32.0",
    release: "openbao-server",
    namespace: "vault-system",
    depends_on: &[ComponentId::Nats],
    wait_for_jobs: true,
    verify: |k, ns| Box::pin(verify::verify_openbao(k, ns)),
    logs: &[
        LogSource::Job("openbao-server-initialize-cluster"),
        LogSource::Job("openbao-server-migrations"),
        LogSource::Pod {
            pod: "openbao-server-0",
            container: Some("openbao"),
        },
        LogSource::Pod {
            pod: "openbao-server-1",
            container: Some("openbao"),
        },
        LogSource::Pod {
            pod: "openbao-server-2",
            container: Some("openbao"),
        },
    ],
    retrying_jobs: &[],
    migrations_job: Some("openbao-server-migrations"),
    // The migration job talks to NATS and keeps copies of NATS's secrets.
    copies_secrets_of: &[ComponentId::Nats],
    base_values: include_str!("values/openbao-values.yaml"),
    storage_class_path: &["openbao", "server", "dataStorage", "storageClass"],
    storage_size_paths: &[&["openbao", "server", "dataStorage", "size"]],
    // In the migrations' env list: filled through its <CASSANDRA_PASSWORD> placeholder.
    cassandra_password_paths: &[],
    fit: Some(crate::fit::openbao),
};

pub const CASSANDRA: Component = Component {
    id: ComponentId::Cassandra,
    name: "cassandra",
    chart: "helm-nvcf-cassandra",
    version: "0.20.1",
    release: "cassandra",
    namespace: "cassandra-system",
    depends_on: &[],
    wait_for_jobs: true,
    // Plus whether its service roles' password is the one OpenBao's
    // migrations hand out.
    verify: |k, ns| {
        Box::pin(async move {
            let mut report = verify::verify_cassandra(k, ns).await?;
            let bao = (OPENBAO.namespace, OPENBAO.release);
            let roles = verify::service_role_password(k, bao, (ns, CASSANDRA.release));
            report.checks.push(roles.await);
            Ok(report)
        })
    },
    logs: &[
        LogSource::Job("cassandra-migrations"),
        LogSource::Job("cassandra-initialize-cluster"),
        LogSource::Pod {
            pod: "cassandra-0",
            container: Some("cassandra"),
        },
    ],
    // The guide: "Cassandra initialization pods showing Error is expected
    // ... as long as at least one initialization pod reaches Completed".
    retrying_jobs: &["cassandra-initialize-cluster"],
    migrations_job: Some("cassandra-migrations"),
    copies_secrets_of: &[],
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

/// Phase 1, in the guide's order, indexed by [`ComponentId`].
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
pub fn stages<T: Copy + Ord + fmt::Display>(
    deps: &[(T, Vec<T>)],
) -> Result<Vec<Vec<T>>, ModelError> {
    let names: Vec<T> = deps.iter().map(|(n, _)| *n).collect();
    let list = |ns: &[T]| ns.iter().map(T::to_string).collect::<Vec<_>>();
    for (name, ds) in deps {
        if let Some(d) = ds.iter().find(|d| !names.contains(d)) {
            return Err(ModelError::UnknownDependency {
                component: name.to_string(),
                dependency: d.to_string(),
                valid: list(&names).join(", "),
            });
        }
    }
    let mut placed: BTreeMap<T, usize> = BTreeMap::new();
    let mut out: Vec<Vec<T>> = Vec::new();
    while placed.len() < deps.len() {
        let stage: Vec<T> = deps
            .iter()
            .filter(|(n, ds)| !placed.contains_key(n) && ds.iter().all(|d| placed.contains_key(d)))
            .map(|(n, _)| *n)
            .collect();
        if stage.is_empty() {
            let rest: Vec<T> = names
                .iter()
                .copied()
                .filter(|n| !placed.contains_key(n))
                .collect();
            return Err(ModelError::Cycle(list(&rest).join(" -> ")));
        }
        for n in &stage {
            placed.insert(*n, out.len());
        }
        out.push(stage);
    }
    Ok(out)
}

/// The stages of Phase 1.
pub fn phase1_stages() -> Vec<Vec<ComponentId>> {
    let deps: Vec<(ComponentId, Vec<ComponentId>)> = PHASE1
        .iter()
        .map(|c| (c.id, c.depends_on.to_vec()))
        .collect();
    stages(&deps).expect("Phase 1's dependencies are acyclic")
}

/// Components whose migrations copy secrets of `c`, so must run again after
/// `c` is reinstalled.
pub fn copies_secrets_of(c: &Component) -> Vec<&'static Component> {
    PHASE1
        .iter()
        .filter(|d| d.copies_secrets_of.contains(&c.id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase1_installs_nats_and_cassandra_then_openbao() {
        use ComponentId::*;
        assert_eq!(phase1_stages(), vec![vec![Nats, Cassandra], vec![Openbao]]);
    }

    #[test]
    fn ids_index_the_table_and_parse_from_the_cli_names() {
        for c in &PHASE1 {
            assert_eq!(c.id.component().name, c.name);
            assert_eq!(c.name.parse::<ComponentId>(), Ok(c.id));
            assert_eq!(c.id.to_string(), c.name);
            assert_eq!(serde_json::to_value(c.id).unwrap(), c.name);
        }
        assert!("vault".parse::<ComponentId>().is_err());
    }

    #[test]
    fn guide_names_these_logs() {
        assert_eq!(
            OPENBAO.logs[..2],
            [
                LogSource::Job("openbao-server-initialize-cluster"),
                LogSource::Job("openbao-server-migrations")
            ]
        );
        assert_eq!(
            NATS.logs,
            [LogSource::Pod {
                pod: "nats-0",
                container: Some("nats")
            }]
        );
        assert_eq!(CASSANDRA.logs.len(), 3);
    }

    #[test]
    fn openbao_copies_the_secrets_of_nats_only() {
        let names = |c| {
            copies_secrets_of(c)
                .iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&NATS), ["openbao"]);
        assert!(names(&OPENBAO).is_empty());
        assert!(names(&CASSANDRA).is_empty());
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
        assert_eq!(c.retrying_jobs, ["cassandra-initialize-cluster"]);
        assert_eq!(o.migrations_job, Some("openbao-server-migrations"));
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
