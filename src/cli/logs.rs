use clap::Args;

use super::App;
use crate::ops::logs::{tail_lines, LogsOptions, DEFAULT_TAIL};
use crate::settings::{ContextFlags, Flags};

/// Show the troubleshooting logs the guide names for a component.
///
/// openbao: the jobs openbao-server-initialize-cluster and
/// openbao-server-migrations, and the server pods; cassandra: the jobs
/// cassandra-migrations and cassandra-initialize-cluster, and cassandra-0;
/// nats: nats-0. Like the guide's `kubectl logs -l job-name=<job> --tail=100`,
/// each under a header `==> job/<job> <==`, on stdout. A job or pod that does
/// not exist (yet) is a note on stderr.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nvcf-dev logs openbao                 # init and migration jobs, server pods\n  nvcf-dev logs cassandra --tail 500\n  nvcf-dev logs openbao --follow        # every log at once, lines prefixed [pod/<pod>/<container>]\n  nvcf-dev logs nats --tail -1          # all of it"
)]
pub struct LogsArgs {
    /// The component: nats, openbao or cassandra
    #[arg(value_name = "COMPONENT")]
    pub component: String,

    /// Keep streaming new lines, like `kubectl logs -f`
    #[arg(short, long)]
    pub follow: bool,

    /// Lines from the end of each log; -1 for all
    #[arg(long, value_name = "N", default_value_t = DEFAULT_TAIL, allow_negative_numbers = true)]
    pub tail: i64,

    #[command(flatten)]
    pub context: ContextFlags,
}

pub async fn run(app: &App, args: LogsArgs) -> crate::Result<()> {
    let component = crate::model::component(&args.component)?;
    let settings = app.settings_without_secrets(Flags {
        target: args.context,
        ..Default::default()
    })?;
    let opts = LogsOptions {
        component,
        follow: args.follow,
        tail: tail_lines(args.tail),
    };
    crate::ops::logs::logs(&app.shell, &settings.kube_context(), &opts).await
}
