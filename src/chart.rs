//! What a chart says about itself: name, version, and the default values of
//! it and its subcharts. The install guide is older than the charts NVIDIA
//! publishes, so values are fitted to the chart actually pulled (see
//! `ops::plan::fit_values`), never to the guide's picture of it.
//!
//! The archive is read directly rather than through `helm show values`: helm
//! shows only the top chart's values.yaml, while a wrapper's subchart (nats,
//! openbao, Bitnami's cassandra) declares most of the keys under its name.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

/// One chart: its own Chart.yaml and its defaults, subcharts merged in.
#[derive(Debug, Clone)]
pub struct ChartInfo {
    pub name: String,
    pub version: String,
    /// Chart.yaml as written, for its `helm.sh/images` annotation.
    pub chart_yaml: String,
    /// values.yaml, with each subchart's values.yaml under its key (the
    /// parent's values win, as helm merges them).
    pub defaults: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot read the chart {what}: {detail}")]
    Unreadable { what: String, detail: String },
    #[error("the chart {what} has no {file}: is it a helm chart?")]
    Missing { what: String, file: String },
    #[error("the chart {what} has an invalid {file}: {detail}")]
    Invalid {
        what: String,
        file: String,
        detail: String,
    },
}

#[derive(Deserialize)]
struct ChartYaml {
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    #[serde(default)]
    alias: Option<String>,
}

/// A chart's files, relative to the chart's own directory.
type Files = BTreeMap<String, Vec<u8>>;

/// Reads a packaged chart (.tgz), as pulled from a registry.
pub fn read_archive(bytes: &[u8], what: &str) -> Result<ChartInfo, ChartError> {
    from_files(&archive_files(bytes, what)?, what)
}

/// Reads a chart directory or a .tgz on disk (`--chart COMPONENT=PATH`).
pub fn read_path(path: &Path) -> Result<ChartInfo, ChartError> {
    let what = path.display().to_string();
    let unreadable = |e: std::io::Error| ChartError::Unreadable {
        what: what.clone(),
        detail: e.to_string(),
    };
    if path.is_dir() {
        let mut files = Files::new();
        collect_dir(path, "", &mut files).map_err(unreadable)?;
        from_files(&files, &what)
    } else {
        read_archive(&std::fs::read(path).map_err(unreadable)?, &what)
    }
}

fn collect_dir(dir: &Path, prefix: &str, files: &mut Files) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type()?.is_dir() {
            // Only subcharts matter; templates are helm's business.
            if name == "charts" || prefix.starts_with("charts/") {
                collect_dir(&entry.path(), &format!("{name}/"), files)?;
            }
        } else if is_wanted(&name) {
            files.insert(name, std::fs::read(entry.path())?);
        }
    }
    Ok(())
}

fn is_wanted(path: &str) -> bool {
    path == "Chart.yaml"
        || path == "values.yaml"
        || (path.starts_with("charts/")
            && (path.ends_with("/Chart.yaml")
                || path.ends_with("/values.yaml")
                || path.ends_with(".tgz")))
}

