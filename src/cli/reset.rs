use clap::Args;

use super::App;
use crate::ops::reset::ResetOptions;
use crate::settings::{Flags, Purpose};

/// Reset one component: uninstall it, delete its stale resources, reinstall and verify.
///
/// The guide's recovery for "Stale resources from previous install", done
/// completely: `helm uninstall` the release; delete every workload, job, PVC,
/// configmap (but kube-root-ca.crt) and secret in its namespace (for openbao:
/// openbao-server-unseal, openbao-server-root-token, cluster-jwt, and a stuck
/// release's helm secrets) and the release's cluster-scoped leftovers
/// (webhook, cluster roles and bindings); wait until all of it is gone, PVC
/// finalizers included; reinstall from the local registry; verify.
///
/// Resetting nats also upgrades openbao afterwards, since OpenBao's
/// migrations copy NATS's secrets. The component's data is lost: asks for
/// confirmation unless --yes.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nvcf-dev reset openbao --dry-run     # what would be deleted; changes nothing\n  nvcf-dev reset openbao               # asks, then uninstall, clean, reinstall, verify\n  nvcf-dev reset nats --yes            # also re-runs openbao's migrations\n  nvcf-dev reset cassandra --no-reinstall --yes\n  nvcf-dev reset openbao --yes -o json | jq .deleted"
)]
pub struct ResetArgs {
    /// The component to reset: nats, openbao or cassandra
    #[arg(value_name = "COMPONENT")]
    pub component: String,

    /// Only clean up: uninstall and delete, do not reinstall
    #[arg(long)]
    pub no_reinstall: bool,

    /// List what would be deleted, and change nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub settings: Flags,
}

pub async fn run(app: &App, args: ResetArgs) -> crate::Result<()> {
    let component = crate::model::component(&args.component)?;
    // Only a reinstall needs credentials (and the Cassandra password).
    let settings = if args.dry_run || args.no_reinstall {
        app.settings_without_secrets(args.settings)?
    } else {
        app.settings(&args.settings, Purpose::Apply)?
    };
    let opts = ResetOptions {
        component,
        no_reinstall: args.no_reinstall,
        dry_run: args.dry_run,
        yes: app.global.yes,
    };
    crate::ops::reset::reset(&app.shell, settings, app.prompt.as_ref(), &opts).await
}
