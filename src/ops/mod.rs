//! The work behind each command, apart from argument parsing (like cargo's `ops`).

pub mod charts;
pub mod doctor;
pub mod doctor_system;
pub mod down;
pub mod ensure;
pub mod guard;
pub mod install;
pub mod lifecycle;
pub mod lock;
pub mod logs;
pub mod mirror;
pub mod plan;
pub mod registry;
pub mod render_cache;
pub mod reset;
pub mod schedule;
pub mod show_plan;
pub mod status;
pub mod up;
