use clap::Args;

use super::App;
use crate::ops::mirror;
use crate::phase1::mirror::MirrorOptions;
use crate::registry::CopyOptions;
use crate::settings::{ChartFlags, Flags, Purpose, RegistryPortFlags, UpstreamFlags};

/// Copy the Phase 1 charts and every image they deploy into a registry.
///
/// Charts come from oci://$REGISTRY/$REPOSITORY; images are found by rendering
/// each chart with the profile's values (pod templates and hook jobs), from
/// values that name images no pod uses (the OpenBao agent image), and from the
/// charts' helm.sh/images annotation. Only the registry changes: the
/// repository path and tag stay, so REPOSITORY stays valid.
///
/// Registry to registry over the OCI distribution API, no Docker daemon in the
/// path: blobs are streamed and their sha256 verified, layers already present
/// are skipped, shared layers are mounted, multi-arch indexes copied whole.
/// Upstream credentials: NGC_API_KEY (user $oauthtoken), else ~/.docker/config.json.
///
/// By default the first image that fails stops the run (a mirror with holes is
/// rarely useful); --keep-going copies every other image and reports all
/// failures at the end. Completed images are kept either way, so a re-run
/// only copies what is missing.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nvcf-dev mirror                       # into the local registry (nvcf-dev registry up first)\n  nvcf-dev mirror --dry-run --why       # what would be copied, and why\n  nvcf-dev mirror --to airgap.local:5000 --platform linux/amd64"
)]
pub struct MirrorArgs {
    /// Destination registry [default: the local registry, localhost:5001]
    #[arg(long, value_name = "HOST:PORT")]
    pub to: Option<String>,

    /// List what would be copied; copy nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Show where each image was found
    #[arg(long)]
    pub why: bool,

    /// Copy one platform of multi-arch images (e.g. linux/amd64) instead of the whole index
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<crate::registry::Platform>,

    /// Copy every other image when one fails, and report all failures at the end
    #[arg(long)]
    pub keep_going: bool,

    /// Blob transfers in flight at once
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Speak plain HTTP to this registry (loopback registries always are); repeatable
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,

    #[command(flatten)]
    pub upstream: UpstreamFlags,
    #[command(flatten)]
    pub charts: ChartFlags,
    // The default destination, the local registry, is localhost:<port>.
    #[command(flatten)]
    pub registry_port: RegistryPortFlags,
}

pub async fn run(app: &App, args: MirrorArgs) -> crate::Result<()> {
    // Refused before the settings, which may prompt.
    if let Some(to) = &args.to {
        crate::settings::validate_registry_host("--to", to, true)?;
    }
    let flags = Flags {
        upstream: args.upstream,
        charts: args.charts,
        port: args.registry_port,
        ..Default::default()
    };
    let settings = app.settings(&flags, Purpose::Plan)?;
    let copy = CopyOptions {
        concurrency: args.concurrency as usize,
        platform: args.platform,
        keep_going: args.keep_going,
        insecure_registries: args.insecure_registry,
    };
    let opts = MirrorOptions {
        to: args.to,
        dry_run: args.dry_run,
        copy,
        report_fit: true,
    };
    mirror::mirror(&app.shell, settings, opts, args.why).await
}
