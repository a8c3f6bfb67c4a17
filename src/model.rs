//! Phase 1 as the guide defines it: one table entry per component holding
//! everything known about it (chart, release, namespace, dependencies, how
//! it is verified, its troubleshooting logs and jobs, what its values need),
//! and the install order derived from those. Adding a component means adding
//! a [`ComponentId`] and its entry here.

use std::fmt;

use futures::future::BoxFuture;

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
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.component().name)
    }
}

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
    /// Runs the guide's Verify section of the component.
    pub verify: for<'a> fn(&'a kube::Client, &'a Component) -> Verifying<'a>,
    /// The server StatefulSet, and the container of its pods that Verify
    /// and `logs` read.
    pub statefulset: &'static str,
    pub container: &'static str,
    /// The post-install job that initializes the cluster (Verify checks it).
    pub init_job: Option<&'static str>,
    /// The init job's pods are *expected* to fail while it retries: shown as
    /// such while installing, and one Completed pod is enough.
    pub init_job_retries: bool,
    /// The chart's migration job (Verify checks it): a helm upgrade re-runs
    /// it only when it re-creates it, which `reset` checks.
    pub migrations_job: Option<&'static str>,
    /// Why a Ready server pod may still not be usable, shown while installing.
    pub ready_note: Option<&'static str>,
    /// The logs the guide's Troubleshooting section names, in its order
    /// (`nvcf-dev logs`).
    pub logs: &'static [Log],
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

/// A log `nvcf-dev logs` shows, named by its place in the component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// Every pod of the init job (`kubectl logs -l job-name=<job>`).
    InitJob,
    MigrationsJob,
    /// The server container of StatefulSet pod `<statefulset>-N`.
    Server(u8),
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
    verify: |k, c| Box::pin(verify::verify_nats(k, c)),
    statefulset: "nats",
    container: "nats",
    init_job: None,
    init_job_retries: false,
    migrations_job: None,
    ready_note: None,
    logs: &[Log::Server(0)],
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
    verify: |k, c| Box::pin(verify::verify_openbao(k, c)),
    statefulset: "openbao-server",
    container: "openbao",
    init_job: Some("openbao-server-initialize-cluster"),
    init_job_retries: false,
    migrations_job: Some("openbao-server-migrations"),
    // The guide: a Ready server may still be sealed.
    ready_note: Some("Ready does not mean unsealed: `nvcf-dev status` checks it (`bao status`)"),
    logs: &[
        Log::InitJob,
        Log::MigrationsJob,
        Log::Server(0),
        Log::Server(1),
        Log::Server(2),
    ],
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
    verify: |k, c| Box::pin(verify::verify_cassandra(k, c)),
    statefulset: "cassandra",
    container: "cassandra",
    init_job: Some("cassandra-initialize-cluster"),
    // The guide: "Cassandra initialization pods showing Error is expected
    // ... as long as at least one initialization pod reaches Completed".
    init_job_retries: true,
    migrations_job: Some("cassandra-migrations"),
    ready_note: None,
    logs: &[Log::MigrationsJob, Log::InitJob, Log::Server(0)],
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

/// Looks a component up by name; the error lists the valid ones.
pub fn component(name: &str) -> Result<&'static Component, ModelError> {
    PHASE1
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| ModelError::UnknownComponent {
            name: name.to_string(),
            valid: PHASE1.map(|c| c.name).join(", "),
        })
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("unknown component `{name}`: valid components are {valid}")]
    UnknownComponent { name: String, valid: String },
}

/// Install stages: every component in a stage depends only on earlier stages,
/// so a stage's components install in parallel. Within a stage, the table's
/// order is kept. Phase 1 gives `[nats, cassandra]`, then `[openbao]`.
pub fn phase1_stages() -> Vec<Vec<ComponentId>> {
    let mut placed = Vec::new();
    let mut stages = Vec::new();
    while placed.len() < PHASE1.len() {
        let stage: Vec<ComponentId> = PHASE1
            .iter()
            .filter(|c| !placed.contains(&c.id) && c.depends_on.iter().all(|d| placed.contains(d)))
            .map(|c| c.id)
            .collect();
        assert!(!stage.is_empty(), "Phase 1's dependencies form a cycle");
        placed.extend(&stage);
        stages.push(stage);
    }
    stages
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
            assert_eq!(component(c.name).map(|c| c.id), Ok(c.id));
            assert_eq!(c.id.to_string(), c.name);
            assert_eq!(serde_json::to_value(c.id).unwrap(), c.name);
        }
    }

    #[test]
    fn guide_names_these_logs() {
        assert_eq!(OPENBAO.logs[..2], [Log::InitJob, Log::MigrationsJob]);
        assert_eq!(OPENBAO.init_job, Some("openbao-server-initialize-cluster"));
        assert_eq!((NATS.statefulset, NATS.container), ("nats", "nats"));
        assert_eq!(NATS.logs, [Log::Server(0)]);
        assert_eq!(CASSANDRA.logs.len(), 3);
    }

    #[test]
    fn every_job_log_names_its_job() {
        for c in &PHASE1 {
            for log in c.logs {
                let job = match log {
                    Log::InitJob => c.init_job,
                    Log::MigrationsJob => c.migrations_job,
                    Log::Server(_) => continue,
                };
                assert!(job.is_some(), "{}: {log:?}", c.name);
            }
        }
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
        assert_eq!(c.init_job, Some("cassandra-initialize-cluster"));
        assert!(c.init_job_retries);
        assert_eq!(o.migrations_job, Some("openbao-server-migrations"));
        assert_eq!(
            namespaces(),
            ["nats-system", "vault-system", "cassandra-system"]
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
