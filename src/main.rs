use clap::Parser;
use tracing_subscriber::EnvFilter;

use nvcf_dev::cli::{self, Cli};

fn main() {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose, cli.global.quiet);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        tokio::select! {
            r = cli::run(cli) => r,
            // Dropping the command's future kills its child processes
            // (kill_on_drop), so Ctrl-C leaves nothing running.
            _ = tokio::signal::ctrl_c() => Err(nvcf_dev::Error::Interrupted),
        }
    });
    if let Err(e) = result {
        eprintln!("error: {}", nvcf_dev::secret::scrub(&e.to_string()));
        std::process::exit(match e {
            nvcf_dev::Error::Interrupted => 130,
            _ => 1,
        });
    }
}

/// Logs go to stderr. `-v` info, `-vv` debug, `-vvv` trace; RUST_LOG wins.
fn init_tracing(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    // Libraries' own logs (kube's "failed with error ...") would repeat our one
    // error line, so they appear only from -vv on.
    let others = if verbose >= 2 && !quiet { level } else { "off" };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("nvcf_dev={level},{others}")));
    let color = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
