//! The local registry container: created, reused, or recreated when it drifted.

use crate::runtime::{RegistryAction, RegistrySpec, Runtime};
use crate::ui::Shell;

pub fn title(spec: &RegistrySpec) -> String {
    format!(
        "Starting local registry {} on 127.0.0.1:{}",
        spec.name, spec.host_port
    )
}

/// Starts the registry; what was done, for the status line.
pub async fn ensure(docker: &Runtime, spec: &RegistrySpec) -> crate::Result<String> {
    Ok(match docker.ensure_registry(spec).await? {
        RegistryAction::Create => "created".into(),
        RegistryAction::Reuse | RegistryAction::Start => "reused".into(),
        RegistryAction::Recreate { reason } => format!("recreated ({reason})"),
    })
}

/// Removes the registry container, with its volume when `purge`; asks nothing.
pub async fn remove(shell: &Shell, spec: &RegistrySpec, purge: bool) -> crate::Result<()> {
    let docker = Runtime::connect().await?;
    let step = shell.step(format!("Removing local registry {}", spec.name));
    let removed = docker.remove_registry(spec, purge).await?;
    let note = match (removed, purge) {
        (false, _) => "nothing to remove".to_string(),
        (true, true) => format!("removed, with its volume {}", spec.volume),
        (true, false) => format!("removed; volume {} kept (--purge removes it)", spec.volume),
    };
    step.done_with(note);
    Ok(())
}
