//! Finds the tools and the Docker daemon before anything is changed, so a
//! missing tool fails in a second, with nothing half-done.

use super::HelmBinary;
use crate::runtime::Runtime;
use crate::settings::{Settings, Target};
use crate::tools::{self, helm::Helm, runner::CommandRunner};
use crate::ui::Shell;

/// Where Phase 1 goes, with the handles only that place needs; also the
/// step that reaches its cluster (`steps::cluster`).
#[derive(Clone)]
pub enum Host {
    /// A kind cluster and the local registry, on this Docker; `kind` is the
    /// kind binary.
    Kind { docker: Runtime, kind: String },
    /// An existing cluster (`--context`): no Docker, no kind.
    Existing,
}

impl Host {
    /// The Docker that runs the local registry; None for an existing cluster.
    pub fn docker(&self) -> Option<&Runtime> {
        match self {
            Host::Kind { docker, .. } => Some(docker),
            Host::Existing => None,
        }
    }
}

/// The "Checking prerequisites" step: what it found, each handle built once.
pub async fn preflight(
    shell: &Shell,
    runner: &dyn CommandRunner,
    settings: &Settings,
) -> crate::Result<(HelmBinary, Host)> {
    let step = shell.step("Checking prerequisites");
    let Helm {
        program, version, ..
    } = Helm::detect(runner).await?;
    let mut note = format!("helm {version}");
    let host = match settings.target {
        Target::Kind => {
            let kind = tools::find("kind")?.display().to_string();
            let docker = Runtime::connect().await?;
            note.push_str(&format!(", Docker {}", docker.server_version().await?));
            Host::Kind { docker, kind }
        }
        Target::Context { .. } => Host::Existing,
    };
    step.done_with(note);
    Ok((HelmBinary { program, version }, host))
}
