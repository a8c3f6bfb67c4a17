//! nvcf-dev: a complete, verified NVCF self-hosted Phase 1 on a local kind cluster.
//!
//! The binary in `main.rs` only parses arguments and reports errors; everything it
//! does lives here so that tests can drive it.

/// The modules are public because the integration tests drive them. That
/// would hide every unused item from the dead-code lint, so scripts/test.sh
/// also checks the library built with `--cfg nvcf_dead_code`, where they are
/// crate-private and only what the binary reaches counts as used.
macro_rules! modules {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(not(nvcf_dead_code))]
        pub mod $name;
        #[cfg(nvcf_dead_code)]
        pub(crate) mod $name;
    )*};
}

pub mod cli;
pub mod error;
pub mod secret;
modules!(
    chart, fit, k8s, model, ops, phase1, profile, registry, runtime, settings, state, steps, tools,
    ui, values,
);

pub use error::{Error, Result};
/// What `main` does on Ctrl-C: helm gets a grace period, then a report of
/// the releases it was changing.
pub use phase1::ensure::{interrupted_report, HELM_GRACE};
pub use tools::runner::stop_gracefully;
/// The recording command runner: test support the integration tests share.
#[doc(hidden)]
pub use tools::runner::RecordingRunner;
