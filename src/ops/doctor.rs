//! `nvcf-dev doctor`: preflight checks, each pass, warn or fail, with a fix
//! for each failure. Probing the machine is kept apart from judging what was
//! found, so the judgements are tested with made-up observations.

use std::path::Path;

use serde::Serialize;

use crate::registry::auth::docker_config_has;
use crate::runtime::{PortHolder, Runtime};
use crate::settings::Env;
use crate::tools::helm;
use crate::tools::runner::{Cmd, CommandRunner, SystemRunner};
use crate::ui::{table, Shell};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    /// What to do, for a warning or a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }
    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: Status::Warn,
            ..Check::fail(name, detail, fix)
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

pub const MIN_WATCHES: u64 = 524_288;
pub const MIN_INSTANCES: u64 = 512;
const GIB: u64 = 1 << 30;

/// `nvcf-dev doctor`: every check on this machine, for the local registry on
/// `registry_port` or the profile's port.
pub async fn doctor(
    shell: &Shell,
    env: &Env,
    profile: &str,
    registry_port: Option<u16>,
) -> crate::Result<()> {
    let port = match registry_port {
        Some(p) => p,
        None => {
            (crate::profile::load(profile)?.cluster.registry)
                .spec(None, None)
                .host_port
        }
    };
    report(shell, &run_checks(env, port).await)
}

/// Every check, on this machine. One Docker connection serves the checks
/// that need it: when the daemon is down, that attempt takes seconds.
async fn run_checks(env: &Env, registry_port: u16) -> Vec<Check> {
    let registry = env
        .get("REGISTRY")
        .unwrap_or(crate::settings::DEFAULT_REGISTRY);
    // Read as the mirror reads it.
    let docker_config = env.get("DOCKER_CONFIG").map(std::ffi::OsStr::new);
    let runner = SystemRunner;
    let docker = Runtime::connect().await.map_err(|e| e.to_string());
    let (version, port) = match &docker {
        Ok(rt) => (
            rt.server_version().await.map_err(|e| e.to_string()),
            rt.port_holder(registry_port)
                .await
                .map_err(|e| e.to_string()),
        ),
        Err(e) => (Err(e.clone()), Err(e.clone())),
    };
    let inotify = cfg!(target_os = "linux")
        .then(|| read_inotify(Path::new("/proc/sys/fs/inotify")))
        .flatten();
    // Docker's data root when it is readable (root, or a rootless daemon), else /.
    let disk = ["/var/lib/docker", "/"]
        .iter()
        .find_map(|p| free_bytes(Path::new(p)).map(|b| (p.to_string(), b)));
    vec![
        check_docker(version),
        check_kind(tool_version(&runner, "kind", &["version"]).await),
        check_helm(tool_version(&runner, "helm", &["version", "--short"]).await),
        check_kubectl(tool_version(&runner, "kubectl", &["version", "--client"]).await),
        check_port(registry_port, port),
        check_inotify(inotify),
        check_disk(disk),
        check_credentials(env, registry, docker_config_has(docker_config, registry)),
    ]
}

pub fn check_docker(r: Result<String, String>) -> Check {
    match r {
        Ok(v) => Check::pass("docker", format!("Docker Engine {v}")),
        Err(why) => Check::fail("docker", why, "start Docker (`sudo systemctl start docker`, or `dockerd`), or point DOCKER_HOST at a running daemon"),
    }
}

