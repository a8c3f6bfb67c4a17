//! Resolving settings: flags, then environment, then profile, then defaults.
//!
//! The environment names are the guide's (`REGISTRY`, `REPOSITORY`,
//! `STORAGE_CLASS`, `STORAGE_SIZE`, `CASSANDRA_PASSWORD`,
//! `REGISTRY_CREDENTIAL_B64`) plus `NGC_API_KEY`. A missing required setting is
//! asked for on a terminal and is a clear error everywhere else.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};

use crate::model::{self, Component};
use crate::profile::{PasswordPolicy, Profile};
use crate::registry::reference::is_loopback_registry;
use crate::secret::Secret;
use crate::state;

mod flags;
mod validate;

pub use flags::*;
pub use validate::{validate_cluster_name, validate_registry_host};
use validate::{validate_credential, validate_quantity, validate_repository};

pub const DEFAULT_REGISTRY: &str = "nvcr.io";
pub const DEFAULT_CLUSTER: &str = "nvcf-dev";
pub const DEFAULT_INSTALL_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{var} is not set: {hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var} is not valid: {why}")]
    Invalid { var: &'static str, why: String },
    #[error("`{flag} {value}` is not COMPONENT={what}: e.g. `{flag} openbao={example}`")]
    BadOverride {
        flag: &'static str,
        value: String,
        what: &'static str,
        example: &'static str,
    },
    #[error("`--chart {component}={path}`: no chart there (need a chart directory with Chart.yaml, or a .tgz)")]
    ChartPathMissing { component: String, path: String },
}

/// The process environment, captured once so tests can pass their own.
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    pub fn from_process() -> Env {
        Env(std::env::vars().collect())
    }

    pub fn from_pairs<I: IntoIterator<Item = (&'static str, &'static str)>>(pairs: I) -> Env {
        Env(pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    /// A set, non-empty variable.
    pub fn get(&self, key: &str) -> Option<&str> {
        let value = self.0.get(key)?;
        (!value.is_empty()).then_some(value.as_str())
    }
}

/// Asks the user for what is missing. The defaults answer nothing: that is
/// `NoPrompt`, used without a terminal and with `--yes`, so nothing ever
/// blocks on stdin there.
pub trait Prompter: Send + Sync {
    fn text(&self, _prompt: &str) -> Option<String> {
        None
    }
    fn password(&self, _prompt: &str) -> Option<String> {
        None
    }
    fn confirm(&self, _prompt: &str) -> bool {
        false
    }
}

pub struct NoPrompt;

impl Prompter for NoPrompt {}

/// Prompts on the terminal with dialoguer; secrets are not echoed.
pub struct TerminalPrompt;

impl Prompter for TerminalPrompt {
    fn text(&self, prompt: &str) -> Option<String> {
        let answer = dialoguer::Input::<String>::new()
            .with_prompt(prompt)
            .interact_text();
        answer.ok().filter(|s| !s.trim().is_empty())
    }
    fn password(&self, prompt: &str) -> Option<String> {
        let answer = dialoguer::Password::new().with_prompt(prompt).interact();
        answer.ok().filter(|s| !s.is_empty())
    }
    fn confirm(&self, prompt: &str) -> bool {
        let answer = dialoguer::Confirm::new()
            .with_prompt(prompt)
            .default(false)
            .interact();
        answer.unwrap_or(false)
    }
}

/// What the command is about to do decides what must be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Show what would happen: secrets are shown as `<redacted>` anyway, so
    /// they need not be known, and nothing is generated or written.
    Plan,
    /// Change a cluster: credentials are required, the password is generated.
    Apply,
}

/// Where Phase 1 goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The local kind cluster `cluster`, fed from the local registry.
    Kind,
    /// An existing cluster, pulling from `registry` (REGISTRY or `--mirror-to`).
    Context { context: String, registry: String },
}

