//! Which images a chart needs, so the mirror can copy them before helm runs.
//!
//! Three sources, because no one of them is complete:
//! - the rendered manifests (`helm template`, hook Jobs included): every image
//!   some pod will pull;
//! - the values: images a chart only hands to something at run time, like the
//!   OpenBao injector's `agentImage`, which is in no pod template;
//! - the `helm.sh/images` annotation of Chart.yaml, where a chart lists images
//!   it uses outside its templates.
//!
//! All functions are pure: the caller runs helm and reads the files.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_yaml_ng::Value;

/// An image reference and where it was found, e.g.
/// "StatefulSet/openbao-server container auto-unseal-sidecar".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, Deserialize)]
pub struct Found {
    pub image: String,
    pub source: String,
}

/// One image to mirror, with every place that asked for it (for `--why`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredImage {
    /// The reference as written (the first spelling, in sort order, when
    /// several spellings name the same image).
    pub image: String,
    /// Sorted, without duplicates.
    pub sources: Vec<String>,
}

/// Images declared in values, split into usable references and entries whose
/// tag nothing decides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValuesImages {
    pub found: Vec<Found>,
    pub unresolved: Vec<Unresolved>,
}

/// A values image map that cannot be turned into a reference: a guess would
/// mirror an image that may not exist, so it is reported instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// Dotted path in the values, e.g. `openbao.injector.agentImage`.
    pub path: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the rendered manifests are not valid YAML at document {index} (counting from 1): {message}; run `helm template` by hand to see the chart's output")]
pub struct DiscoverError {
    pub index: usize,
    pub message: String,
}

/// Images of every pod template in `helm template` output: containers,
/// initContainers and ephemeralContainers of Pods, workloads and Jobs
/// (helm renders hook Jobs too, which `helm get manifest` would miss).
pub fn images_in_manifests(rendered: &str) -> Result<Vec<Found>, DiscoverError> {
    let mut out = Vec::new();
    for (i, doc) in serde_yaml_ng::Deserializer::from_str(rendered).enumerate() {
        let value = Value::deserialize(doc).map_err(|e| DiscoverError {
            index: i + 1,
            message: e.to_string(),
        })?;
        collect_object(&value, &mut out);
    }
    Ok(out)
}

/// The value at `path` (mapping keys) under `v`.
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, key| v.get(key))
}

/// The elements of the list at `key` of `v`, if there is one.
fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key)
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
}

fn collect_object(obj: &Value, out: &mut Vec<Found>) {
    let Some(kind) = obj.get("kind").and_then(Value::as_str) else {
        return;
    };
    if kind == "List" {
        for item in items(obj, "items") {
            collect_object(item, out);
        }
        return;
    }
    let pod_spec_path: &[&str] = match kind {
        "Pod" => &["spec"],
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        "PodTemplate" => &["template", "spec"],
        _ => return,
    };
    let Some(pod_spec) = at(obj, pod_spec_path) else {
        return;
    };
    let name = at(obj, &["metadata", "name"])
        .and_then(Value::as_str)
        .unwrap_or("?");
    // Hooks are worth naming: they run once, so a missing image shows late.
    let hook = at(obj, &["metadata", "annotations", "helm.sh/hook"])
        .and_then(Value::as_str)
        .map(|h| format!(" ({h} hook)"))
        .unwrap_or_default();
    for (field, label) in [
        ("initContainers", "initContainer"),
        ("containers", "container"),
        ("ephemeralContainers", "ephemeralContainer"),
    ] {
        for c in items(pod_spec, field) {
            let Some(image) = c.get("image").and_then(Value::as_str) else {
                continue;
            };
            let cname = c.get("name").and_then(Value::as_str).unwrap_or("?");
            out.push(Found {
                image: image.trim().to_string(),
                source: format!("{kind}/{name} {label} {cname}{hook}"),
            });
        }
    }
}

/// Images declared in `values` that no pod template in `in_manifests` uses,
/// such as the OpenBao injector's `agentImage`. `values` must be the chart's
/// defaults with the user's values merged over them, as helm does: the
/// guide's files give only registry and repository, the tag is the chart's.
/// An image is a map with `registry` and `repository` (or `repository` under
/// a key ending in "image"), tagged by `tag` or `digest`, or a string under
/// such a key.
pub fn images_in_values(values: &Value, in_manifests: &[Found]) -> ValuesImages {
    let mut all = ValuesImages::default();
    walk_values(values, "", None, &mut all);
    let used: BTreeSet<String> = in_manifests.iter().map(|f| normalize(&f.image)).collect();
    all.found.retain(|f| !used.contains(&normalize(&f.image)));
    all
}

