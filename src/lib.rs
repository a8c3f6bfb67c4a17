//! nvcf-dev: a complete, verified NVCF self-hosted Phase 1 on a local kind cluster.
//!
//! The binary in `main.rs` only parses arguments and reports errors; everything it
//! does lives here so that tests can drive it.

pub mod cli;
pub mod error;
pub mod secret;

/// The modules are public because the integration tests drive them. That
/// would hide every unused item from the dead-code lint, so scripts/test.sh
/// also checks the library built with `--cfg nvcf_dead_code`, where they are
/// re-exported crate-private and only what the binary reaches counts as used.
/// Declared plainly (their files stay src/NAME.rs), so rustfmt reaches them.
#[path = ""]
mod modules {
    pub mod chart;
    pub mod fit;
    pub mod k8s;
    pub mod model;
    pub mod ops;
    pub mod phase1;
    pub mod profile;
    pub mod registry;
    pub mod runtime;
    pub mod settings;
    pub mod state;
    pub mod steps;
    pub mod tools;
    pub mod ui;
    pub mod values;
}
#[cfg(not(nvcf_dead_code))]
pub use modules::*;
#[cfg(nvcf_dead_code)]
pub(crate) use modules::*;

pub use error::{Error, Result};
/// What `main` does on Ctrl-C: helm gets a grace period, then a report of
/// the releases it was changing.
pub use phase1::ensure::{interrupted_report, HELM_GRACE};
pub use tools::runner::stop_gracefully;
/// The recording command runner: test support the integration tests share.
#[doc(hidden)]
pub use tools::runner::RecordingRunner;
