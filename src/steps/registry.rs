//! The local registry container: created, reused, or recreated when it drifted.

use async_trait::async_trait;

use super::{Ctx, Step};
use crate::runtime::{EnsureOutcome, Runtime};

pub struct LocalRegistry {
    pub docker: Runtime,
}

#[async_trait]
impl Step<Ctx> for LocalRegistry {
    fn title(&self, ctx: &Ctx) -> String {
        let spec = ctx.settings.registry_spec();
        format!(
            "Starting local registry {} on 127.0.0.1:{}",
            spec.name, spec.host_port
        )
    }

    async fn execute(&self, ctx: &mut Ctx) -> crate::Result<Option<String>> {
        let spec = ctx.settings.registry_spec();
        Ok(Some(match self.docker.ensure_registry(&spec).await? {
            EnsureOutcome::Created => "created".into(),
            EnsureOutcome::Reused => "reused".into(),
            EnsureOutcome::Recreated { reason } => format!("recreated ({reason})"),
        }))
    }
}
