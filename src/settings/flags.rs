//! The settings flags, as clap groups. Each command flattens the groups it
//! reads, so clap refuses a flag the command would ignore.

/// The `--help` heading of every settings flag.
pub const FLAGS_HEADING: &str = "Settings (flags win over the environment and the profile)";

/// Settings given as flags; they win over everything else. They come in
/// groups: each command flattens the groups it reads, so clap refuses a flag
/// it would ignore. Only the commands that take them all (up, plan, reset)
/// read the storage and install flags, kept here.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = FLAGS_HEADING)]
pub struct Flags {
    #[command(flatten)]
    pub upstream: UpstreamFlags,

    /// Storage class of every PVC [env: STORAGE_CLASS]
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,

    /// Size of every PVC, e.g. 1Gi [env: STORAGE_SIZE]
    #[arg(long, value_name = "QUANTITY")]
    pub storage_size: Option<String>,

    #[command(flatten)]
    pub charts: ChartFlags,
    /// Only `up` starts the registry container, so only it takes `--registry-image`.
    #[arg(skip)]
    pub registry_image: Option<String>,
    #[command(flatten)]
    pub port: RegistryPortFlags,
    #[command(flatten)]
    pub target: ContextFlags,

    /// With --context: the registry the cluster pulls charts and images from
    #[arg(long, value_name = "HOST", requires = "context")]
    pub mirror_to: Option<String>,

    /// Roll a failed install back (helm 3 --atomic, helm 4 --rollback-on-failure);
    /// off by default so the failed state can be diagnosed
    #[arg(long)]
    pub rollback_on_failure: bool,
}

/// Where the charts and images come from.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = FLAGS_HEADING)]
pub struct UpstreamFlags {
    /// Upstream registry of the charts and images [env: REGISTRY] [default: nvcr.io]
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,

    /// Repository path in the registry, e.g. my-org/my-team [env: REPOSITORY]
    #[arg(long, value_name = "ORG/TEAM")]
    pub repository: Option<String>,
}

/// Which chart each component comes from.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = FLAGS_HEADING)]
pub struct ChartFlags {
    /// Use this chart version for a component (published versions move); repeatable
    #[arg(long, value_name = "COMPONENT=VERSION")]
    pub chart_version: Vec<String>,

    /// Install a component from a local chart directory or .tgz; repeatable
    #[arg(long, value_name = "COMPONENT=PATH")]
    pub chart: Vec<String>,
}

/// The local registry's host port, which the values name as `localhost:<port>`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = FLAGS_HEADING)]
pub struct RegistryPortFlags {
    /// Host port of the local registry [default: 5001]
    #[arg(long, value_name = "PORT")]
    pub registry_port: Option<u16>,
}

/// An existing cluster instead of the kind cluster.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = FLAGS_HEADING)]
pub struct ContextFlags {
    /// Target this existing cluster instead of a kind cluster (no local registry)
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,
}
