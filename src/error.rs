//! The error every command returns. Each variant's message is one line that
//! says what failed and what to do; `main` prints it and exits non-zero.

use crate::tools::runner::RunError;

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
    Run(#[from] RunError),
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
    ChartVersion(#[from] crate::ops::chart_versions::ChartVersionError),
    /// helm refused to render a chart with our values; `why` is helm's own
    /// `Error:` line.
    #[error("the {component} chart does not render with these values ({why}); fix the profile's values.{component}, then run the command again")]
    Render {
        component: &'static str,
        why: String,
    },
    /// Bad command-line input that clap cannot catch.
    #[error("{0}")]
    Usage(String),
    /// Checks ran and some failed; their report has already been printed.
    #[error("{0}")]
    ChecksFailed(String),
    #[error("interrupted: every step is idempotent, so run the same command again to pick up where it stopped")]
    Interrupted,
}

impl Error {
    /// helm's template failure for `component`, as its own one line.
    pub fn render(component: &'static str, e: &RunError) -> Error {
        Error::Render {
            component,
            why: e.why().unwrap_or_else(|| e.to_string()),
        }
    }
}

/// Another library's message flattened to one line: every error nvcf-dev
/// prints is one line.
pub(crate) fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
