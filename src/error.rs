//! The error every command returns. Each variant's message is one line that
//! says what failed and what to do; `main` prints it and exits non-zero.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Run(#[from] crate::tools::runner::RunError),
    #[error(transparent)]
    Tool(#[from] crate::tools::ToolError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    #[error(transparent)]
    Kube(#[from] crate::k8s::KubeError),
    #[error(transparent)]
    Discover(#[from] crate::registry::discover::DiscoverError),
    #[error(transparent)]
    Docker(#[from] crate::runtime::DockerError),
    #[error(transparent)]
    Chart(#[from] crate::chart::ChartError),
    #[error(transparent)]
    Fit(#[from] crate::fit::FitError),
    #[error(transparent)]
    ChartVersion(#[from] crate::phase1::charts::ChartVersionError),
    #[error(transparent)]
    Install(#[from] crate::phase1::install::InstallError),
    #[error(transparent)]
    Cluster(#[from] crate::steps::cluster::ClusterError),
    #[error("cannot create a private temporary directory: {0}; check that $TMPDIR is writable")]
    TempDir(std::io::Error),
    /// A broken invariant of nvcf-dev itself.
    #[error("internal error: {0}; please report it")]
    Internal(String),
    /// A failure whose message says it all: input clap cannot catch, or
    /// checks whose report has already been printed.
    #[error("{0}")]
    Failed(String),
    /// Ctrl-C (exit code 130): what to do next, or the state each release
    /// helm was changing was left in and what the next `up` does about it.
    #[error("interrupted: {0}")]
    Interrupted(String),
}