pub fn check_kind(r: Option<Result<String, String>>) -> Check {
    check_tool("kind", Status::Fail, r, |v| {
        Ok(v.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
    })
}

pub fn check_helm(r: Option<Result<String, String>>) -> Check {
    check_tool("helm", Status::Fail, r, |text| {
        let v = helm::parse_version(text).map_err(|e| e.to_string())?;
        Ok(format!("helm {v}"))
    })
}

pub fn check_kubectl(r: Option<Result<String, String>>) -> Check {
    check_tool("kubectl", Status::Warn, r, |v| {
        Ok(v.lines().next().unwrap_or_default().trim().to_string())
    })
}

/// A tool's version output `r` (None: not on PATH), judged by `judge`; a
/// tool missing, failing or refused is `missing`, with how to install it.
fn check_tool(
    name: &'static str,
    missing: Status,
    r: Option<Result<String, String>>,
    judge: impl FnOnce(&str) -> Result<String, String>,
) -> Check {
    match r
        .unwrap_or_else(|| Err("not found on PATH".into()))
        .and_then(|v| judge(&v))
    {
        Ok(detail) => Check::pass(name, detail),
        Err(detail) => Check {
            status: missing,
            ..Check::fail(name, detail, crate::tools::install_hint(name))
        },
    }
}

pub fn check_port(port: u16, r: Result<PortHolder, String>) -> Check {
    let held_by = |who: String| {
        Check::fail(
            "registry port",
            format!("127.0.0.1:{port} is held by {who}"),
            format!("stop {who}, or use another port with --registry-port"),
        )
    };
    match r {
        Ok(PortHolder::Free) => Check::pass("registry port", format!("127.0.0.1:{port} is free")),
        Ok(PortHolder::Container { ours: true, .. }) => {
            Check::pass("registry port", format!("127.0.0.1:{port} is our registry"))
        }
        Ok(PortHolder::Container { name, .. }) => held_by(format!("container `{name}`")),
        Ok(PortHolder::Process) => held_by("a process that is not a container".into()),
        Err(why) => Check::warn("registry port", why, "start Docker, then run doctor again"),
    }
}

pub fn check_inotify(limits: Option<(u64, u64)>) -> Check {
    let Some((watches, instances)) = limits else {
        return Check::pass("inotify", "not Linux: no limits to check");
    };
    if watches >= MIN_WATCHES && instances >= MIN_INSTANCES {
        return Check::pass(
            "inotify",
            format!("max_user_watches {watches}, max_user_instances {instances}"),
        );
    }
    Check::fail(
        "inotify",
        format!("max_user_watches {watches} (need {MIN_WATCHES}), max_user_instances {instances} (need {MIN_INSTANCES}); kind pods fail with \"too many open files\""),
        format!("sudo sysctl fs.inotify.max_user_watches={MIN_WATCHES} fs.inotify.max_user_instances={MIN_INSTANCES}"),
    )
}

pub fn check_disk(free: Option<(String, u64)>) -> Check {
    let Some((path, bytes)) = free else {
        return Check::warn(
            "disk",
            "could not measure free disk",
            "make sure Docker's data directory has 20 GiB free",
        );
    };
    let gib = bytes as f64 / GIB as f64;
    let detail = format!("{gib:.1} GiB free in {path}");
    if bytes < 5 * GIB {
        Check::fail("disk", detail, "free at least 20 GiB: the kind node image and the Phase 1 images need it (`docker system prune` helps)")
    } else if bytes < 20 * GIB {
        Check::warn(
            "disk",
            detail,
            "20 GiB or more is comfortable for the node image and the Phase 1 images",
        )
    } else {
        Check::pass("disk", detail)
    }
}

pub fn check_credentials(env: &Env, registry: &str, in_docker_config: bool) -> Check {
    if env.get("NGC_API_KEY").is_some() {
        Check::pass("credentials", "NGC_API_KEY is set")
    } else if env.get("REGISTRY_CREDENTIAL_B64").is_some() {
        Check::pass("credentials", "REGISTRY_CREDENTIAL_B64 is set")
    } else if in_docker_config {
        Check::warn(
            "credentials",
            format!("no NGC_API_KEY; the docker config has credentials for {registry}, which mirroring can use"),
            "export NGC_API_KEY as well: OpenBao's migrations store it as the image pull secret",
        )
    } else {
        Check::fail(
            "credentials",
            format!("no NGC_API_KEY, REGISTRY_CREDENTIAL_B64, or docker login for {registry}"),
            "export NGC_API_KEY=<your key> (https://ngc.nvidia.com/setup/api-key)",
        )
    }
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    ok: bool,
    checks: &'a [Check],
}

/// Prints the checks; an error when any failed.
pub fn report(shell: &Shell, checks: &[Check]) -> Result<(), crate::Error> {
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .map(|c| c.name)
        .collect();
    if shell.is_json() {
        shell.json(&Report {
            ok: failed.is_empty(),
            checks,
        });
    } else {
        let rows: Vec<Vec<String>> = checks
            .iter()
            .map(|c| {
                let mark = match c.status {
                    Status::Pass => "✓ pass",
                    Status::Warn => "! warn",
                    Status::Fail => "✗ fail",
                };
                vec![c.name.to_string(), mark.to_string(), c.detail.clone()]
            })
            .collect();
        shell.out(table(&["CHECK", "STATUS", "DETAIL"], &rows));
        let fixes: Vec<String> = checks
            .iter()
            .filter_map(|c| Some(format!("{}: {}", c.name, c.fix.as_ref()?)))
            .collect();
        if !fixes.is_empty() {
            shell.out(format!("\n{}", fixes.join("\n")));
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(crate::Error::Failed(format!(
        "{} preflight check{} failed ({}): apply the fixes above and run `nvcf-dev doctor` again",
        failed.len(),
        if failed.len() == 1 { "" } else { "s" },
        failed.join(", ")
    )))
}

/// Reads /proc/sys/fs/inotify; None off Linux.
pub fn read_inotify(root: &Path) -> Option<(u64, u64)> {
    let read = |f: &str| -> Option<u64> {
        std::fs::read_to_string(root.join(f))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    Some((read("max_user_watches")?, read("max_user_instances")?))
}

/// Free bytes on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a valid out-pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

/// Runs `<tool> <args>` when the tool is on PATH.
pub async fn tool_version(
    runner: &dyn CommandRunner,
    tool: &str,
    args: &[&str],
) -> Option<Result<String, String>> {
    let path = which::which(tool).ok()?;
    let cmd = Cmd::new(path.display().to_string()).args(args.iter().copied());
    let out = runner.run(&cmd).await;
    Some(out.map(|o| o.trim().to_string()).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::OutputFormat;

    #[test]
    fn helm_versions_are_judged() {
        assert_eq!(
            check_helm(Some(Ok("v3.17.3+ge4da497".into()))).status,
            Status::Pass
        );
        assert_eq!(
            check_helm(Some(Ok("v4.1.4+g05fa379".into()))).detail,
            "helm v4.1.4"
        );
        let old = check_helm(Some(Ok("v3.10.0+gabc".into())));
        assert_eq!(old.status, Status::Fail);
        assert!(old.detail.contains("too old"), "{}", old.detail);
        assert_eq!(check_helm(None).status, Status::Fail);
    }

    #[test]
    fn kubectl_missing_only_warns() {
        assert_eq!(check_kubectl(None).status, Status::Warn);
    }

    #[test]
    fn inotify_limits() {
        assert_eq!(check_inotify(Some((524_288, 512))).status, Status::Pass);
        let low = check_inotify(Some((8192, 128)));
        assert_eq!(low.status, Status::Fail);
        assert!(low
            .fix
            .unwrap()
            .contains("fs.inotify.max_user_watches=524288"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("max_user_watches"), "1048576\n").unwrap();
        std::fs::write(dir.path().join("max_user_instances"), "128\n").unwrap();
        assert_eq!(read_inotify(dir.path()), Some((1_048_576, 128)));
    }

    #[test]
    fn disk_thresholds() {
        assert_eq!(
            check_disk(Some(("/var/lib/docker".into(), 50 * GIB))).status,
            Status::Pass
        );
        assert_eq!(
            check_disk(Some(("/".into(), 10 * GIB))).status,
            Status::Warn
        );
        assert_eq!(check_disk(Some(("/".into(), GIB))).status, Status::Fail);
        assert!(free_bytes(Path::new("/")).unwrap() > 0);
    }

    #[test]
    fn a_busy_port_names_its_holder() {
        let holder = PortHolder::Container {
            name: "my-registry".into(),
            ours: false,
        };
        let c = check_port(5001, Ok(holder));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            c.detail,
            "127.0.0.1:5001 is held by container `my-registry`"
        );
        assert_eq!(
            check_port(
                5001,
                Ok(PortHolder::Container {
                    name: "r".into(),
                    ours: true
                })
            )
            .status,
            Status::Pass
        );
    }

    #[test]
    fn credentials_never_echo_the_key() {
        let env = Env::from_pairs([("NGC_API_KEY", "fake-ngc-key-value")]);
        let c = check_credentials(&env, "nvcr.io", false);
        assert_eq!(c.status, Status::Pass);
        assert!(!format!("{c:?}").contains("fake-ngc-key-value"));
        assert_eq!(
            check_credentials(&Env::default(), "nvcr.io", false).status,
            Status::Fail
        );
        assert_eq!(
            check_credentials(&Env::default(), "nvcr.io", true).status,
            Status::Warn
        );
    }

    #[test]
    fn docker_config_entries_count() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"nvcr.io":{"auth":"eHg6eXk="}}}"#,
        )
        .unwrap();
        let docker_config_has = |r| docker_config_has(Some(dir.path().as_os_str()), r);
        assert!(docker_config_has("nvcr.io"));
        assert!(!docker_config_has("ghcr.io"));
    }

    #[test]
    fn docker_config_read_as_the_mirror_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"eHg6eXk="}},
                "credHelpers":{"ghcr.io":"gh"}}"#,
        )
        .unwrap();
        let docker_config_has = |r| docker_config_has(Some(dir.path().as_os_str()), r);
        assert!(docker_config_has("docker.io"));
        assert!(docker_config_has("index.docker.io"));
        assert!(docker_config_has("ghcr.io"));
        assert!(!docker_config_has("nvcr.io"));
        // A prefix is not the host.
        assert!(!docker_config_has("ghcr"));
    }

    #[test]
    fn a_failure_fails_the_command_with_a_table_and_fixes() {
        let (sh, cap) = Shell::capture(OutputFormat::Text);
        let checks = vec![check_docker(Ok("20.10.24".into())), check_kind(None)];
        let err = report(&sh, &checks).unwrap_err().to_string();
        assert_eq!(err, "1 preflight check failed (kind): apply the fixes above and run `nvcf-dev doctor` again");
        let out = cap.stdout();
        assert!(out.starts_with("CHECK    STATUS   DETAIL\ndocker   ✓ pass   Docker Engine 20.10.24\nkind     ✗ fail   not found on PATH"), "{out}");
        assert!(out.contains("\nkind: install kind"), "{out}");
    }

    #[test]
    fn json_report_is_one_document() {
        let (sh, cap) = Shell::capture(OutputFormat::Json);
        report(&sh, &[check_docker(Ok("20.10.24".into()))]).unwrap();
        let v: serde_json::Value = serde_json::from_str(&cap.stdout()).unwrap();
        assert_eq!(v["ok"], true);
        assert_eq!(v["checks"][0]["name"], "docker");
        assert_eq!(v["checks"][0]["status"], "pass");
    }
}
