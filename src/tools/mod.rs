//! The external CLIs nvcf-dev drives (kind, helm), each a thin wrapper over
//! [`runner::CommandRunner`], and how they are found on PATH.

pub mod helm;
pub mod kind;
pub mod runner;

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("`{tool}` was not found on PATH: {}", install_hint(tool))]
    NotFound { tool: &'static str },
    #[error("`helm` {0} is too old: nvcf-dev needs 3.13 or later, or 4; {hint}", hint = install_hint("helm"))]
    HelmTooOld(String),
    #[error("could not read the version of `helm` from {0:?}: is it really helm?")]
    HelmVersion(String),
}

/// Where to get each tool, said once.
pub fn install_hint(tool: &str) -> &'static str {
    match tool {
        "kind" => "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation), e.g. `go install sigs.k8s.io/kind@latest`",
        "helm" => "install helm 3.13+ or 4 (https://helm.sh/docs/intro/install/)",
        "kubectl" => "install kubectl (https://kubernetes.io/docs/tasks/tools/); nvcf-dev itself does not need it, but the guide's commands do",
        "docker" => "install Docker Engine (Debian: `apt-get install docker.io`) and start it",
        _ => "install it and make sure it is on PATH",
    }
}

/// Finds `tool` on PATH with `which`.
pub fn find(tool: &'static str) -> Result<PathBuf, ToolError> {
    which::which(tool).map_err(|_| ToolError::NotFound { tool })
}
