use clap::Args;

use super::App;
use crate::ops::doctor;

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
    doctor::doctor(
        &app.shell,
        &app.env,
        &app.global.profile,
        args.registry_port,
    )
    .await
}
