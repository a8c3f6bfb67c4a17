//! The real machine behind `doctor`'s checks.

use std::path::Path;

use async_trait::async_trait;

use super::doctor::{docker_config_has, free_bytes, read_inotify, tool_version, PortUse, Probe};
use crate::settings::Env;

/// The real machine.
pub struct SystemProbe {
    env: Env,
    runner: crate::tools::runner::SystemRunner,
    /// One connection attempt for every check that needs Docker: when the
    /// daemon is down, that attempt takes seconds.
    docker: tokio::sync::OnceCell<Result<crate::runtime::Runtime, String>>,
}

impl SystemProbe {
    pub fn new(env: Env) -> SystemProbe {
        SystemProbe {
            env,
            runner: crate::tools::runner::SystemRunner,
            docker: tokio::sync::OnceCell::new(),
        }
    }

    async fn runtime(&self) -> Result<&crate::runtime::Runtime, String> {
        self.docker
            .get_or_init(|| async {
                crate::runtime::Runtime::connect()
                    .await
                    .map_err(|e| e.to_string())
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }
}

#[async_trait]
impl Probe for SystemProbe {
    async fn docker(&self) -> Result<String, String> {
        let rt = self.runtime().await?;
        rt.server_version().await.map_err(|e| e.to_string())
    }

    async fn tool_version(&self, tool: &'static str) -> Option<Result<String, String>> {
        tool_version(&self.runner, tool).await
    }

    async fn registry_port(&self, port: u16) -> Result<PortUse, String> {
        use crate::runtime::PortHolder;
        let rt = self.runtime().await?;
        match rt.port_holder(port).await.map_err(|e| e.to_string())? {
            PortHolder::Free => Ok(PortUse::Free),
            PortHolder::Ours { .. } => Ok(PortUse::OurRegistry),
            PortHolder::Container { name } => Ok(PortUse::Other(format!("container `{name}`"))),
            PortHolder::Process => Ok(PortUse::Other("a process that is not a container".into())),
        }
    }

    fn inotify(&self) -> Option<(u64, u64)> {
        if cfg!(target_os = "linux") {
            read_inotify(Path::new("/proc/sys/fs/inotify"))
        } else {
            None
        }
    }

    async fn free_disk(&self) -> Option<(String, u64)> {
        // Docker's data root when it is readable (root, or a rootless daemon), else /.
        let candidates = ["/var/lib/docker", "/"];
        candidates
            .iter()
            .find_map(|p| free_bytes(Path::new(p)).map(|b| (p.to_string(), b)))
    }

    fn docker_config_has(&self, registry: &str) -> bool {
        docker_config_has(&self.env, registry)
    }
}