/// Where a component's chart comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource {
    Oci { reference: String, version: String },
    Local(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: Profile,
    pub target: Target,
    pub cluster: String,
    /// Where charts and images come from (`REGISTRY`, default nvcr.io).
    pub upstream_registry: String,
    pub repository: String,
    pub storage_class: Option<String>,
    pub storage_size: Option<String>,
    pub install_timeout: Duration,
    /// The local registry container.
    pub registry: crate::runtime::RegistrySpec,
    pub ngc_api_key: Option<Secret>,
    /// base64 of `$oauthtoken:<NGC_API_KEY>`; None only when planning.
    pub registry_credential_b64: Option<Secret>,
    /// None only when planning before one was generated.
    pub cassandra_password: Option<Secret>,
    pub chart_versions: BTreeMap<String, String>,
    pub chart_paths: BTreeMap<String, PathBuf>,
    /// helm's --atomic (helm 3) / --rollback-on-failure (helm 4).
    pub rollback_on_failure: bool,
}

impl Settings {
    /// The registry the cluster pulls images from, as the values name it.
    /// For kind, containerd maps `localhost:<port>` to the registry container.
    pub fn image_registry(&self) -> String {
        match &self.target {
            Target::Kind => format!("localhost:{}", self.registry.host_port),
            Target::Context { registry, .. } => registry.clone(),
        }
    }

    /// Whether helm talks to the chart registry over plain HTTP.
    pub fn plain_http(&self) -> bool {
        is_loopback_registry(&self.image_registry())
    }

    pub fn kube_context(&self) -> String {
        match &self.target {
            Target::Kind => crate::k8s::kind_context(&self.cluster),
            Target::Context { context, .. } => context.clone(),
        }
    }

    /// The version asked for: the flag's, the profile's, else the guide's.
    pub fn chart_version(&self, c: &Component) -> String {
        let profile = self
            .profile
            .charts
            .get(c.name)
            .and_then(|s| s.version.as_ref());
        let version = self.chart_versions.get(c.name).or(profile);
        version.map_or(c.version, String::as_str).to_string()
    }

    pub fn chart_source(&self, c: &Component) -> ChartSource {
        match self.chart_paths.get(c.name) {
            Some(p) => ChartSource::Local(p.clone()),
            None => ChartSource::Oci {
                reference: format!("oci://{}", self.chart_in(&self.image_registry(), c)),
                version: self.chart_version(c),
            },
        }
    }

    /// The chart upstream, which `mirror` copies from.
    pub fn upstream_chart(&self, c: &Component) -> String {
        let chart = self.chart_in(&self.upstream_registry, c);
        format!("{chart}:{}", self.chart_version(c))
    }

    /// Where `c`'s chart is in `registry`.
    fn chart_in(&self, registry: &str, c: &Component) -> String {
        format!("{registry}/{}/{}", self.repository, c.chart)
    }

