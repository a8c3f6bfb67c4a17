//! The binary as a user runs it, in a clean environment.

use std::path::Path;

/// `nvcf-dev` with an empty environment but PATH, its home and state in
/// `state`, no terminal (CI=true) and a kubeconfig that does not exist.
pub fn nvcf_dev(state: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("nvcf-dev").unwrap();
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", state)
        .env("XDG_STATE_HOME", state)
        .env("KUBECONFIG", state.join("no-kubeconfig"))
        .env("CI", "true");
    cmd
}

/// `exe` with nothing of the caller's environment: `bin` (the test's
/// stand-in tools) first on PATH, home, state and kubeconfig in `home`, no
/// terminal (CI=true).
pub fn isolated(exe: &Path, home: &Path, bin: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(exe);
    cmd.env_clear()
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("HOME", home)
        .env("XDG_STATE_HOME", home)
        .env("KUBECONFIG", home.join("kubeconfig"))
        .env("CI", "true");
    cmd
}

/// stderr is exactly one line: `error: ...`.
pub fn one_error_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected:\n{text}");
    assert!(lines[0].starts_with("error: "), "{text}");
    lines[0].to_string()
}

/// The command succeeded; its stderr is the failure message otherwise.
#[track_caller]
pub fn assert_success(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