fn is_image_key(key: Option<&str>) -> bool {
    key.is_some_and(|k| k.to_ascii_lowercase().ends_with("image"))
}

fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn walk_values(v: &Value, path: &str, key: Option<&str>, out: &mut ValuesImages) {
    match v {
        Value::Mapping(m) => {
            // A switched-off feature (`metrics: {enabled: false, image: ...}`)
            // pulls nothing: mirroring its images would copy what no pod uses.
            if m.get("enabled") == Some(&Value::Bool(false)) {
                return;
            }
            let repository = scalar(m.get("repository"));
            let registry = m.get("registry");
            if let Some(repo) = repository.filter(|_| registry.is_some() || is_image_key(key)) {
                image_map(m, &repo, path, out);
                return;
            }
            for (k, child) in m {
                let Some(k) = k.as_str() else { continue };
                let child_path = match path {
                    "" => k.to_string(),
                    _ => format!("{path}.{k}"),
                };
                walk_values(child, &child_path, Some(k), out);
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                walk_values(child, &format!("{path}[{i}]"), None, out);
            }
        }
        Value::String(s) if is_image_key(key) => {
            let s = s.trim();
            // Empty, templated ("{{ ... }}") or prose values are not references.
            if !s.is_empty() && !s.contains(char::is_whitespace) && !s.contains("{{") {
                out.found.push(Found {
                    image: s.to_string(),
                    source: format!("values {path}"),
                });
            }
        }
        _ => {}
    }
}

fn image_map(m: &serde_yaml_ng::Mapping, repo: &str, path: &str, out: &mut ValuesImages) {
    let [registry, tag, digest] = ["registry", "tag", "digest"].map(|k| scalar(m.get(k)));
    if tag.is_none() && digest.is_none() {
        out.unresolved.push(Unresolved {
            path: path.to_string(),
            reason: "no tag or digest in the values or the chart's defaults".into(),
        });
        return;
    }
    let registry = registry.map_or(String::new(), |r| format!("{}/", r.trim_end_matches('/')));
    let tag = tag.map(|t| format!(":{t}")).unwrap_or_default();
    let digest = digest.map(|d| format!("@{d}")).unwrap_or_default();
    out.found.push(Found {
        image: format!("{registry}{repo}{tag}{digest}"),
        source: format!("values {path}"),
    });
}

