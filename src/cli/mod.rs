//! The command line: clap definitions, one file per command. Each turns its
//! arguments into options and calls the work in [`crate::ops`].

pub mod completions;
pub mod doctor;
pub mod down;
pub mod logs;
pub mod mirror;
pub mod plan;
pub mod registry;
pub mod reset;
pub mod status;
pub mod up;

use clap::{Args, Parser, Subcommand};

use crate::settings::{self, Env, NoPrompt, Prompter, TerminalPrompt};
use crate::ui::{OutputFormat, Shell};

const ABOUT: &str = "A complete, verified NVCF self-hosted Phase 1 (NATS, OpenBao, Cassandra) on a local kind cluster";

const LONG_ABOUT: &str = "\
nvcf-dev automates \"Phase 1: Infrastructure Dependencies\" of the NVCF self-hosted
install guide on your machine: NATS (nats-system) and Cassandra (cassandra-system)
in parallel, then OpenBao (vault-system, release openbao-server) once NATS is
healthy, each verified the way the guide's Verify sections do.

Settings come from flags, then the environment (the guide's names: REGISTRY,
REPOSITORY, STORAGE_CLASS, STORAGE_SIZE, CASSANDRA_PASSWORD,
REGISTRY_CREDENTIAL_B64, plus NGC_API_KEY), then the profile, then defaults.";

const AFTER_HELP: &str = "\
Examples:
  export REPOSITORY=my-org/my-team NGC_API_KEY=...   # once
  nvcf-dev doctor                  # is this machine ready?
  nvcf-dev plan                    # what would be installed, with which values
  nvcf-dev plan --profile prod -o json
  nvcf-dev completions bash > ~/.local/share/bash-completion/completions/nvcf-dev";

#[derive(Debug, Parser)]
#[command(name = "nvcf-dev", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Profile: a built-in name (dev, prod) or the path of a profile file
    #[arg(long, global = true, value_name = "NAME|PATH", default_value = crate::profile::DEFAULT_PROFILE)]
    pub profile: String,

    /// Name of the kind cluster; its kube context is kind-<NAME>
    #[arg(long, global = true, value_name = "NAME", default_value = settings::DEFAULT_CLUSTER)]
    pub cluster: String,

    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors and results: no progress lines
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Never prompt: assume yes to confirmations, and fail on missing settings
    #[arg(short, long, global = true)]
    pub yes: bool,

    /// Output format for results
    #[arg(short, long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a kind cluster and local registry, mirror, install and verify Phase 1
    Up(Box<up::UpArgs>),
    /// Tear down the cluster, the releases and the registry (its data volume is kept)
    Down(Box<down::DownArgs>),
    /// Copy the charts and every image they deploy into the local registry (or --to)
    Mirror(Box<mirror::MirrorArgs>),
    /// Show what `up` would install: stages, helm commands and merged values
    Plan(Box<plan::PlanArgs>),
    /// Check that this machine is ready: Docker, kind, helm, ports, limits, disk, credentials
    Doctor(doctor::DoctorArgs),
    /// Show the cluster, registry, releases, pods, jobs and health checks
    Status(Box<status::StatusArgs>),
    /// Reset one component: uninstall, delete its stale resources, reinstall, verify
    Reset(Box<reset::ResetArgs>),
    /// Show the guide's troubleshooting logs of a component: its jobs and server pods
    Logs(Box<logs::LogsArgs>),
    /// Manage the local registry on its own: up, status, down
    Registry(registry::RegistryArgs),
    /// Print a shell completion script
    Completions(completions::CompletionsArgs),
}

/// Settings that can be given as flags; they win over the environment and the profile.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Settings (flags win over the environment and the profile)")]
pub struct SettingsArgs {
    /// Upstream registry of the charts and images [env: REGISTRY] [default: nvcr.io]
    #[arg(long, value_name = "HOST")]
    pub registry: Option<String>,

    /// Repository path in the registry, e.g. my-org/my-team [env: REPOSITORY]
    #[arg(long, value_name = "ORG/TEAM")]
    pub repository: Option<String>,

