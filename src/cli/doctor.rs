use clap::Args;

use super::App;
use crate::ops::doctor;
use crate::settings::DEFAULT_REGISTRY_PORT;

/// Check that this machine is ready for `nvcf-dev up`.
///
/// Checks the Docker daemon (DOCKER_HOST is honoured), kind, helm (3.13+ or 4)
/// and kubectl, that the local registry's port is free or ours, the Linux
/// inotify limits kind needs, free disk for images, and NGC credentials.
/// Exits non-zero when any check fails.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Host port the local registry will use [default: 5001, or the profile's]
    #[arg(long, value_name = "PORT")]
    pub registry_port: Option<u16>,
}

pub async fn run(app: &App, args: DoctorArgs) -> crate::Result<()> {
    let port = match args.registry_port {
        Some(p) => p,
        None => crate::profile::load(&app.global.profile)?
            .cluster
            .registry
            .port
            .unwrap_or(DEFAULT_REGISTRY_PORT),
    };
    let probe = crate::ops::doctor_system::SystemProbe::new(app.env.clone());
    let checks = doctor::run_checks(&probe, &app.env, port).await;
    doctor::report(&app.shell, &checks)
}
