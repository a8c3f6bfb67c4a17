//! The local registry container: created, reused, or recreated when it drifted.

use async_trait::async_trait;

use super::{Ctx, Step};
use crate::runtime::EnsureOutcome;

pub struct LocalRegistry;

#[async_trait]
impl Step for LocalRegistry {
    fn title(&self, ctx: &Ctx) -> String {
        let spec = ctx.registry_spec();
        format!(
            "Starting local registry {} on 127.0.0.1:{}",
            spec.name, spec.host_port
        )
    }

    async fn execute(&self, ctx: &mut Ctx) -> crate::Result<Option<String>> {
        let spec = ctx.registry_spec();
        Ok(Some(match ctx.docker()?.ensure_registry(&spec).await? {
            EnsureOutcome::Created => "created".into(),
            EnsureOutcome::Reused => "reused".into(),
            EnsureOutcome::Recreated { reason } => format!("recreated ({reason})"),
        }))
    }
}
