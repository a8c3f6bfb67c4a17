//! nvcf-dev: a complete, verified NVCF self-hosted Phase 1 on a local kind cluster.
//!
//! The binary in `main.rs` only parses arguments and reports errors; everything it
//! does lives here so that tests can drive it.

pub mod chart;
pub mod cli;
pub mod error;
pub mod fit;
pub mod k8s;
pub mod model;
pub mod ops;
pub mod profile;
pub mod registry;
pub mod runtime;
pub mod secret;
pub mod settings;
pub mod state;
pub mod steps;
pub mod tools;
pub mod ui;
pub mod values;

pub use error::{Error, Result};
