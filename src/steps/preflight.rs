//! Finds the tools and the Docker daemon before anything is changed, so a
//! missing tool fails in a second, with nothing half-done.

use async_trait::async_trait;

use super::{Ctx, Step};
use crate::settings::Target;
use crate::tools::{self, helm::Helm};

pub struct Preflight;

#[async_trait]
impl Step for Preflight {
    fn title(&self, _: &Ctx) -> String {
        "Checking prerequisites".into()
    }

    async fn execute(&self, ctx: &mut Ctx) -> crate::Result<Option<String>> {
        let helm = Helm::detect(ctx.runner.as_ref()).await?;
        let version = helm.version();
        ctx.found.helm_program = Some(helm.program().to_string());
        ctx.found.helm_version = Some(version);
        let mut note = format!("helm {version}");
        if let Target::Kind { .. } = ctx.settings.target {
            ctx.found.kind_program = Some(tools::find("kind")?.display().to_string());
            let docker = crate::runtime::Runtime::connect().await?;
            note.push_str(&format!(", Docker {}", docker.server_version().await?));
            ctx.found.docker = Some(docker);
        }
        Ok(Some(note))
    }
}
