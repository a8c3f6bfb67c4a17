//! The steps of `nvcf-dev up`, in order, like kind's create actions: each is
//! small, idempotent (so a re-run after Ctrl-C picks up where it stopped), and
//! shows one status line that ends ✓ or ✗ with its duration.

pub mod cluster;
pub mod connect;
pub mod preflight;
pub mod registry;
pub mod wiring;

use std::sync::Arc;

use async_trait::async_trait;

use crate::ops::plan::Plan;
use crate::settings::Settings;
use crate::tools::runner::CommandRunner;
use crate::ui::Shell;

/// What the steps share. Later steps use what earlier ones found (the Docker
/// connection, the kube client, the helm version).
pub struct Ctx {
    pub shell: Shell,
    pub settings: Settings,
    pub plan: Plan,
    pub runner: Arc<dyn CommandRunner>,
    pub found: Found,
}

impl Ctx {
    pub fn new(
        shell: Shell,
        settings: Settings,
        plan: Plan,
        runner: Arc<dyn CommandRunner>,
    ) -> Ctx {
        Ctx {
            shell,
            settings,
            plan,
            runner,
            found: Found::default(),
        }
    }

    pub fn docker(&self) -> crate::Result<&crate::runtime::Runtime> {
        self.found.docker.as_ref().ok_or_else(|| {
            crate::Error::Usage(
                "internal: the Docker connection is made by the preflight step".into(),
            )
        })
    }

    pub fn kube(&self) -> crate::Result<&kube::Client> {
        self.found.kube.as_ref().ok_or_else(|| {
            crate::Error::Usage("internal: the kube client is made by the cluster step".into())
        })
    }

    pub fn helm(&self) -> crate::Result<crate::tools::helm::Helm<'_>> {
        match (&self.found.helm_program, self.found.helm_version) {
            (Some(p), Some(v)) => Ok(crate::tools::helm::Helm::new(
                self.runner.as_ref(),
                p.clone(),
                v,
            )),
            _ => Err(crate::Error::Usage(
                "internal: helm is found by the preflight step".into(),
            )),
        }
    }

    pub fn registry_spec(&self) -> crate::runtime::RegistrySpec {
        self.settings.registry_spec()
    }
}

/// Facts earlier steps established.
#[derive(Default)]
pub struct Found {
    pub helm_program: Option<String>,
    pub helm_version: Option<crate::tools::helm::HelmVersion>,
    pub kind_program: Option<String>,
    pub docker: Option<crate::runtime::Runtime>,
    pub kube: Option<kube::Client>,
}

#[async_trait]
pub trait Step: Send + Sync {
    /// The status line, e.g. "Creating cluster nvcf-dev".
    fn title(&self, ctx: &Ctx) -> String;
    /// Does the step; a short note (e.g. "reused") is shown after the title.
    async fn execute(&self, ctx: &mut Ctx) -> crate::Result<Option<String>>;
}

/// Runs the steps in order and stops at the first failure.
pub async fn run(steps: &[Box<dyn Step>], ctx: &mut Ctx) -> crate::Result<()> {
    for step in steps {
        let line = ctx.shell.step(step.title(ctx));
        match step.execute(ctx).await {
            Ok(Some(note)) => line.done_with(note),
            Ok(None) => line.done(),
            Err(e) => {
                line.fail();
                return Err(e);
            }
        }
    }
    Ok(())
}