/// The files of a .tgz, with the top directory (the chart's name) stripped.
fn archive_files(bytes: &[u8], what: &str) -> Result<Files, ChartError> {
    let unreadable = |e: std::io::Error| ChartError::Unreadable {
        what: what.to_string(),
        detail: e.to_string(),
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = Files::new();
    for entry in archive.entries().map_err(unreadable)? {
        let mut entry = entry.map_err(unreadable)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(unreadable)?
            .to_string_lossy()
            .into_owned();
        let Some((_, inner)) = path.split_once('/') else {
            continue;
        };
        if is_wanted(inner) {
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(unreadable)?;
            files.insert(inner.to_string(), data);
        }
    }
    Ok(files)
}

fn from_files(files: &Files, what: &str) -> Result<ChartInfo, ChartError> {
    let text = |file: &str| -> Result<Option<String>, ChartError> {
        files
            .get(file)
            .map(|b| {
                String::from_utf8(b.clone()).map_err(|e| ChartError::Invalid {
                    what: what.to_string(),
                    file: file.to_string(),
                    detail: e.to_string(),
                })
            })
            .transpose()
    };
    let invalid = |file: &str, e: serde_yaml_ng::Error| ChartError::Invalid {
        what: what.to_string(),
        file: file.to_string(),
        detail: e.to_string(),
    };
    let chart_yaml = text("Chart.yaml")?.ok_or_else(|| ChartError::Missing {
        what: what.to_string(),
        file: "Chart.yaml".into(),
    })?;
    let meta: ChartYaml =
        serde_yaml_ng::from_str(&chart_yaml).map_err(|e| invalid("Chart.yaml", e))?;
    let mut defaults = match text("values.yaml")? {
        Some(t) if !t.trim().is_empty() => {
            serde_yaml_ng::from_str(&t).map_err(|e| invalid("values.yaml", e))?
        }
        _ => Value::Mapping(Mapping::new()),
    };
    if defaults.is_null() {
        defaults = Value::Mapping(Mapping::new());
    }
    for dep in &meta.dependencies {
        let Some(sub) = subchart(files, &dep.name, what)? else {
            continue;
        };
        let key = dep.alias.clone().unwrap_or_else(|| dep.name.clone());
        let mut merged = sub.defaults;
        if let Some(ours) = defaults.get(key.as_str()) {
            crate::values::merge(&mut merged, ours);
        }
        if let Value::Mapping(m) = &mut defaults {
            m.insert(Value::String(key), merged);
        }
    }
    Ok(ChartInfo {
        name: meta.name,
        version: meta.version,
        chart_yaml,
        defaults,
    })
}

/// The subchart named `name` in `charts/`, unpacked or packaged.
fn subchart(files: &Files, name: &str, what: &str) -> Result<Option<ChartInfo>, ChartError> {
    let inner = format!("{what} (subchart {name})");
    for (path, bytes) in files.range("charts/".to_string()..) {
        if !path.starts_with("charts/") {
            break;
        }
        let rest = &path["charts/".len()..];
        if rest.ends_with(".tgz") && !rest.contains('/') {
            let sub = read_archive(bytes, &inner)?;
            if sub.name == name {
                return Ok(Some(sub));
            }
        } else if let Some(dir) = rest.strip_suffix("/Chart.yaml") {
            if dir.contains('/') {
                continue;
            }
            let prefix = format!("charts/{dir}/");
            let sub_files: Files = files
                .iter()
                .filter_map(|(p, b)| p.strip_prefix(&prefix).map(|r| (r.to_string(), b.clone())))
                .collect();
            let sub = from_files(&sub_files, &inner)?;
            if sub.name == name {
                return Ok(Some(sub));
            }
        }
    }
    Ok(None)
}

/// Whether a chart reads a key, judged from its defaults: a key is read when
/// the defaults declare it, or when it sits under a default that is free-form
/// (an empty map like `nodeSelector: {}`, a string or null like `affinity: ""`,
/// a list). Defaults are no schema, so this errs towards "read".
pub fn declares(defaults: &Value, path: &[&str]) -> bool {
    let mut cur = defaults;
    for key in path {
        match cur {
            Value::Mapping(m) if m.is_empty() => return true,
            Value::Mapping(m) => match m.get(*key) {
                Some(next) => cur = next,
                None => return false,
            },
            _ => return true,
        }
    }
    true
}

/// Every leaf path of `values` (maps walked, anything else a leaf) that the
/// chart does not declare, shortest first: `a.b` rather than each key under it.
pub fn undeclared(values: &Value, defaults: &Value) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    walk_undeclared(values, defaults, &mut Vec::new(), &mut out);
    out
}

fn walk_undeclared(
    values: &Value,
    defaults: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<Vec<String>>,
) {
    let (Value::Mapping(vals), Value::Mapping(defs)) = (values, defaults) else {
        return;
    };
    if defs.is_empty() {
        return;
    }
    for (k, v) in vals {
        let Some(key) = k.as_str() else { continue };
        path.push(key.to_string());
        match defs.get(key) {
            None => out.push(path.clone()),
            Some(d) => walk_undeclared(v, d, path, out),
        }
        path.pop();
    }
}

/// Removes the keys the chart does not declare from `values`; returns them.
pub fn prune_undeclared(values: &mut Value, defaults: &Value) -> Vec<String> {
    let gone = undeclared(values, defaults);
    for path in &gone {
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        crate::values::remove_path(values, &refs);
    }
    gone.iter().map(|p| p.join(".")).collect()
}

/// Where the chart declares a key of the same name as `path`'s last, for a
/// "did you mean" (e.g. `cassandra.maxHeapSize` -> `cassandra.jvm.maxHeapSize`).
pub fn same_name_elsewhere(defaults: &Value, path: &[String]) -> Option<String> {
    let (want, _) = path.split_last()?;
    let root = path.first()?;
    let mut found = None;
    find_key(
        defaults.get(root.as_str())?,
        want,
        &mut vec![root.clone()],
        &mut found,
    );
    found
}

