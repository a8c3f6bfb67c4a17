use clap::Parser;
use tracing_subscriber::EnvFilter;

use nvcf_dev::cli::{self, Cli};

fn main() {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose, cli.global.quiet);
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| {
        eprintln!("error: cannot start the async runtime: {e}");
        std::process::exit(1);
    });
    // The terminal settings of stdin, to put back after an interrupt.
    let mut terminal: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 and a valid out-pointer; fails harmlessly when stdin is no terminal.
    let tty = unsafe { libc::tcgetattr(0, &mut terminal) } == 0;
    let result = runtime.block_on(async {
        // Listen before anything runs, and run the command on a worker, so a
        // Ctrl-C is seen even while a prompt blocks that worker.
        let interrupt = tokio::signal::ctrl_c();
        let mut task = tokio::spawn(cli::run(cli));
        tokio::select! {
            r = &mut task => r.unwrap_or_else(|e| Err(nvcf_dev::Error::Internal(format!("the command task failed: {e}")))),
            _ = interrupt => {
                // helm gets SIGTERM and a few seconds to record the failure
                // of the release it is changing (SIGKILL would leave it
                // pending-*); then dropping the command's future kills the
                // remaining children (kill_on_drop). Give that a moment, leave.
                let stopped = nvcf_dev::stop_gracefully(nvcf_dev::HELM_GRACE).await;
                task.abort();
                let _ = tokio::time::timeout(std::time::Duration::from_secs(3), &mut task).await;
                Err(nvcf_dev::Error::Interrupted(if stopped.is_empty() {
                    "every step is idempotent, so run the same command again to pick up where it stopped".into()
                } else {
                    nvcf_dev::interrupted_report(&stopped).await
                }))
            }
        }
    });
    if let Err(e) = result {
        let interrupted = matches!(e, nvcf_dev::Error::Interrupted(_));
        if interrupted && tty {
            // A password prompt turns echo off; never leave the terminal so.
            // SAFETY: restores settings read from the same fd.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &terminal) };
        }
        eprintln!("error: {}", nvcf_dev::secret::scrub(&e.to_string()));
        // Exit without waiting for a worker still blocked in a prompt.
        std::process::exit(if interrupted { 130 } else { 1 });
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
