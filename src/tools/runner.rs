//! The one place external commands (kind, helm) are run.
//!
//! Like kind's `exec` package: a command is a value ([`Cmd`]), a runner executes
//! it, and a failure ([`RunError`]) carries the command line, quoted so it can be
//! pasted into a shell, and what the command printed. Tests swap in
//! [`RecordingRunner`] to assert the exact argv and stdin without the binary.

use std::collections::VecDeque;
use std::fmt;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;

/// A command to run. Secrets never go in `args` (where `ps` shows them): pass
/// them in files or on stdin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    /// Set on commands that change a helm release: on Ctrl-C they get
    /// SIGTERM and a grace period ([`stop_gracefully`]) instead of SIGKILL.
    pub graceful: Option<Graceful>,
}

/// The release a graceful command is changing, to report on after Ctrl-C.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graceful {
    pub release: String,
    pub namespace: String,
    pub context: Option<String>,
}

/// Graceful commands running now (pid, what), and whether Ctrl-C was pressed.
static RUNNING: Mutex<Vec<(u32, Graceful)>> = Mutex::new(Vec::new());
static INTERRUPTING: AtomicBool = AtomicBool::new(false);

/// [`RUNNING`], usable even after a panic elsewhere poisoned it.
fn running() -> MutexGuard<'static, Vec<(u32, Graceful)>> {
    RUNNING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Unregisters a graceful child when its run ends, however it ends.
struct Registered(u32);

impl Drop for Registered {
    fn drop(&mut self) {
        running().retain(|(p, _)| *p != self.0);
    }
}

/// A graceful command that Ctrl-C stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    pub what: Graceful,
    /// It exited within the grace period (else it is killed with the rest).
    pub in_time: bool,
}