/// Images listed in Chart.yaml's `helm.sh/images` annotation (Artifact Hub
/// style: a YAML list of `{name, image}`); `artifacthub.io/images` too, since
/// that is where most published charts put the same list. A malformed list is
/// logged and skipped: it is a hint, not the chart's contract.
pub fn images_in_chart_annotation(chart_yaml: &str) -> Vec<Found> {
    let Ok(chart) = serde_yaml_ng::from_str::<Value>(chart_yaml) else {
        tracing::warn!("Chart.yaml is not valid YAML; ignoring its image annotations");
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in ["helm.sh/images", "artifacthub.io/images"] {
        let Some(text) = at(&chart, &["annotations", key]).and_then(Value::as_str) else {
            continue;
        };
        let list = match serde_yaml_ng::from_str::<Value>(text) {
            Ok(Value::Sequence(list)) => list,
            _ => {
                tracing::warn!("Chart.yaml annotation {key} is not a YAML list; ignoring it");
                continue;
            }
        };
        for entry in &list {
            let Some(image) = entry.get("image").and_then(Value::as_str) else {
                continue;
            };
            let name = entry
                .get("name")
                .and_then(Value::as_str)
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            out.push(Found {
                image: image.trim().to_string(),
                source: format!("Chart.yaml annotation {key}{name}"),
            });
        }
    }
    out
}

/// Deduplicates by normalised reference, keeping every source, sorted by
/// normalised reference so plans and `--why` output are stable.
pub fn merge_found(found: impl IntoIterator<Item = Found>) -> Vec<DiscoveredImage> {
    let mut by: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for f in found {
        let (spellings, sources) = by.entry(normalize(&f.image)).or_default();
        spellings.insert(f.image);
        sources.insert(f.source);
    }
    let merged = by
        .into_values()
        .map(|(spellings, sources)| DiscoveredImage {
            image: spellings.into_iter().next().unwrap_or_default(),
            sources: sources.into_iter().collect(),
        });
    merged.collect()
}

/// The reference as docker would pull it, for comparison only:
/// `nats:2.10` -> `docker.io/library/nats:2.10`, `nats` ->
/// `docker.io/library/nats:latest`. The first path component is a registry
/// only if it has a `.` or `:` or is `localhost`, as in docker's
/// `ParseNormalizedNamed`.
pub fn normalize(reference: &str) -> String {
    let (name, tag, digest) = super::reference::split(reference.trim());
    let (domain, path) = super::reference::split_domain(name);
    let tag = match (tag, digest) {
        (Some(t), _) => format!(":{t}"),
        (None, None) => ":latest".to_string(),
        (None, Some(_)) => String::new(),
    };
    let digest = digest.map(|d| format!("@{d}")).unwrap_or_default();
    format!("{domain}/{path}{tag}{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_like_docker() {
        assert_eq!(normalize("nats:2.10"), "docker.io/library/nats:2.10");
        assert_eq!(normalize("nats"), "docker.io/library/nats:latest");
        assert_eq!(
            normalize("bitnami/cassandra:5"),
            "docker.io/bitnami/cassandra:5"
        );
        assert_eq!(
            normalize("index.docker.io/library/nats:2.10"),
            "docker.io/library/nats:2.10"
        );
        assert_eq!(normalize("nvcr.io/a/b:1"), "nvcr.io/a/b:1");
        assert_eq!(normalize("localhost:5001/a/b"), "localhost:5001/a/b:latest");
        assert_eq!(normalize("localhost/b:1"), "localhost/b:1");
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(
            normalize(&format!("nats@{d}")),
            format!("docker.io/library/nats@{d}")
        );
        assert_eq!(
            normalize(&format!("nvcr.io/a:1@{d}")),
            format!("nvcr.io/a:1@{d}")
        );
    }

    #[test]
    fn cronjob_init_and_ephemeral_containers() {
        let y = r#"
# Source: x/templates/cron.yaml
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        spec:
          initContainers: [{name: wait, image: "busybox:1.36"}]
          containers: [{name: backup, image: nvcr.io/a/backup:1}]
---
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  containers: [{name: main, image: nvcr.io/a/main:1}]
  ephemeralContainers: [{name: dbg, image: nvcr.io/a/debug:2}]
---
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {image: "not/an:image"}
"#;
        let found = images_in_manifests(y).unwrap();
        assert_eq!(
            found,
            [
                Found {
                    image: "busybox:1.36".into(),
                    source: "CronJob/backup initContainer wait".into()
                },
                Found {
                    image: "nvcr.io/a/backup:1".into(),
                    source: "CronJob/backup container backup".into()
                },
                Found {
                    image: "nvcr.io/a/main:1".into(),
                    source: "Pod/debug container main".into()
                },
                Found {
                    image: "nvcr.io/a/debug:2".into(),
                    source: "Pod/debug ephemeralContainer dbg".into()
                },
            ]
        );
    }

    #[test]
    fn hook_jobs_are_named_as_hooks() {
        let y = "kind: Job\nmetadata:\n  name: m\n  annotations: {helm.sh/hook: post-install}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: a/b:1}]\n";
        let found = images_in_manifests(y).unwrap();
        assert_eq!(found[0].source, "Job/m container c (post-install hook)");
    }

    #[test]
    fn malformed_yaml_names_the_document() {
        let y = "kind: ConfigMap\nmetadata: {name: a}\n---\nkind: Pod\nspec: [unclosed\n";
        let err = images_in_manifests(y).unwrap_err();
        assert_eq!(err.index, 2, "{err}");
        assert!(err.to_string().contains("document 2"), "{err}");
    }

    #[test]
    fn values_images_not_in_pod_templates() {
        let v: Value = serde_yaml_ng::from_str(
            r#"
openbao:
  injector:
    image: {registry: nvcr.io, repository: o/oss-vault-k8s, tag: 1.4.2}
    agentImage: {registry: nvcr.io, repository: o/nvcf-openbao, tag: 2.2.2-nv-1}
  server:
    extraContainers:
      - name: side
        image: "nvcr.io/o/side:1"
  exporter:
    image: {repository: bitnami/exporter, tag: 2.3}
    digested:
      registry: nvcr.io
      repository: o/d
      digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  untagged:
    image: {registry: nvcr.io, repository: o/untagged}
  emptyTag:
    image: {registry: nvcr.io, repository: o/e, tag: ""}
  templated:
    image: "{{ .Values.x }}"
  description: "an image of a cat"
"#,
        )
        .unwrap();
        let manifests = [
            Found {
                image: "nvcr.io/o/oss-vault-k8s:1.4.2".into(),
                source: "Deployment/x container y".into(),
            },
            Found {
                image: "nvcr.io/o/side:1".into(),
                source: "StatefulSet/s container side".into(),
            },
        ];
        let got = images_in_values(&v, &manifests);
        assert_eq!(
            got.found,
            [
                Found {
                    image: "nvcr.io/o/nvcf-openbao:2.2.2-nv-1".into(),
                    source: "values openbao.injector.agentImage".into()
                },
                Found {
                    image: "bitnami/exporter:2.3".into(),
                    source: "values openbao.exporter.image".into()
                },
                Found {
                    image: "nvcr.io/o/d@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
                    source: "values openbao.exporter.digested".into()
                },
            ]
        );
        assert_eq!(
            got.unresolved
                .iter()
                .map(|u| u.path.as_str())
                .collect::<Vec<_>>(),
            ["openbao.untagged.image", "openbao.emptyTag.image"]
        );
    }

    #[test]
    fn chart_annotation_images() {
        let chart = "apiVersion: v2\nname: c\nversion: 1.0.0\nannotations:\n  helm.sh/images: |\n    - name: exporter\n      image: nvcr.io/o/exporter:2.3.8\n    - name: nameless-entry-without-image\n  artifacthub.io/images: |\n    - image: docker.io/o/x:1\n";
        assert_eq!(
            images_in_chart_annotation(chart),
            [
                Found {
                    image: "nvcr.io/o/exporter:2.3.8".into(),
                    source: "Chart.yaml annotation helm.sh/images (exporter)".into()
                },
                Found {
                    image: "docker.io/o/x:1".into(),
                    source: "Chart.yaml annotation artifacthub.io/images".into()
                },
            ]
        );
        assert!(images_in_chart_annotation("apiVersion: v2\nname: c\n").is_empty());
        assert!(
            images_in_chart_annotation("annotations:\n  helm.sh/images: 'not: a list'\n")
                .is_empty()
        );
    }

    #[test]
    fn merge_dedups_by_normalized_reference() {
        let f = |i: &str, s: &str| Found {
            image: i.into(),
            source: s.into(),
        };
        let merged = merge_found([
            f("nats:2.10", "b"),
            f("docker.io/library/nats:2.10", "a"),
            f("nats:2.10", "b"),
            f("nvcr.io/o/x:1", "c"),
        ]);
        assert_eq!(
            merged,
            [
                DiscoveredImage {
                    image: "docker.io/library/nats:2.10".into(),
                    sources: vec!["a".into(), "b".into()],
                },
                DiscoveredImage {
                    image: "nvcr.io/o/x:1".into(),
                    sources: vec!["c".into()],
                },
            ]
        );
    }

    #[test]
    fn switched_off_features_need_no_images() {
        // Bitnami's cassandra: metrics and volumePermissions are off by
        // default and render nothing; the injector's agent image is handed
        // out at run time by an injector that is on ("-" follows global).
        let v: Value = serde_yaml_ng::from_str(
            r#"
metrics:
  enabled: false
  image: {registry: docker.io, repository: bitnami/cassandra-exporter, tag: 2.3.8}
volumePermissions:
  enabled: false
  image: {registry: docker.io, repository: bitnami/os-shell}
injector:
  enabled: "-"
  agentImage: {registry: nvcr.io, repository: o/nvcf-openbao, tag: 2.5.5}
exporter:
  enabled: true
  image: {registry: nvcr.io, repository: o/exporter, tag: "1"}
"#,
        )
        .unwrap();
        let got = images_in_values(&v, &[]);
        assert_eq!(
            got.found
                .iter()
                .map(|f| f.source.as_str())
                .collect::<Vec<_>>(),
            ["values injector.agentImage", "values exporter.image"]
        );
        assert!(got.unresolved.is_empty(), "{:?}", got.unresolved);
    }

    #[test]
    fn values_without_images_yield_nothing() {
        // A values tree with no images yields nothing and no unresolved entries.
        let v: Value = serde_yaml_ng::from_str("a: {b: 1, c: [x, y]}").unwrap();
        let got = images_in_values(&v, &[]);
        assert!(got.found.is_empty() && got.unresolved.is_empty());
    }
}
