//! Phase 1 itself: the plan of what is installed, its charts and values, the
//! mirror of charts and images, and the install, each release brought to its
//! desired state and verified. The steps of `up`, `reset` and `down` and the
//! commands in `ops` are built from these.

pub mod charts;
pub mod ensure;
pub mod install;
pub mod lifecycle;
pub mod mirror;
pub mod plan;
pub mod render_cache;
pub mod schedule;