    /// Storage class of every PVC [env: STORAGE_CLASS]
    #[arg(long, value_name = "CLASS")]
    pub storage_class: Option<String>,

    /// Size of every PVC, e.g. 1Gi [env: STORAGE_SIZE]
    #[arg(long, value_name = "QUANTITY")]
    pub storage_size: Option<String>,

    /// Use this chart version for a component (published versions move); repeatable
    #[arg(long, value_name = "COMPONENT=VERSION")]
    pub chart_version: Vec<String>,

    /// Install a component from a local chart directory or .tgz; repeatable
    #[arg(long, value_name = "COMPONENT=PATH")]
    pub chart: Vec<String>,

    /// Image of the local registry container [default: registry:3]
    #[arg(long, value_name = "IMAGE")]
    pub registry_image: Option<String>,

    /// Host port of the local registry [default: 5001]
    #[arg(long, value_name = "PORT")]
    pub registry_port: Option<u16>,

    /// Target this existing cluster instead of a kind cluster (no local registry)
    #[arg(long, value_name = "CONTEXT")]
    pub context: Option<String>,

    /// With --context: the registry the cluster pulls charts and images from
    #[arg(long, value_name = "HOST", requires = "context")]
    pub mirror_to: Option<String>,

    /// Roll a failed install back (helm 3 --atomic, helm 4 --rollback-on-failure);
    /// off by default so the failed state can be diagnosed
    #[arg(long)]
    pub rollback_on_failure: bool,
}

impl SettingsArgs {
    pub fn flags(&self) -> settings::Flags {
        settings::Flags {
            registry: self.registry.clone(),
            repository: self.repository.clone(),
            storage_class: self.storage_class.clone(),
            storage_size: self.storage_size.clone(),
            registry_image: self.registry_image.clone(),
            registry_port: self.registry_port,
            chart_versions: self.chart_version.clone(),
            charts: self.chart.clone(),
            context: self.context.clone(),
            mirror_to: self.mirror_to.clone(),
            rollback_on_failure: self.rollback_on_failure,
        }
    }
}

/// What every command gets: where output goes, the environment, and whether
/// it may ask questions.
pub struct App {
    pub global: GlobalArgs,
    pub shell: Shell,
    pub env: Env,
    pub prompt: Box<dyn Prompter + Send + Sync>,
}

impl App {
    pub fn new(global: GlobalArgs) -> App {
        let shell = Shell::stdio(global.output, global.quiet);
        let prompt: Box<dyn Prompter + Send + Sync> = if shell.is_interactive() && !global.yes {
            Box::new(TerminalPrompt)
        } else {
            Box::new(NoPrompt)
        };
        App {
            global,
            shell,
            env: Env::from_process(),
            prompt,
        }
    }

    /// Loads the profile and resolves the settings for `purpose`.
    pub fn settings(
        &self,
        args: &SettingsArgs,
        purpose: settings::Purpose,
    ) -> crate::Result<settings::Settings> {
        let profile = crate::profile::load(&self.global.profile)?;
        let ctx = settings::Context {
            env: &self.env,
            prompt: self.prompt.as_ref(),
            state_dir: None,
        };
        settings::resolve(profile, &self.global.cluster, &args.flags(), &ctx, purpose)
    }
}

pub async fn run(cli: Cli) -> crate::Result<()> {
    // It names a directory of the state directory: refused before anything.
    settings::validate_cluster_name(&cli.global.cluster)?;
    let app = App::new(cli.global);
    match cli.command {
        Command::Up(args) => up::run(&app, *args).await,
        Command::Down(args) => down::run(&app, *args).await,
        Command::Mirror(args) => mirror::run(&app, *args).await,
        Command::Plan(args) => plan::run(&app, *args).await,
        Command::Reset(args) => reset::run(&app, *args).await,
        Command::Logs(args) => logs::run(&app, *args).await,
        Command::Registry(args) => registry::run(&app, args).await,
        Command::Status(args) => status::run(&app, *args).await,
        Command::Doctor(args) => doctor::run(&app, args).await,
        Command::Completions(args) => completions::run(&app, args),
    }
}
