//! What a chart says about itself: name, version, and the default values of
//! it and its subcharts, to which `fit` fits the guide's values.
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
    #[error("the chart {what} has no Chart.yaml: is it a helm chart?")]
    Missing { what: String },
    #[error("the chart {what} has an invalid {file}: {detail}")]
    Invalid {
        what: String,
        file: &'static str,
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
    alias: Option<String>,
}

/// A chart's files, relative to the chart's own directory.
type Files = BTreeMap<String, Vec<u8>>;

fn unreadable(what: &str) -> impl Fn(std::io::Error) -> ChartError + '_ {
    move |e| ChartError::Unreadable {
        what: what.to_string(),
        detail: e.to_string(),
    }
}

/// Reads a packaged chart (.tgz), as pulled from a registry.
pub fn read_archive(bytes: &[u8], what: &str) -> Result<ChartInfo, ChartError> {
    from_files(&archive_files(bytes).map_err(unreadable(what))?, what)
}

/// Reads a chart directory or a .tgz on disk (`--chart COMPONENT=PATH`).
pub fn read_path(path: &Path) -> Result<ChartInfo, ChartError> {
    let what = path.display().to_string();
    let files = if path.is_dir() {
        let mut files = Files::new();
        collect_dir(path, "", &mut files).map(|()| files)
    } else {
        std::fs::read(path).and_then(|bytes| archive_files(&bytes))
    };
    from_files(&files.map_err(unreadable(&what))?, &what)
}

fn archive_files(bytes: &[u8]) -> std::io::Result<Files> {
    let mut files = Files::new();
    for entry in tar::Archive::new(flate2::read::GzDecoder::new(bytes)).entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        // Strip the top directory, the chart's name.
        match path.split_once('/') {
            Some((_, inner)) if entry.header().entry_type().is_file() && is_wanted(inner) => {
                let mut data = Vec::new();
                entry.read_to_end(&mut data)?;
                files.insert(inner.to_string(), data);
            }
            _ => {}
        }
    }
    Ok(files)
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
    matches!(path, "Chart.yaml" | "values.yaml")
        || (path.starts_with("charts/")
            && [".tgz", "/Chart.yaml", "/values.yaml"]
                .iter()
                .any(|end| path.ends_with(end)))
}

fn from_files(files: &Files, what: &str) -> Result<ChartInfo, ChartError> {
    let invalid = |file, detail: String| ChartError::Invalid {
        what: what.to_string(),
        file,
        detail,
    };
    let chart_yaml = files.get("Chart.yaml").ok_or_else(|| ChartError::Missing {
        what: what.to_string(),
    })?;
    let chart_yaml =
        String::from_utf8(chart_yaml.clone()).map_err(|e| invalid("Chart.yaml", e.to_string()))?;
    let meta: ChartYaml =
        serde_yaml_ng::from_str(&chart_yaml).map_err(|e| invalid("Chart.yaml", e.to_string()))?;
    let values_yaml = files.get("values.yaml").map_or(&[][..], Vec::as_slice);
    let mut defaults: Value = serde_yaml_ng::from_slice(values_yaml)
        .map_err(|e| invalid("values.yaml", e.to_string()))?;
    // No values.yaml, an empty one, or `null`: no defaults.
    if defaults.is_null() {
        defaults = Value::Mapping(Mapping::new());
    }
    for dep in &meta.dependencies {
        let Some(sub) = subchart(files, &dep.name, what)? else {
            continue;
        };
        let key = dep.alias.as_ref().unwrap_or(&dep.name);
        let mut merged = sub.defaults;
        if let Some(ours) = defaults.get(key.as_str()) {
            crate::values::merge(&mut merged, ours);
        }
        if let Value::Mapping(m) = &mut defaults {
            m.insert(Value::from(key.as_str()), merged);
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
    for (path, bytes) in files
        .iter()
        .filter_map(|(p, b)| Some((p.strip_prefix("charts/")?, b)))
    {
        let sub = if path.ends_with(".tgz") && !path.contains('/') {
            read_archive(bytes, &inner)?
        } else if let Some(dir) = path
            .strip_suffix("/Chart.yaml")
            .filter(|d| !d.contains('/'))
        {
            let prefix = format!("charts/{dir}/");
            let sub_files: Files = files
                .iter()
                .filter_map(|(p, b)| Some((p.strip_prefix(&prefix)?.to_string(), b.clone())))
                .collect();
            from_files(&sub_files, &inner)?
        } else {
            continue;
        };
        if sub.name == name {
            return Ok(Some(sub));
        }
    }
    Ok(None)
}

/// Every leaf path of `values` (maps walked, anything else a leaf) that the
/// chart does not declare, shortest first: `a.b` rather than each key under it.
/// A key under a free-form default (an empty map like `nodeSelector: {}`, a
/// string or null like `affinity: ""`, a list) counts as declared: defaults
/// are no schema, so this errs towards "read".
pub fn undeclared<'v>(values: &'v Value, defaults: &Value) -> Vec<Vec<&'v str>> {
    let (Value::Mapping(vals), Value::Mapping(defs)) = (values, defaults) else {
        return Vec::new();
    };
    let keys = vals.iter().filter_map(|(k, v)| Some((k.as_str()?, v)));
    // An empty default map is free-form: nothing under it is undeclared.
    keys.filter(|_| !defs.is_empty())
        .flat_map(|(key, v)| match defs.get(key) {
            None => vec![vec![key]],
            Some(d) => undeclared(v, d)
                .into_iter()
                .map(|p| [vec![key], p].concat())
                .collect(),
        })
        .collect()
}

