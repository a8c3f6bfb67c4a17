//! The Kubernetes side: client, waits, health checks, stale-resource cleanup.
//!
//! Decision logic (readiness, diagnosis, parsing tool output, what is stale)
//! is pure functions over k8s-openapi types, tested on recorded JSON in
//! `tests/fixtures/k8s/`. The async functions only fetch, watch, exec and
//! delete; waits are conditions on watched objects, never sleep loops.

pub mod client;
pub mod error;
pub mod logs;
pub mod placement;
pub mod progress;
pub mod readiness;
pub mod releases;
pub mod stale;
pub mod verify;
pub mod wiring;

pub use client::kind_context;
pub use error::KubeError;
pub use verify::{Check, HealthReport};

#[cfg(test)]
pub(crate) mod fixtures {
    //! Recorded objects shared by the unit tests.
    use serde::de::DeserializeOwned;

    pub fn obj<T: DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).expect("fixture parses")
    }

    pub fn list<T: DeserializeOwned>(json: &str) -> Vec<T> {
        let v: serde_json::Value = serde_json::from_str(json).expect("fixture parses");
        serde_json::from_value(v["items"].clone()).expect("fixture items parse")
    }

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/k8s/",
                $name
            ))
        };
    }
    pub(crate) use fixture;
}
