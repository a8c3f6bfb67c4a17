//! nvcf-dev: a complete, verified NVCF self-hosted Phase 1 on a local kind cluster.
//!
//! The binary in `main.rs` only parses arguments and reports errors; everything it
//! does lives here so that tests can drive it.

pub mod cli;
pub mod error;
pub mod secret;

// The modules are public because the integration tests drive them. That
// would hide every unused item from the dead-code lint, so scripts/test.sh
// also checks the library built with `--cfg nvcf_dead_code`, where they are
// crate-private and only what the binary reaches counts as used. Each is
// declared at the crate root, so log targets (RUST_LOG) are their paths.
#[cfg(not(nvcf_dead_code))]
pub mod chart;
#[cfg(nvcf_dead_code)]
pub(crate) mod chart;
#[cfg(not(nvcf_dead_code))]
pub mod fit;
#[cfg(nvcf_dead_code)]
pub(crate) mod fit;
#[cfg(not(nvcf_dead_code))]
pub mod k8s;
#[cfg(nvcf_dead_code)]
pub(crate) mod k8s;
#[cfg(not(nvcf_dead_code))]
pub mod model;
#[cfg(nvcf_dead_code)]
pub(crate) mod model;
#[cfg(not(nvcf_dead_code))]
pub mod ops;
#[cfg(nvcf_dead_code)]
pub(crate) mod ops;
#[cfg(not(nvcf_dead_code))]
pub mod phase1;
#[cfg(nvcf_dead_code)]
pub(crate) mod phase1;
#[cfg(not(nvcf_dead_code))]
pub mod profile;
#[cfg(nvcf_dead_code)]
pub(crate) mod profile;
#[cfg(not(nvcf_dead_code))]
pub mod registry;
#[cfg(nvcf_dead_code)]
pub(crate) mod registry;
#[cfg(not(nvcf_dead_code))]
pub mod runtime;
#[cfg(nvcf_dead_code)]
pub(crate) mod runtime;
#[cfg(not(nvcf_dead_code))]
pub mod settings;
#[cfg(nvcf_dead_code)]
pub(crate) mod settings;
#[cfg(not(nvcf_dead_code))]
pub mod state;
#[cfg(nvcf_dead_code)]
pub(crate) mod state;
#[cfg(not(nvcf_dead_code))]
pub mod steps;
#[cfg(nvcf_dead_code)]
pub(crate) mod steps;
#[cfg(not(nvcf_dead_code))]
pub mod tools;
#[cfg(nvcf_dead_code)]
pub(crate) mod tools;
#[cfg(not(nvcf_dead_code))]
pub mod ui;
#[cfg(nvcf_dead_code)]
pub(crate) mod ui;
#[cfg(not(nvcf_dead_code))]
pub mod values;
#[cfg(nvcf_dead_code)]
pub(crate) mod values;

pub use error::{Error, Result};
/// What `main` does on Ctrl-C: helm gets a grace period, then a report of
/// the releases it was changing.
pub use phase1::ensure::{interrupted_report, HELM_GRACE};
pub use tools::runner::stop_gracefully;
/// The recording command runner: test support the integration tests share.
#[doc(hidden)]
pub use tools::runner::RecordingRunner;
