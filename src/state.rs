//! Local state that must survive between runs: only the generated Cassandra
//! password, kept per cluster under the XDG state directory in a 0600 file.
//! Everything else is found from the cluster and the containers themselves.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rand::distr::{Alphanumeric, SampleString};

use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("no state directory: set XDG_STATE_HOME or HOME")]
    NoStateDir,
    #[error("cannot {action} {path}: {source}; check the directory's permissions")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is readable by other users (mode {mode:o}): run `chmod 600 {path}`")]
    Exposed { path: String, mode: u32 },
}

/// `$XDG_STATE_HOME/nvcf-dev` (or `~/.local/state/nvcf-dev`).
pub fn state_dir() -> Result<PathBuf, StateError> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
        .ok_or(StateError::NoStateDir)?;
    Ok(base.join("nvcf-dev"))
}

pub fn cassandra_password_path(dir: &Path, cluster: &str) -> PathBuf {
    dir.join(cluster).join("cassandra-password")
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StateError {
    let path = path.display().to_string();
    move |source| StateError::Io {
        action,
        path,
        source,
    }
}

/// Reads the cluster's generated password, if one was generated.
pub fn read_password(path: &Path) -> Result<Option<Secret>, StateError> {
    let mode = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        meta => meta.map_err(io_error("read", path))?.permissions().mode() & 0o777,
    };
    if mode & 0o077 != 0 {
        let path = path.display().to_string();
        return Err(StateError::Exposed { path, mode });
    }
    let text = std::fs::read_to_string(path).map_err(io_error("read", path))?;
    let pw = text.trim();
    Ok((!pw.is_empty()).then(|| Secret::new(pw)))
}

/// The cluster's password: the one generated earlier, or a new one written
/// with mode 0600 (created that way, never chmod-ed after the fact).
pub fn ensure_password(path: &Path) -> Result<Secret, StateError> {
    if let Some(pw) = read_password(path)? {
        return Ok(pw);
    }
    let pw = Alphanumeric.sample_string(&mut rand::rng(), 24);
    // Synced: a crash must never leave the cluster's password unknown.
    write_private(path, pw.as_bytes(), true).map_err(io_error("write", path))?;
    Ok(Secret::new(pw))
}

/// Writes `bytes` to `path` readable by the user alone: the directory made
/// 0700, the file created 0600 by tempfile (never chmod-ed after the fact)
/// and renamed into place, so a crash leaves the old file or the new one;
/// with `sync`, on disk before the rename.
pub fn write_private(path: &Path, bytes: &[u8], sync: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    if sync {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

/// Forgets the generated password, when the cluster it belongs to is deleted.
pub fn remove_password(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error("remove", path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_kept_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = cassandra_password_path(dir.path(), "nvcf-dev");
        assert!(read_password(&path).unwrap().is_none());
        let first = ensure_password(&path).unwrap();
        assert_eq!(first.expose().len(), 24);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = ensure_password(&path).unwrap();
        assert_eq!(first, again);
        remove_password(&path).unwrap();
        assert!(read_password(&path).unwrap().is_none());
    }

    #[test]
    fn a_readable_password_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "abc").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_password(&path).unwrap_err().to_string();
        assert!(err.contains("readable by other users (mode 644)"), "{err}");
        assert!(!err.contains("abc"));
    }
}