/// Where the chart declares a key of the same name as `path`'s last, for a
/// "did you mean" (e.g. `cassandra.maxHeapSize` -> `cassandra.jvm.maxHeapSize`).
pub fn same_name_elsewhere(defaults: &Value, path: &[&str]) -> Option<String> {
    fn find(v: &Value, want: &str, at: &str) -> Option<String> {
        v.as_mapping()?.iter().find_map(|(k, child)| {
            let key = k.as_str()?;
            let here = format!("{at}.{key}");
            if key == want {
                Some(here)
            } else {
                find(child, want, &here)
            }
        })
    }
    let (root, want) = (path.first()?, path.last()?);
    find(defaults.get(*root)?, want, root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    /// Whether the chart reads the dotted `path`, as `undeclared` judges it.
    fn declares(defaults: &Value, path: &[&str]) -> bool {
        let mut v = Value::Null;
        crate::values::set_path(&mut v, path, Value::from(1));
        undeclared(&v, defaults).is_empty()
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
    fn no_empty_or_blank_values_yaml_is_no_defaults() {
        for values in [None, Some(""), Some("  \n"), Some("# none\n"), Some("~")] {
            let mut files = Files::new();
            files.insert("Chart.yaml".into(), b"name: c\nversion: 1.0.0\n".to_vec());
            if let Some(v) = values {
                files.insert("values.yaml".into(), v.as_bytes().to_vec());
            }
            let info = from_files(&files, "test").unwrap();
            assert_eq!(info.defaults, yaml("{}"), "{values:?}");
        }
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
    fn undeclared_keys_are_listed_shortest_first() {
        let defaults = yaml(
            "nats:\n  container: {image: {registry: '', tag: t}}\n  podTemplate: {merge: {}}\n  affinity: ''\n",
        );
        let values = yaml(
            "nats:\n  container: {image: {registry: r, repository: x}}\n  nkeyJob: {image: {registry: r}}\n  podTemplate: {merge: {spec: {nodeSelector: {a: b}}}}\n  affinity: {podAntiAffinity: {}}\n",
        );
        // podTemplate.merge (an empty map) and affinity (a string) are free-form.
        assert_eq!(
            undeclared(&values, &defaults),
            [
                vec!["nats", "container", "image", "repository"],
                vec!["nats", "nkeyJob"]
            ]
        );
    }

    #[test]
    fn a_misplaced_key_finds_its_namesake() {
        let defaults = yaml("cassandra:\n  jvm:\n    maxHeapSize: ''\n    heapNewSize: ''\n");
        assert_eq!(
            same_name_elsewhere(&defaults, &["cassandra", "maxHeapSize"]).as_deref(),
            Some("cassandra.jvm.maxHeapSize")
        );
        assert_eq!(
            same_name_elsewhere(&defaults, &["cassandra", "newHeapSize"]),
            None
        );
    }
}