    /// Every secret these settings hold, for redaction.
    pub fn secrets(&self) -> Vec<&Secret> {
        [
            &self.ngc_api_key,
            &self.registry_credential_b64,
            &self.cassandra_password,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Everything `resolve` reads besides the profile and the flags.
pub struct Context<'a> {
    pub env: &'a Env,
    pub prompt: &'a dyn Prompter,
    /// None: no state directory, so no password can be generated.
    pub state_dir: Option<PathBuf>,
}

pub fn resolve(
    profile: Profile,
    cluster: &str,
    flags: &Flags,
    ctx: &Context<'_>,
    purpose: Purpose,
) -> Result<Settings, crate::Error> {
    validate_cluster_name(cluster)?;
    let env = ctx.env;
    let pick = |flag: &Option<String>, var: &str, in_profile: &Option<String>| {
        let from_env = || env.get(var).map(str::to_string);
        flag.clone()
            .or_else(from_env)
            .or_else(|| in_profile.clone())
    };
    // A required setting nobody gave is asked for, else an error naming it.
    let required =
        |given: Option<String>, var, hint| given.ok_or(SettingsError::Missing { var, hint });

    let upstream_registry = pick(&flags.upstream.registry, "REGISTRY", &None);
    let upstream_registry = upstream_registry.unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
    validate_registry_host("REGISTRY", &upstream_registry, false)?;
    let mirror_to = flags.mirror_to.as_ref();
    if let Some(to) = mirror_to {
        validate_registry_host("--mirror-to", to, false)?;
    }
    let repository = required(
        pick(&flags.upstream.repository, "REPOSITORY", &None)
            .or_else(|| ctx.prompt.text("NGC repository (REPOSITORY, e.g. your-org/your-team)")),
        "REPOSITORY",
        "export REPOSITORY=<your-org>/<your-team> (the NGC org/team that holds the NVCF charts), or pass --repository",
    )?;
    let repository = validate_repository(&repository)?;
    let ours = &profile.cluster;
    let storage_class = pick(&flags.storage_class, "STORAGE_CLASS", &ours.storage_class);
    let storage_size = pick(&flags.storage_size, "STORAGE_SIZE", &ours.storage_size);
    if let Some(size) = &storage_size {
        validate_quantity(size)?;
    }

    // Credentials: REGISTRY_CREDENTIAL_B64 as given, or made from NGC_API_KEY.
    let mut ngc_api_key = env.get("NGC_API_KEY").map(Secret::new);
    let given_credential = env
        .get("REGISTRY_CREDENTIAL_B64")
        .map(validate_credential)
        .transpose()?;
    if given_credential.is_none() && ngc_api_key.is_none() && purpose == Purpose::Apply {
        ngc_api_key = Some(Secret::new(required(
            ctx.prompt.password("NGC API key (NGC_API_KEY)"),
            "NGC_API_KEY",
            "export NGC_API_KEY=<your key> (generate one at https://ngc.nvidia.com/setup/api-key), or REGISTRY_CREDENTIAL_B64",
        )?));
    }
    let registry_credential_b64 = given_credential.or_else(|| {
        let key = ngc_api_key.as_ref()?.expose();
        Some(Secret::new(BASE64.encode(format!("$oauthtoken:{key}"))))
    });

    let cassandra_password = match (env.get("CASSANDRA_PASSWORD"), profile.cassandra_password) {
        (Some(pw), _) => Some(Secret::new(pw)),
        (None, PasswordPolicy::Generate) => {
            let dir = ctx.state_dir.clone().map_or_else(state::state_dir, Ok)?;
            let path = state::cassandra_password_path(&dir, cluster);
            match purpose {
                Purpose::Apply => Some(state::ensure_password(&path)?),
                Purpose::Plan => state::read_password(&path)?,
            }
        }
        (None, PasswordPolicy::Required) if purpose == Purpose::Plan => None,
        (None, PasswordPolicy::Required) => Some(Secret::new(required(
            ctx.prompt
                .password("Cassandra superuser password (CASSANDRA_PASSWORD)"),
            "CASSANDRA_PASSWORD",
            "this profile does not generate one: export CASSANDRA_PASSWORD=<password>",
        )?)),
    };

    let chart_versions = overrides(
        &flags.charts.chart_version,
        "--chart-version",
        "VERSION",
        "0.22.2",
        Ok,
    )?;
    let chart_paths = overrides(
        &flags.charts.chart,
        "--chart",
        "PATH",
        "../helm-nvcf-openbao-server",
        |path| {
            let dir = PathBuf::from(&path);
            let is_chart =
                dir.join("Chart.yaml").is_file() || (dir.is_file() && path.ends_with(".tgz"));
            is_chart.then_some(dir).ok_or(path)
        },
    )?;

    let settings = Settings {
        target: match &flags.target.context {
            Some(context) => Target::Context {
                context: context.clone(),
                registry: mirror_to.unwrap_or(&upstream_registry).clone(),
            },
            None => Target::Kind,
        },
        cluster: cluster.to_string(),
        upstream_registry,
        repository,
        storage_class,
        storage_size,
        install_timeout: profile.install_timeout().unwrap_or(DEFAULT_INSTALL_TIMEOUT),
        registry: (ours.registry).spec(flags.registry_image.clone(), flags.port.registry_port),
        ngc_api_key,
        registry_credential_b64,
        cassandra_password,
        chart_versions,
        chart_paths,
        rollback_on_failure: flags.rollback_on_failure,
        profile,
    };
    for secret in settings.secrets() {
        crate::secret::register(secret);
    }
    Ok(settings)
}

/// `COMPONENT=VALUE` flags by component, each value checked by `check`
/// (which hands back what it refuses).
fn overrides<T>(
    flag_values: &[String],
    flag: &'static str,
    what: &'static str,
    example: &'static str,
    check: impl Fn(String) -> Result<T, String>,
) -> Result<BTreeMap<String, T>, crate::Error> {
    let mut out = BTreeMap::new();
    for kv in flag_values {
        let bad = || SettingsError::BadOverride {
            flag,
            value: kv.to_string(),
            what,
            example,
        };
        let (c, v) = kv
            .split_once('=')
            .filter(|(_, v)| !v.trim().is_empty())
            .ok_or_else(bad)?;
        let component = model::component(c.trim())?.name.to_string();
        let value =
            check(v.trim().to_string()).map_err(|path| SettingsError::ChartPathMissing {
                component: component.clone(),
                path,
            })?;
        out.insert(component, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile;

    struct Answers(Option<&'static str>);
    impl Prompter for Answers {
        fn text(&self, _: &str) -> Option<String> {
            self.0.map(str::to_string)
        }
        fn password(&self, _: &str) -> Option<String> {
            self.0.map(str::to_string)
        }
        fn confirm(&self, _: &str) -> bool {
            true
        }
    }

    fn resolve_with(
        env: &[(&'static str, &'static str)],
        flags: Flags,
        purpose: Purpose,
    ) -> Result<Settings, crate::Error> {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::from_pairs(env.iter().copied());
        let ctx = Context {
            env: &env,
            prompt: &NoPrompt,
            state_dir: Some(dir.path().to_path_buf()),
        };
        resolve(
            profile::load("dev").unwrap(),
            "nvcf-dev",
            &flags,
            &ctx,
            purpose,
        )
    }

    #[test]
    fn missing_repository_names_the_variable() {
        let err = resolve_with(&[], Flags::default(), Purpose::Plan)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("REPOSITORY is not set: export REPOSITORY="),
            "{err}"
        );
    }

    #[test]
    fn a_terminal_is_asked() {
        let env = Env::default();
        let dir = tempfile::tempdir().unwrap();
        let ctx = Context {
            env: &env,
            prompt: &Answers(Some("org/team")),
            state_dir: Some(dir.path().into()),
        };
        let s = resolve(
            profile::load("dev").unwrap(),
            "c",
            &Flags::default(),
            &ctx,
            Purpose::Apply,
        )
        .unwrap();
        assert_eq!(s.repository, "org/team");
        // the prompted API key became the registry credential
        let want = base64::engine::general_purpose::STANDARD.encode("$oauthtoken:org/team");
        assert_eq!(s.registry_credential_b64.unwrap().expose(), want);
    }

    #[test]
    fn flags_beat_environment_beats_profile() {
        let s = resolve_with(
            &[("REPOSITORY", "env/repo"), ("STORAGE_SIZE", "5Gi")],
            Flags::default(),
            Purpose::Plan,
        )
        .unwrap();
        assert_eq!(s.repository, "env/repo");
        assert_eq!(s.storage_size.as_deref(), Some("5Gi"));
        assert_eq!(
            s.storage_class.as_deref(),
            Some("standard"),
            "from the profile"
        );
        assert_eq!(s.upstream_registry, "nvcr.io", "the default");
        let flags = Flags {
            upstream: UpstreamFlags {
                repository: Some("flag/repo".into()),
                ..Default::default()
            },
            storage_size: Some("2Gi".into()),
            ..Default::default()
        };
        let s = resolve_with(
            &[("REPOSITORY", "env/repo"), ("STORAGE_SIZE", "5Gi")],
            flags,
            Purpose::Plan,
        )
        .unwrap();
        assert_eq!(s.repository, "flag/repo");
        assert_eq!(s.storage_size.as_deref(), Some("2Gi"));
    }

    #[test]
    fn applying_needs_credentials() {
        let err = resolve_with(&[("REPOSITORY", "o/t")], Flags::default(), Purpose::Apply)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("NGC_API_KEY is not set:"), "{err}");
    }

    #[test]
    fn the_credential_is_made_from_the_api_key() {
        let s = resolve_with(
            &[("REPOSITORY", "o/t"), ("NGC_API_KEY", "fake-key-123")],
            Flags::default(),
            Purpose::Apply,
        )
        .unwrap();
        let want = base64::engine::general_purpose::STANDARD.encode("$oauthtoken:fake-key-123");
        assert_eq!(s.registry_credential_b64.as_ref().unwrap().expose(), want);
        assert_eq!(s.secrets().len(), 3);
        assert_eq!(
            s.cassandra_password.as_ref().unwrap().expose().len(),
            24,
            "generated by the dev profile"
        );
    }

    #[test]
    fn a_bad_credential_is_refused_without_echoing_it() {
        let err = resolve_with(
            &[
                ("REPOSITORY", "o/t"),
                ("REGISTRY_CREDENTIAL_B64", "not base64 s3cr3t"),
            ],
            Flags::default(),
            Purpose::Apply,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("REGISTRY_CREDENTIAL_B64 is not valid"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"));
    }

    #[test]
    fn chart_overrides_name_real_components() {
        let flags = Flags {
            charts: ChartFlags {
                chart_version: vec!["openbao=0.22.2".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let s = resolve_with(&[("REPOSITORY", "o/t")], flags, Purpose::Plan).unwrap();
        assert_eq!(s.chart_version(&model::OPENBAO), "0.22.2");
        assert_eq!(
            s.chart_source(&model::OPENBAO),
            ChartSource::Oci {
                reference: "oci://localhost:5001/o/t/helm-nvcf-openbao-server".into(),
                version: "0.22.2".into()
            }
        );
        let flags = Flags {
            charts: ChartFlags {
                chart_version: vec!["vault=1.0.0".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let err = resolve_with(&[("REPOSITORY", "o/t")], flags, Purpose::Plan)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown component `vault`: valid components are nats, openbao, cassandra"
        );
        let flags = Flags {
            charts: ChartFlags {
                chart: vec!["nats".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        let err = resolve_with(&[("REPOSITORY", "o/t")], flags, Purpose::Plan)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`--chart nats` is not COMPONENT=PATH"),
            "{err}"
        );
    }

    #[test]
    fn bad_inputs_are_named() {
        let err = resolve_with(
            &[("REPOSITORY", "Org With Spaces")],
            Flags::default(),
            Purpose::Plan,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("REPOSITORY is not valid"), "{err}");
        let err = resolve_with(
            &[("REPOSITORY", "o/t"), ("STORAGE_SIZE", "big")],
            Flags::default(),
            Purpose::Plan,
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("STORAGE_SIZE is not valid"), "{err}");
    }

    #[test]
    fn registries_are_hosts_not_urls() {
        for good in ["nvcr.io", "localhost:5001", "10.0.0.1:5000", "[::1]:5000"] {
            validate_registry_host("REGISTRY", good, false).unwrap();
        }
        validate_registry_host("--to", "localhost:5002", true).unwrap();
        let err = |v: &str, port: bool| {
            validate_registry_host(if port { "--to" } else { "REGISTRY" }, v, port)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("http://host", false),
            "REGISTRY is not valid: `http://host` is a URL (plain HTTP is used for loopback registries by itself): give HOST or HOST:PORT, e.g. nvcr.io"
        );
        assert!(err("nvcr.io/org", false).contains("has a path"));
        assert_eq!(
            err("airgap.local", true),
            "--to is not valid: `airgap.local` has no port: give HOST:PORT, e.g. localhost:5002"
        );
        assert!(err("host:port", true).contains("has no valid port (`port`)"));
        assert!(err("bad host:1", true).contains("is not a host name"));
    }

    #[test]
    fn cluster_names_are_kinds() {
        for good in ["nvcf-dev", "demo.1", "a"] {
            validate_cluster_name(good).unwrap();
        }
        for bad in [
            "",
            "..",
            "../../tmp/x",
            "Bad Name!",
            ".x",
            "a/b",
            &"a".repeat(51),
        ] {
            let err = validate_cluster_name(bad).unwrap_err().to_string();
            assert!(err.starts_with("--cluster is not valid: `"), "{err}");
        }
    }

    #[test]
    fn loopback_registries() {
        assert!(is_loopback_registry("localhost:5001"));
        assert!(is_loopback_registry("127.0.0.1:5001"));
        assert!(is_loopback_registry("[::1]:5000"));
        assert!(!is_loopback_registry("nvcr.io"));
        assert!(!is_loopback_registry("registry.internal:5000"));
    }
}
