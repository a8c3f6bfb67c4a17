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

use crate::settings::{self, Env, Flags, NoPrompt, Prompter, Purpose, Settings, TerminalPrompt};
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

/// What every command gets: where output goes, the environment, and whether
/// it may ask questions.
pub struct App {
    pub global: GlobalArgs,
    pub shell: Shell,
    pub env: Env,
    pub prompt: Box<dyn Prompter>,
}

impl App {
    pub fn new(global: GlobalArgs) -> App {
        let shell = Shell::stdio(global.output, global.quiet);
        let prompt: Box<dyn Prompter> = if shell.is_interactive() && !global.yes {
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
    pub fn settings(&self, flags: &Flags, purpose: Purpose) -> crate::Result<Settings> {
        self.resolve(flags, purpose, self.prompt.as_ref())
    }

    fn resolve(
        &self,
        flags: &Flags,
        purpose: Purpose,
        prompt: &dyn Prompter,
    ) -> crate::Result<Settings> {
        let profile = crate::profile::load(&self.global.profile)?;
        let ctx = settings::Context {
            env: &self.env,
            prompt,
            state_dir: None,
        };
        settings::resolve(profile, &self.global.cluster, flags, &ctx, purpose)
    }

    /// Settings for commands that only read or remove things: no
    /// credentials needed, nothing generated, nothing asked.
    pub fn settings_without_secrets(&self, mut flags: Flags) -> crate::Result<Settings> {
        // Removing needs no repository: a placeholder keeps resolution simple.
        if flags.upstream.repository.is_none() && self.env.get("REPOSITORY").is_none() {
            flags.upstream.repository = Some("unset".into());
        }
        self.resolve(&flags, Purpose::Plan, &NoPrompt)
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

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::{CommandFactory, Parser};

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("nvcf-dev").chain(args.iter().copied()))
    }

    /// The settings flags a command was given, as `resolve` would see them.
    fn flags(args: &[&str]) -> settings::Flags {
        match parse(args)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
            .command
        {
            Command::Up(a) => settings::Flags {
                registry_image: a.registry_image,
                ..a.settings
            },
            Command::Plan(a) => a.settings,
            Command::Reset(a) => a.settings,
            Command::Mirror(a) => settings::Flags {
                upstream: a.upstream,
                charts: a.charts,
                port: a.registry_port,
                ..Default::default()
            },
            Command::Status(a) => settings::Flags {
                charts: a.charts,
                target: a.context,
                ..Default::default()
            },
            Command::Logs(a) => settings::Flags {
                target: a.context,
                ..Default::default()
            },
            Command::Down(a) => settings::Flags {
                target: a.context,
                ..Default::default()
            },
            other => panic!("{other:?} takes no settings"),
        }
    }

    const EVERY_SETTING: &[&[&str]] = &[
        &["--registry", "registry.example"],
        &["--repository", "org/team"],
        &["--storage-class", "fast"],
        &["--storage-size", "2Gi"],
        &["--chart-version", "nats=1.2.3"],
        &["--chart", "nats=./nats"],
        &["--registry-image", "registry:2"],
        &["--registry-port", "5002"],
        &["--context", "ctx"],
        &["--mirror-to", "mirror.example"],
        &["--rollback-on-failure"],
    ];

    /// Which settings flags each command reads; every other one is refused.
    const USED: &[(&[&str], &[&str])] = &[
        (
            &["up"],
            &[
                "--registry",
                "--repository",
                "--storage-class",
                "--storage-size",
                "--chart-version",
                "--chart",
                "--registry-image",
                "--registry-port",
                "--context",
                "--mirror-to",
                "--rollback-on-failure",
            ],
        ),
        (
            &["plan"],
            &[
                "--registry",
                "--repository",
                "--storage-class",
                "--storage-size",
                "--chart-version",
                "--chart",
                "--registry-port",
                "--context",
                "--mirror-to",
                "--rollback-on-failure",
            ],
        ),
        (
            &["reset", "openbao"],
            &[
                "--registry",
                "--repository",
                "--storage-class",
                "--storage-size",
                "--chart-version",
                "--chart",
                "--registry-port",
                "--context",
                "--mirror-to",
                "--rollback-on-failure",
            ],
        ),
        (
            &["mirror"],
            &[
                "--registry",
                "--repository",
                "--chart-version",
                "--chart",
                "--registry-port",
            ],
        ),
        (&["status"], &["--chart-version", "--chart", "--context"]),
        (&["logs", "openbao"], &["--context"]),
        (&["down"], &["--context"]),
    ];

    #[test]
    fn each_command_refuses_the_settings_it_would_ignore() {
        for (command, used) in USED {
            for flag in EVERY_SETTING {
                if used.contains(&flag[0]) {
                    continue;
                }
                let mut args = command.to_vec();
                args.extend_from_slice(flag);
                let err = parse(&args).expect_err(&format!("{args:?} must be refused"));
                assert_eq!(err.kind(), ErrorKind::UnknownArgument, "{args:?}: {err}");
            }
        }
        // The two the review found accepted and ignored.
        assert!(parse(&["status", "--rollback-on-failure"]).is_err());
        assert!(parse(&["logs", "openbao", "--chart", "nats=./nats"]).is_err());
    }

    #[test]
    fn each_command_passes_on_the_settings_it_reads() {
        for (command, used) in USED {
            let mut args = command.to_vec();
            for flag in EVERY_SETTING.iter().filter(|f| used.contains(&f[0])) {
                args.extend_from_slice(flag);
            }
            let f = flags(&args);
            let given = |name: &str| used.contains(&name);
            assert_eq!(
                f.upstream.registry.is_some(),
                given("--registry"),
                "{args:?} registry"
            );
            assert_eq!(
                f.upstream.repository.as_deref(),
                given("--repository").then_some("org/team"),
                "{args:?}"
            );
            assert_eq!(
                f.storage_class.as_deref(),
                given("--storage-class").then_some("fast"),
                "{args:?}"
            );
            assert_eq!(
                f.storage_size.as_deref(),
                given("--storage-size").then_some("2Gi"),
                "{args:?}"
            );
            assert_eq!(
                f.charts.chart_version,
                if given("--chart-version") {
                    vec!["nats=1.2.3".to_string()]
                } else {
                    vec![]
                },
                "{args:?}"
            );
            assert_eq!(
                f.charts.chart,
                if given("--chart") {
                    vec!["nats=./nats".to_string()]
                } else {
                    vec![]
                },
                "{args:?}"
            );
            assert_eq!(
                f.registry_image.as_deref(),
                given("--registry-image").then_some("registry:2"),
                "{args:?}"
            );
            assert_eq!(
                f.port.registry_port,
                given("--registry-port").then_some(5002),
                "{args:?}"
            );
            assert_eq!(
                f.target.context.as_deref(),
                given("--context").then_some("ctx"),
                "{args:?}"
            );
            assert_eq!(
                f.mirror_to.as_deref(),
                given("--mirror-to").then_some("mirror.example"),
                "{args:?}"
            );
            assert_eq!(
                f.rollback_on_failure,
                given("--rollback-on-failure"),
                "{args:?}"
            );
        }
    }

    #[test]
    fn mirror_to_still_requires_context() {
        for command in [&["up"][..], &["plan"], &["reset", "nats"]] {
            let mut args = command.to_vec();
            args.extend(["--mirror-to", "mirror.example"]);
            let err = parse(&args).expect_err("--mirror-to alone");
            assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument, "{args:?}");
        }
    }

    #[test]
    fn help_groups_settings_and_global_options() {
        let mut cmd = Cli::command();
        cmd.build();
        for sub in ["up", "plan", "status", "logs", "down", "mirror", "reset"] {
            let help = cmd
                .find_subcommand_mut(sub)
                .expect(sub)
                .render_help()
                .to_string();
            let settings = help.find(settings::FLAGS_HEADING).expect(sub);
            let global = help.find("Global options:").expect(sub);
            assert!(settings < global, "{sub}: {help}");
            assert!(
                help[settings..global].contains("\n      --"),
                "{sub}: {help}"
            );
            let profile = help.find("--profile").expect(sub);
            assert!(global < profile, "{sub}: {help}");
        }
        // `up`'s own --registry-image keeps its place among the registry flags.
        let up = cmd.find_subcommand_mut("up").unwrap().render_help();
        let up = up.to_string();
        let (chart, image) = (up.find("--chart <"), up.find("--registry-image"));
        assert!(chart < image && image < up.find("--registry-port"), "{up}");
    }
}
