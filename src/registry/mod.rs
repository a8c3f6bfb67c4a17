//! The OCI copy engine: mirrors charts and images between registries.
