//! The container runtime: every bollard call lives here.