/// On Ctrl-C: sends SIGTERM to every graceful command running (helm records
/// the failure of the release it is changing, and exits), and waits up to
/// `grace` for them to exit. Their runs then never return (the command is
/// being abandoned), so nothing acts on their failure.
pub async fn stop_gracefully(grace: std::time::Duration) -> Vec<Stopped> {
    INTERRUPTING.store(true, SeqCst);
    let stopping = running().clone();
    for (pid, _) in &stopping {
        // SAFETY: a signal to a child we started and have not yet reaped.
        unsafe { libc::kill(*pid as libc::pid_t, libc::SIGTERM) };
    }
    let is_running = |pid: &u32| running().iter().any(|(p, _)| p == pid);
    let deadline = std::time::Instant::now() + grace;
    while std::time::Instant::now() < deadline && stopping.iter().any(|(p, _)| is_running(p)) {
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    stopping
        .into_iter()
        .map(|(pid, what)| Stopped {
            what,
            in_time: !is_running(&pid),
        })
        .collect()
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Self {
        Cmd {
            program: program.into(),
            ..Default::default()
        }
    }

    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// The command line as a user would type it.
    pub fn command_line(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|s| shell_quote(s))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A finished command: its stdout on exit code 0 (what it said on stderr
/// then is only warnings), else the error that carries its command line
/// and output.
fn finished(
    command: String,
    code: i32,
    stdout: String,
    stderr: String,
) -> Result<String, RunError> {
    if code == 0 {
        return Ok(stdout);
    }
    tracing::info!(%command, code, "failed:\n{stderr}{stdout}");
    Err(RunError::Failed {
        command,
        code,
        stdout,
        stderr,
    })
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed with exit code {code}{}", why_failed(stdout, stderr).map(|l| format!(": {l}")).unwrap_or_default())]
    Failed {
        command: String,
        code: i32,
        stdout: String,
        stderr: String,
    },
}

impl RunError {
    /// Why it failed, in one line: the command's own account when it gave
    /// one, else this whole error.
    pub fn why(&self) -> String {
        let said = match self {
            RunError::Failed { stdout, stderr, .. } => why_failed(stdout, stderr),
            RunError::Spawn { .. } => None,
        };
        said.unwrap_or_else(|| self.to_string())
    }
}

/// Why a command failed, in one line (`-v` logs the whole output). helm,
/// kubectl and kind say why on an `Error:` line (which may run on over
/// several lines), and helm follows a template failure with a hint that
/// explains nothing; otherwise the last line said is usually the reason.
pub fn why_failed(stdout: &str, stderr: &str) -> Option<String> {
    const HELM_HINT: &str = "Use --debug flag to render out invalid YAML";
    let said = |text: &str| {
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && *l != HELM_HINT)
            .collect();
        let from = lines
            .iter()
            .rposition(|l| l.starts_with("Error:") || l.starts_with("ERROR:"))
            .or(lines.len().checked_sub(1))?;
        let words: Vec<&str> = lines[from..]
            .iter()
            .flat_map(|l| l.split_whitespace())
            .collect();
        Some(words.join(" "))
    };
    said(stderr).or_else(|| said(stdout))
}

#[async_trait]
pub trait CommandRunner: Send + Sync + fmt::Debug {
    /// Runs `cmd` to completion, for its stdout. A non-zero exit is an error.
    async fn run(&self, cmd: &Cmd) -> Result<String, RunError>;
}

/// Runs commands for real. Child processes are killed when the future is
/// dropped, so Ctrl-C leaves no helm or kind behind.
#[derive(Debug, Default, Clone)]
pub struct SystemRunner;

#[async_trait]
impl CommandRunner for SystemRunner {
    async fn run(&self, cmd: &Cmd) -> Result<String, RunError> {
        let command = cmd.command_line();
        tracing::debug!(%command, "run");
        let spawn_err = |source| RunError::Spawn {
            command: command.clone(),
            source,
        };
        let mut child = tokio::process::Command::new(&cmd.program)
            .args(&cmd.args)
            .stdin(match cmd.stdin {
                Some(_) => Stdio::piped(),
                None => Stdio::null(),
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(spawn_err)?;
        let registered = (cmd.graceful.clone().zip(child.id())).map(|(g, pid)| {
            running().push((pid, g));
            Registered(pid)
        });
        if let (Some(bytes), Some(mut stdin)) = (&cmd.stdin, child.stdin.take()) {
            // A child that exits without reading stdin is not our error; its exit code says.
            let _ = stdin.write_all(bytes).await;
        }
        let out = child.wait_with_output().await.map_err(spawn_err)?;
        if registered.is_some() && INTERRUPTING.load(SeqCst) {
            // Stopped by Ctrl-C: the command is being abandoned; its failure
            // is reported by whoever interrupted, not acted upon here.
            drop(registered);
            std::future::pending::<()>().await;
        }
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        let code = out.status.code().unwrap_or(-1);
        finished(command, code, text(&out.stdout), text(&out.stderr))
    }
}

/// Records every command and answers from a script, for tests of the thin
/// wrappers around kind and helm.
#[derive(Debug, Default, Clone)]
pub struct RecordingRunner {
    calls: Arc<Mutex<Vec<Cmd>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
}

/// A scripted answer: (what the command line contains, exit code, stdout, stderr).
type Reply = (String, i32, String, String);

impl RecordingRunner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next command whose line contains `matching` gets this stdout. Commands
    /// with no scripted reply succeed with empty output.
    pub fn reply(&self, matching: &str, stdout: &str) -> &Self {
        self.script(matching, 0, stdout, "")
    }

    /// The next command whose line contains `matching` fails with this exit code and stderr.
    pub fn fail(&self, matching: &str, code: i32, stderr: &str) -> &Self {
        self.script(matching, code, "", stderr)
    }

    fn script(&self, matching: &str, code: i32, stdout: &str, stderr: &str) -> &Self {
        let reply = (matching.into(), code, stdout.into(), stderr.into());
        self.replies.lock().unwrap().push_back(reply);
        self
    }

    pub fn calls(&self) -> Vec<Cmd> {
        self.calls.lock().unwrap().clone()
    }

    pub fn command_lines(&self) -> Vec<String> {
        self.calls().iter().map(Cmd::command_line).collect()
    }
}

#[async_trait]
impl CommandRunner for RecordingRunner {
    async fn run(&self, cmd: &Cmd) -> Result<String, RunError> {
        self.calls.lock().unwrap().push(cmd.clone());
        let command = cmd.command_line();
        let mut replies = self.replies.lock().unwrap();
        let pos = replies.iter().position(|r| command.contains(&r.0));
        let (_, code, stdout, stderr) = pos.and_then(|i| replies.remove(i)).unwrap_or_default();
        finished(command, code, stdout, stderr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RUST_LOG selects logs by module path (`nvcf_dev::tools=debug`), so
    /// a module's path must be where the README's layout puts it.
    #[test]
    fn log_targets_are_the_modules_paths() {
        assert_eq!(module_path!(), "nvcf_dev::tools::runner::tests");
    }

    #[test]
    fn command_line_is_pasteable() {
        let c = Cmd::new("helm").args(["upgrade", "--install", "nats", "--set", "a=it's here"]);
        assert_eq!(
            c.command_line(),
            r"helm upgrade --install nats --set 'a=it'\''s here'"
        );
    }

    #[test]
    fn helm_template_failure_reads_as_its_error_line() {
        // helm 3.17's stderr for a chart's `fail`, hint and all.
        let stderr = "Error: execution error at (helm-nvcf-openbao-server/templates/validate-sidecar-version.yaml:84:12): OpenBao image tag mismatch: server: 2.5.5-nv-1.3.1,\n  sidecar: 2.2.2-nv-1\n\nUse --debug flag to render out invalid YAML\n";
        assert_eq!(
            why_failed("", stderr).unwrap(),
            "Error: execution error at (helm-nvcf-openbao-server/templates/validate-sidecar-version.yaml:84:12): OpenBao image tag mismatch: server: 2.5.5-nv-1.3.1, sidecar: 2.2.2-nv-1"
        );
    }

    #[test]
    fn install_failure_keeps_helm_error_not_the_warnings_before_it() {
        let stderr = "WARNING: Kubernetes configuration file is group-readable\nError: INSTALLATION FAILED: context deadline exceeded\n";
        assert_eq!(
            why_failed("", stderr).unwrap(),
            "Error: INSTALLATION FAILED: context deadline exceeded"
        );
        assert_eq!(why_failed("ok\nlast words\n", "").unwrap(), "last words");
        assert_eq!(why_failed("", "\n \n"), None);
    }

    #[tokio::test]
    async fn system_runner_reports_exit_code_command_and_output() {
        let err = SystemRunner
            .run(&Cmd::new("sh").args(["-c", "echo progress; echo why >&2; exit 3"]))
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            msg, "`sh -c 'echo progress; echo why >&2; exit 3'` failed with exit code 3: why",
            "one line: the command and its last word"
        );
        let RunError::Failed { stdout, stderr, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!((stdout.as_str(), stderr.as_str()), ("progress\n", "why\n"));
    }

    #[tokio::test]
    async fn ctrl_c_gives_a_graceful_command_sigterm_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("term");
        let ready = dir.path().join("ready");
        // `ready` once the trap is set: a SIGTERM before that would kill sh
        // outright, which is not what helm does and not what is under test.
        let script = format!(
            "trap 'echo recorded > {}; exit 1' TERM; touch {}; sleep 30 >/dev/null 2>&1 & wait",
            marker.display(),
            ready.display()
        );
        let mut cmd = Cmd::new("sh").args(["-c", &script]);
        cmd.graceful = Some(Graceful {
            release: "openbao-server".into(),
            namespace: "vault-system".into(),
            context: None,
        });
        let run = tokio::spawn(async move { SystemRunner.run(&cmd).await });
        let started = std::time::Instant::now();
        while !ready.exists()
            || !RUNNING
                .lock()
                .unwrap()
                .iter()
                .any(|(_, g)| g.release == "openbao-server")
        {
            assert!(started.elapsed().as_secs() < 10, "never started");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let stopped = stop_gracefully(std::time::Duration::from_secs(10)).await;
        assert!(started.elapsed().as_secs() < 5, "it stopped at SIGTERM");
        assert_eq!(stopped.len(), 1);
        assert!(stopped[0].in_time);
        assert_eq!(stopped[0].what.release, "openbao-server");
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "recorded\n");
        // The abandoned run never reports its failure.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(!run.is_finished());
        run.abort();
    }

    #[tokio::test]
    async fn system_runner_feeds_stdin() {
        let out = SystemRunner
            .run(&Cmd {
                stdin: Some(b"piped config".to_vec()),
                ..Cmd::new("cat")
            })
            .await
            .unwrap();
        assert_eq!(out, "piped config");
    }

    #[tokio::test]
    async fn missing_program_is_a_spawn_error() {
        let err = SystemRunner
            .run(&Cmd::new("nvcf-dev-no-such-binary"))
            .await
            .unwrap_err();
        assert!(matches!(err, RunError::Spawn { .. }), "{err}");
    }

    #[tokio::test]
    async fn recording_runner_scripts_replies_in_order() {
        let r = RecordingRunner::new();
        r.reply("version", "v1").fail("create", 1, "boom");
        assert_eq!(
            r.run(&Cmd::new("kind").args(["version"])).await.unwrap(),
            "v1"
        );
        assert!(r.run(&Cmd::new("kind").args(["create"])).await.is_err());
        assert!(r.run(&Cmd::new("kind").args(["create"])).await.is_ok());
        assert_eq!(
            r.command_lines(),
            ["kind version", "kind create", "kind create"]
        );
    }
}
