//! `up`'s local registry step: the container created, reused, or recreated
//! when it drifted.

use crate::runtime::{EnsureOutcome, RegistrySpec, Runtime};

pub fn title(spec: &RegistrySpec) -> String {
    format!(
        "Starting local registry {} on 127.0.0.1:{}",
        spec.name, spec.host_port
    )
}

/// Starts the registry; what was done, for the status line.
pub async fn ensure(docker: &Runtime, spec: &RegistrySpec) -> crate::Result<String> {
    Ok(match docker.ensure_registry(spec).await? {
        EnsureOutcome::Created => "created".into(),
        EnsureOutcome::Reused => "reused".into(),
        EnsureOutcome::Recreated { reason } => format!("recreated ({reason})"),
    })
}
