//! The work behind each command, apart from argument parsing (like cargo's `ops`).

pub mod doctor;
pub mod down;
pub mod guard;
pub mod lock;
pub mod logs;
pub mod mirror;
pub mod registry;
pub mod reset;
pub mod show_plan;
pub mod status;
pub mod up;
