//! The kind CLI through the command runner: only the subcommands nvcf-dev
//! needs, with the flags a kind user would type.
//!
//! The cluster config goes on stdin (`--config -`), never in a temp file, so a
//! failed run leaves nothing behind and the exact bytes can be tested.

use std::time::Duration;

use super::helm::go_duration;
use super::runner::{Cmd, CommandRunner, RunError};

/// How long `create cluster` waits for the control plane to be Ready. kind
/// only warns when this runs out, so it bounds the wait without failing a
/// slow machine; later steps wait for what they need.
pub const CREATE_WAIT: Duration = Duration::from_secs(120);

#[derive(Debug)]
pub struct Kind<'a> {
    runner: &'a dyn CommandRunner,
    program: String,
}

impl<'a> Kind<'a> {
    pub fn new(runner: &'a dyn CommandRunner, program: impl Into<String>) -> Self {
        Kind {
            runner,
            program: program.into(),
        }
    }

    async fn run(&self, args: &[&str], stdin: Option<&str>) -> Result<String, RunError> {
        let mut cmd = Cmd::new(&self.program).args(args.iter().copied());
        cmd.stdin = stdin.map(|s| s.as_bytes().to_vec());
        self.runner.run(&cmd).await
    }

    /// `kind get clusters`. kind prints "No kind clusters found." on stderr
    /// when there are none, so stdout's words are exactly the names (which
    /// hold no spaces).
    pub async fn get_clusters(&self) -> Result<Vec<String>, RunError> {
        let out = self.run(&["get", "clusters"], None).await?;
        Ok(out.split_whitespace().map(String::from).collect())
    }

    /// `kind create cluster --name N --config - --wait 2m` with the config on
    /// stdin. The kubeconfig is written where kind writes it by default
    /// (`$KUBECONFIG` or ~/.kube/config) as context `kind-N`; without
    /// `--retain`, kind removes the nodes of a failed create, so running
    /// again starts clean.
    pub async fn create_cluster(&self, name: &str, config_yaml: &str) -> Result<(), RunError> {
        let wait = go_duration(CREATE_WAIT);
        let args = [
            "create", "cluster", "--name", name, "--config", "-", "--wait", &wait,
        ];
        self.run(&args, Some(config_yaml)).await.map(drop)
    }

    /// `kind delete cluster --name N`; kind succeeds when there is no such
    /// cluster, so this is safe to repeat.
    pub async fn delete_cluster(&self, name: &str) -> Result<(), RunError> {
        self.run(&["delete", "cluster", "--name", name], None)
            .await
            .map(drop)
    }

    /// `kind export kubeconfig --name N`: (re)writes context `kind-N` and makes
    /// it current, e.g. after the user switched context or deleted it.
    pub async fn export_kubeconfig(&self, name: &str) -> Result<(), RunError> {
        self.run(&["export", "kubeconfig", "--name", name], None)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::runner::RecordingRunner;

    #[tokio::test]
    async fn get_clusters_lists_stdout_lines() {
        let r = RecordingRunner::new();
        r.reply("get clusters", "nvcf-dev\nother\n\n");
        let kind = Kind::new(&r, "kind");
        assert_eq!(kind.get_clusters().await.unwrap(), ["nvcf-dev", "other"]);
        // None: kind says so on stderr only.
        assert!(kind.get_clusters().await.unwrap().is_empty());
        assert_eq!(
            r.command_lines(),
            ["kind get clusters", "kind get clusters"]
        );
    }

    #[tokio::test]
    async fn create_cluster_pipes_the_config_on_stdin() {
        let r = RecordingRunner::new();
        let config = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n";
        Kind::new(&r, "/usr/local/bin/kind")
            .create_cluster("nvcf-dev", config)
            .await
            .unwrap();
        let calls = r.calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].program, "/usr/local/bin/kind");
        assert_eq!(
            calls[0].args,
            ["create", "cluster", "--name", "nvcf-dev", "--config", "-", "--wait", "2m"]
        );
        assert_eq!(calls[0].stdin.as_deref(), Some(config.as_bytes()));
    }

    #[tokio::test]
    async fn create_failure_carries_kinds_message() {
        let r = RecordingRunner::new();
        r.fail(
            "create cluster",
            1,
            "ERROR: failed to create cluster: node(s) already exist for a cluster with the name \"nvcf-dev\"",
        );
        let err = Kind::new(&r, "kind")
            .create_cluster("nvcf-dev", "kind: Cluster\n")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "`kind create cluster --name nvcf-dev --config - --wait 2m` failed with exit code 1:"
            ),
            "{err}"
        );
        assert!(err.contains("already exist"), "{err}");
    }

    #[tokio::test]
    async fn delete_and_kubeconfig_argv() {
        let r = RecordingRunner::new();
        let kind = Kind::new(&r, "kind");
        kind.export_kubeconfig("nvcf-dev").await.unwrap();
        kind.delete_cluster("nvcf-dev").await.unwrap();
        assert_eq!(
            r.command_lines(),
            [
                "kind export kubeconfig --name nvcf-dev",
                "kind delete cluster --name nvcf-dev",
            ]
        );
        assert!(r.calls().iter().all(|c| c.stdin.is_none()));
    }
}
