//! One run at a time per cluster: `up`, `reset`, `down` and `mirror` into
//! the local registry take `<state dir>/<cluster>/lock` with `flock`, which
//! the OS releases when the process dies, however it dies. The file says who
//! holds it (command, pid, since when), for the run that finds it taken.

use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Held until dropped (or the process ends).
#[derive(Debug)]
pub struct ClusterLock {
    _file: std::fs::File,
}

/// Takes the lock of `cluster` for `command`, or says who holds it.
pub fn acquire(state_dir: &Path, cluster: &str, command: &str) -> crate::Result<ClusterLock> {
    let path = state_dir.join(cluster).join("lock");
    let io = |action: &str, e: std::io::Error| {
        crate::Error::Failed(format!(
            "cannot {action} the lock file {}: {e}; check the state directory's permissions",
            path.display()
        ))
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| io("open", e))?;
    // SAFETY: flock on a file descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(io("lock", err));
        }
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        return Err(crate::Error::Failed(held_message(
            cluster,
            &text,
            SystemTime::now(),
        )));
    }
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let holder = format!("{command}\n{}\n{since}\n", std::process::id());
    file.set_len(0)
        .and_then(|_| file.rewind())
        .and_then(|_| file.write_all(holder.as_bytes()))
        .map_err(|e| io("write", e))?;
    Ok(ClusterLock { _file: file })
}

/// "`nvcf-dev up` (pid 4242) has been working on cluster nvcf-dev for 2m05s".
pub fn held_message(cluster: &str, holder: &str, now: SystemTime) -> String {
    let mut lines = holder.lines();
    let who = match lines.next().filter(|c| !c.is_empty()) {
        Some(command) => format!("`nvcf-dev {command}`"),
        None => "another nvcf-dev run".to_string(),
    };
    let pid = lines.next().unwrap_or("?");
    let since = lines.next().and_then(|s| s.parse().ok());
    let ago = since.and_then(|s| now.duration_since(UNIX_EPOCH + Duration::from_secs(s)).ok());
    let ago = ago.map(|d| crate::ui::format_duration(Duration::from_secs(d.as_secs())));
    let how_long = ago.map_or(String::new(), |d| format!(" since {d} ago"));
    format!(
        "{who} (pid {pid}) is working on cluster {cluster}{how_long}: one run at a time; wait for it to finish, or stop it (`kill {pid}`) and run this again"
    )
}

/// The lock for a command of `settings`' cluster, in the usual state directory.
pub fn acquire_for(
    settings: &crate::settings::Settings,
    command: &str,
) -> crate::Result<ClusterLock> {
    let dir = crate::state::state_dir()?;
    acquire(&dir, &settings.cluster, command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_second_holder_is_refused_with_who_and_since_when() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path(), "c1", "up").unwrap();
        let mode = std::fs::metadata(dir.path().join("c1/lock"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let err = acquire(dir.path(), "c1", "down").unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "`nvcf-dev up` (pid {}) is working on cluster c1 since ",
                std::process::id()
            )),
            "{err}"
        );
        // Another cluster is another lock.
        acquire(dir.path(), "c2", "up").unwrap();
        drop(held);
        acquire(dir.path(), "c1", "down").expect("released when dropped");
    }

    #[test]
    fn the_message_reads_the_holder_file() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_125);
        assert_eq!(
            held_message("nvcf-dev", "mirror\n77\n1000000\n", now),
            "`nvcf-dev mirror` (pid 77) is working on cluster nvcf-dev since 2m05s ago: one run at a time; wait for it to finish, or stop it (`kill 77`) and run this again"
        );
        assert!(held_message("c", "", now).starts_with("another nvcf-dev run (pid ?) is working"));
    }
}
