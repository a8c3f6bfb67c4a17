//! The images each chart's rendered manifests deploy, remembered between
//! mirrors so a warm mirror does not run `helm template` again. An entry is
//! trusted only when its key (chart archive, values file, helm binary,
//! release, namespace) matches. The file (mode 0600: the key digests values
//! that hold secrets) lives in the cluster's state directory; an unreadable
//! or corrupt file is a miss, never an error, and is replaced on the next write.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::registry::discover::Found;

/// Bumped when the entries' meaning changes, so old files are misses.
const FORMAT: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct File {
    format: u32,
    /// Component name -> its last discovery.
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    key: String,
    images: Vec<Found>,
}

/// The key of a render: one digest of everything besides helm's own defaults
/// that decides `helm template`'s output (the module doc lists them).
pub fn key(helm: &str, release: &str, namespace: &str, chart: &[u8], values: &[u8]) -> String {
    let mut h = Sha256::new();
    for part in [
        helm.as_bytes(),
        release.as_bytes(),
        namespace.as_bytes(),
        &Sha256::digest(chart)[..],
        &Sha256::digest(values)[..],
    ] {
        // Length-prefixed, so no two different inputs run together alike.
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// The cache file of one cluster.
pub struct RenderCache {
    path: PathBuf,
    file: std::sync::Mutex<File>,
}

impl RenderCache {
    /// `<state dir>/<cluster>/render-cache.json`.
    pub fn path_for(state_dir: &Path, cluster: &str) -> PathBuf {
        state_dir.join(cluster).join("render-cache.json")
    }

    /// Loads the file; a missing, unreadable, corrupt or other-format file
    /// starts empty.
    pub fn load(path: PathBuf) -> RenderCache {
        let file = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<File>(&b).ok())
            .filter(|f| f.format == FORMAT)
            .unwrap_or_default();
        RenderCache {
            path,
            file: std::sync::Mutex::new(file),
        }
    }

    /// The images of `component`'s last discovery, if it had this key.
    pub fn get(&self, component: &str, key: &str) -> Option<Vec<Found>> {
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let e = file.entries.get(component).filter(|e| e.key == key)?;
        Some(e.images.clone())
    }

    /// Remembers `component`'s discovery under `key`, replacing the last.
    pub fn put(&self, component: &str, key: String, images: &[Found]) {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.format = FORMAT;
        let images = images.to_vec();
        file.entries
            .insert(component.to_string(), Entry { key, images });
    }

    /// Writes the file (0600, through a rename so a crash leaves the old one
    /// or the new one). Failing to write only costs the next run a render,
    /// so the error is returned for a debug line, not a failure.
    pub fn save(&self) -> std::io::Result<()> {
        let text = {
            let file = self.file.lock().unwrap_or_else(|e| e.into_inner());
            serde_json::to_vec(&*file).map_err(std::io::Error::other)?
        };
        // Not synced: a cache lost in a crash costs one render.
        crate::state::write_private(&self.path, &text, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn inputs(chart: &[u8], values: &[u8]) -> String {
        key("/usr/bin/helm v4.1.4", "nats", "nats-system", chart, values)
    }

    fn found(image: &str) -> Vec<Found> {
        vec![Found {
            image: image.into(),
            source: "StatefulSet/nats container nats".into(),
        }]
    }

    #[test]
    fn a_saved_discovery_is_found_again_under_the_same_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = RenderCache::path_for(dir.path(), "nvcf-dev");
        let key = inputs(b"chart-1", b"a: 1\n");
        let cache = RenderCache::load(path.clone());
        assert!(cache.get("nats", &key).is_none(), "empty at first");
        cache.put("nats", key.clone(), &found("r/nats:2.10"));
        cache.save().unwrap();

        let cache = RenderCache::load(path.clone());
        assert_eq!(cache.get("nats", &key), Some(found("r/nats:2.10")), "hit");
        let chart_changed = inputs(b"chart-2", b"a: 1\n");
        assert!(cache.get("nats", &chart_changed).is_none(), "chart changed");
        let values_changed = inputs(b"chart-1", b"a: 2\n");
        assert!(
            cache.get("nats", &values_changed).is_none(),
            "values changed"
        );
        assert!(cache.get("openbao", &key).is_none(), "other component");

        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn inputs_do_not_run_together() {
        assert_ne!(
            key("h", "ab", "c", b"x", b"y"),
            key("h", "a", "bc", b"x", b"y")
        );
    }

    #[test]
    fn a_corrupt_or_foreign_file_is_a_miss_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = RenderCache::path_for(dir.path(), "c");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let key = inputs(b"chart", b"v");
        for junk in [
            &b"{not json"[..],
            br#"{"format":999,"entries":{}}"#,
            &[0xff, 0x00, 0x13][..],
        ] {
            std::fs::write(&path, junk).unwrap();
            let cache = RenderCache::load(path.clone());
            assert!(cache.get("nats", &key).is_none());
        }
        let cache = RenderCache::load(path.clone());
        cache.put("nats", key.clone(), &found("r/x:1"));
        cache.save().unwrap();
        assert_eq!(
            RenderCache::load(path).get("nats", &key),
            Some(found("r/x:1"))
        );
    }
}