fn find_key(v: &Value, want: &str, path: &mut Vec<String>, found: &mut Option<String>) {
    let Value::Mapping(m) = v else { return };
    for (k, child) in m {
        let Some(key) = k.as_str() else { continue };
        if found.is_some() {
            return;
        }
        path.push(key.to_string());
        if key == want {
            *found = Some(path.join("."));
        } else {
            find_key(child, want, path, found);
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    /// A packaged chart with one packaged subchart, as `helm package` makes it.
    fn wrapper_tgz() -> Vec<u8> {
        fn add(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, data).unwrap();
        }
        fn gz(tar: Vec<u8>) -> Vec<u8> {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&tar).unwrap();
            e.finish().unwrap()
        }
        let mut sub = tar::Builder::new(Vec::new());
        add(
            &mut sub,
            "cassandra/Chart.yaml",
            b"name: cassandra\nversion: 12.3.5\n",
        );
        add(
            &mut sub,
            "cassandra/values.yaml",
            b"jvm:\n  maxHeapSize: \"\"\n  newHeapSize: \"\"\ncluster:\n  seedCount: 1\nnodeSelector: {}\n",
        );
        let sub = gz(sub.into_inner().unwrap());
        let mut top = tar::Builder::new(Vec::new());
        add(
            &mut top,
            "helm-nvcf-cassandra/Chart.yaml",
            b"name: helm-nvcf-cassandra\nversion: 0.17.0\ndependencies:\n  - name: cassandra\n    version: 12.3.5\n",
        );
        add(
            &mut top,
            "helm-nvcf-cassandra/values.yaml",
            b"cassandra:\n  cluster:\n    seed: 2\n  serviceRolePassword: x\n",
        );
        add(
            &mut top,
            "helm-nvcf-cassandra/templates/a.yaml",
            b"{{ fail }}",
        );
        add(
            &mut top,
            "helm-nvcf-cassandra/charts/cassandra-12.3.5.tgz",
            &sub,
        );
        gz(top.into_inner().unwrap())
    }

    #[test]
    fn an_archive_gives_its_defaults_with_the_subchart_under_its_key() {
        let info = read_archive(&wrapper_tgz(), "test").unwrap();
        assert_eq!(
            (info.name.as_str(), info.version.as_str()),
            ("helm-nvcf-cassandra", "0.17.0")
        );
        let d = &info.defaults;
        assert!(
            declares(d, &["cassandra", "jvm", "newHeapSize"]),
            "from the subchart"
        );
        assert!(
            declares(d, &["cassandra", "cluster", "seed"]),
            "from the wrapper"
        );
        assert!(
            declares(d, &["cassandra", "cluster", "seedCount"]),
            "both, merged"
        );
        assert!(!declares(d, &["cassandra", "maxHeapSize"]));
        assert!(
            declares(d, &["cassandra", "nodeSelector", "any", "thing"]),
            "free-form map"
        );
    }

    #[test]
    fn a_directory_reads_like_its_archive() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("charts/nats/templates")).unwrap();
        std::fs::write(
            root.join("Chart.yaml"),
            "name: helm-nvcf-nats\nversion: 0.8.0\ndependencies:\n  - name: nats\n    alias: messaging\n",
        )
        .unwrap();
        std::fs::write(
            root.join("values.yaml"),
            "messaging:\n  container: {image: {tag: b}}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("charts/nats/Chart.yaml"),
            "name: nats\nversion: 1.3.15\n",
        )
        .unwrap();
        std::fs::write(
            root.join("charts/nats/values.yaml"),
            "container:\n  image:\n    tag: a\n    registry: r\npodTemplate:\n  merge: {}\n",
        )
        .unwrap();
        let info = read_path(root).unwrap();
        let d = &info.defaults;
        assert_eq!(
            d["messaging"]["container"]["image"]["tag"],
            yaml("b"),
            "the parent wins"
        );
        assert_eq!(d["messaging"]["container"]["image"]["registry"], yaml("r"));
        assert!(declares(d, &["messaging", "podTemplate", "merge", "spec"]));
    }

    #[test]
    fn not_a_chart_is_a_clear_error() {
        let err = read_archive(b"not gzip", "oci://x/y:1")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("cannot read the chart oci://x/y:1"),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let err = read_path(dir.path()).unwrap_err().to_string();
        assert!(
            err.ends_with("has no Chart.yaml: is it a helm chart?"),
            "{err}"
        );
    }

    #[test]
    fn undeclared_keys_are_pruned_shortest_first() {
        let defaults = yaml(
            "nats:\n  container: {image: {registry: '', tag: t}}\n  podTemplate: {merge: {}}\n  affinity: ''\n",
        );
        let mut values = yaml(
            "nats:\n  container: {image: {registry: r, repository: x}}\n  nkeyJob: {image: {registry: r}}\n  podTemplate: {merge: {spec: {nodeSelector: {a: b}}}}\n  affinity: {podAntiAffinity: {}}\n",
        );
        let gone = prune_undeclared(&mut values, &defaults);
        assert_eq!(gone, ["nats.container.image.repository", "nats.nkeyJob"]);
        assert!(values["nats"].get("nkeyJob").is_none());
        assert!(
            values["nats"]["podTemplate"]["merge"]["spec"].is_mapping(),
            "free-form kept"
        );
        assert!(
            values["nats"]["affinity"].is_mapping(),
            "a string default is free-form"
        );
    }

    #[test]
    fn a_misplaced_key_finds_its_namesake() {
        let defaults = yaml("cassandra:\n  jvm:\n    maxHeapSize: ''\n    heapNewSize: ''\n");
        let path = vec!["cassandra".to_string(), "maxHeapSize".to_string()];
        assert_eq!(
            same_name_elsewhere(&defaults, &path).as_deref(),
            Some("cassandra.jvm.maxHeapSize")
        );
        let path = vec!["cassandra".to_string(), "newHeapSize".to_string()];
        assert_eq!(same_name_elsewhere(&defaults, &path), None);
    }
}
