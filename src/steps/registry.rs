//! `up`'s local registry step: the container created, reused, or recreated
//! when it drifted.

use crate::runtime::{RegistryAction, RegistrySpec, Runtime};

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
