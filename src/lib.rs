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

// Never compiled: the same modules declared where rustfmt sees them (it
// does not look inside macros), so `cargo fmt` formats them too.
#[cfg(any())]
mod chart;
#[cfg(any())]
mod fit;
#[cfg(any())]
mod k8s;
#[cfg(any())]
mod model;
#[cfg(any())]
mod ops;
#[cfg(any())]
mod phase1;
#[cfg(any())]
mod profile;
#[cfg(any())]
mod registry;
#[cfg(any())]
mod runtime;
#[cfg(any())]
mod settings;
#[cfg(any())]
mod state;
#[cfg(any())]
mod steps;
#[cfg(any())]
mod tools;
#[cfg(any())]
mod ui;
#[cfg(any())]
mod values;

pub use error::{Error, Result};
/// What `main` does on Ctrl-C: helm gets a grace period, then a report of
/// the releases it was changing.
pub use phase1::ensure::{interrupted_report, HELM_GRACE};
pub use tools::runner::stop_gracefully;
/// The recording command runner: test support the integration tests share.
#[doc(hidden)]
pub use tools::runner::RecordingRunner;

#[cfg(test)]
mod tests {
    /// The modules! list and the list rustfmt reads name the same modules,
    /// so none drops out of `cargo fmt` unnoticed.
    #[test]
    fn rustfmt_sees_every_module() {
        let src = include_str!("lib.rs");
        let listed = src
            .split("modules!(")
            .nth(1)
            .and_then(|s| s.split(')').next());
        let mut listed: Vec<&str> = listed.unwrap().split(',').map(str::trim).collect();
        listed.retain(|m| !m.is_empty());
        let seen: Vec<&str> = src
            .split("#[cfg(any())]\nmod ")
            .skip(1)
            .filter_map(|s| s.split(';').next())
            .collect();
        assert_eq!(listed, seen);
    }
}
