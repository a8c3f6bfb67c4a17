//! The Kubernetes side: client, waits, health checks, stale-resource cleanup.
