//! Profiles: YAML files that adapt Phase 1 to a kind of cluster.
//!
//! A profile sets cluster settings (kind config, storage, registry, timeouts)
//! and per-component value overrides, which are deep-merged onto the guide's
//! values (see [`crate::values::merge`]). `profiles/` and `kind/` are embedded
//! in the binary, so an installed `nvcf-dev` works from any directory; a
//! user's own profile is passed by path.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use include_dir::{include_dir, Dir};
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::model;

static PROFILES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/profiles");
static KIND_CONFIGS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/kind");

pub const DEFAULT_PROFILE: &str = "dev";

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Profile {
    /// Set from the file name, not the file.
    #[serde(skip)]
    pub name: String,
    /// Where the profile came from, for messages: its path, or the built-in file.
    #[serde(skip)]
    pub source: String,
    pub description: String,
    pub cluster: ClusterSettings,
    /// How the Cassandra password is obtained when CASSANDRA_PASSWORD is not set.
    pub cassandra_password: PasswordPolicy,
    /// Per-component chart settings, e.g. a moved version.
    pub charts: BTreeMap<String, ChartSettings>,
    /// Per-component value overrides, merged onto the guide's values.
    pub values: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct ClusterSettings {
    /// A config in kind/ by name (`single-node`), or a path to a kind config.
    pub kind_config: Option<String>,
    pub storage_class: Option<String>,
    pub storage_size: Option<String>,
    pub registry: RegistrySettings,
    /// Helm's `--timeout` for each release, e.g. `15m`.
    pub install_timeout: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegistrySettings {
    /// Container name; its data volume is `<name>-data`. Kind nodes reach it by this name.
    pub name: Option<String>,
    pub image: Option<String>,
    pub port: Option<u16>,
}

impl RegistrySettings {
    /// The local registry container: the flags' image and port win over
    /// these, then the defaults.
    pub fn spec(&self, image: Option<String>, port: Option<u16>) -> crate::runtime::RegistrySpec {
        use crate::runtime::{DEFAULT_REGISTRY_IMAGE, DEFAULT_REGISTRY_PORT, REGISTRY_CONTAINER};
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| REGISTRY_CONTAINER.into());
        crate::runtime::RegistrySpec {
            volume: format!("{name}-data"),
            name,
            image: image
                .or_else(|| self.image.clone())
                .unwrap_or_else(|| DEFAULT_REGISTRY_IMAGE.into()),
            host_port: port.or(self.port).unwrap_or(DEFAULT_REGISTRY_PORT),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChartSettings {
    pub version: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum PasswordPolicy {
    /// Generate one per cluster, once, and keep it (0600) in the state directory.
    Generate,
    /// CASSANDRA_PASSWORD must be given (asked for on a terminal).
    #[default]
    Required,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("unknown profile `{name}`: built-in profiles are {available}; or pass a path to a profile file")]
    NotFound { name: String, available: String },
    #[error("cannot read profile {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `at`: where in the file, e.g. " at line 3, column 2".
    #[error("malformed profile {file}{at}: {message}; fix the YAML and run again")]
    Parse {
        file: String,
        at: String,
        message: String,
    },
    #[error("profile {file} sets {section}.{name}, but `{name}` is not a component: valid components are {valid}")]
    UnknownComponent {
        file: String,
        section: &'static str,
        name: String,
        valid: String,
    },
    #[error("profile {file}: {why}")]
    Invalid { file: String, why: String },
    #[error("kind config `{name}` (from profile {file}) not found: built-in configs are {available}; or give a path")]
    KindConfigNotFound {
        file: String,
        name: String,
        available: String,
    },
}

/// The stems of the YAML files of an embedded directory, sorted.
fn names(dir: &Dir) -> Vec<String> {
    let mut names: Vec<String> = (dir.files())
        .filter(|f| f.path().extension().is_some_and(|e| e == "yaml"))
        .filter_map(|f| Some(f.path().file_stem()?.to_string_lossy().into_owned()))
        .collect();
    names.sort();
    names
}

/// Loads `--profile NAME|PATH`. Anything that looks like a path (has a `/`,
/// ends in .yaml/.yml, or exists) is read from disk; otherwise it names a
/// built-in profile.
pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
    let path = Path::new(name_or_path);
    let looks_like_path = name_or_path.contains('/')
        || name_or_path.ends_with(".yaml")
        || name_or_path.ends_with(".yml")
        || path.is_file();
    if !looks_like_path {
        let file = PROFILES
            .get_file(format!("{name_or_path}.yaml"))
            .ok_or_else(|| ProfileError::NotFound {
                name: name_or_path.to_string(),
                available: names(&PROFILES).join(", "),
            })?;
        let text = file.contents_utf8().unwrap_or_default();
        return parse(
            text,
            name_or_path,
            &format!("profiles/{name_or_path}.yaml (built in)"),
        );
    }
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        path: shown.clone(),
        source,
    })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    parse(&text, &stem.unwrap_or_else(|| name_or_path.into()), &shown)
}

/// Parses and validates a profile's text. `file` names it in errors.
pub fn parse(text: &str, name: &str, file: &str) -> Result<Profile, ProfileError> {
    let mut profile: Profile = serde_yaml_ng::from_str(text).map_err(|e| ProfileError::Parse {
        file: file.to_string(),
        at: (e.location())
            .map(|l| format!(" at line {}, column {}", l.line(), l.column()))
            .unwrap_or_default(),
        // serde_yaml's message repeats the location given by `at`.
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    })?;
    profile.name = name.to_string();
    profile.source = file.to_string();
    let known = |section, name: &String| match model::component(name) {
        Ok(_) => Ok(()),
        Err(model::ModelError::UnknownComponent { valid, .. }) => {
            Err(ProfileError::UnknownComponent {
                file: file.into(),
                section,
                name: name.clone(),
                valid,
            })
        }
    };
    let invalid = |why: String| {
        let file = file.into();
        Err(ProfileError::Invalid { file, why })
    };
    for key in profile.charts.keys() {
        known("charts", key)?;
    }
    for (key, v) in &profile.values {
        known("values", key)?;
        if let Some(path) = non_string_key(v, key) {
            return invalid(format!(
                "values.{path} has a key that is not a string; helm values keys are strings"
            ));
        }
        if !(v.is_mapping() || v.is_null()) {
            let found = crate::values::describe(v);
            return invalid(format!(
                "values.{key} must be a map of helm values, not {found}"
            ));
        }
    }
    match &profile.cluster.install_timeout {
        Some(t) if parse_duration(t).is_none() => invalid(format!(
            "cluster.installTimeout `{t}` is not a duration: use e.g. 90s, 15m, 15m0s or 1h30m"
        )),
        _ => Ok(profile),
    }
}

/// The path to the first map key that is not a string (helm, and JSON
/// output, only know string keys).
fn non_string_key(v: &Value, at: &str) -> Option<String> {
    match v {
        Value::Mapping(m) => m.iter().find_map(|(k, v)| match k.as_str() {
            Some(k) => non_string_key(v, &format!("{at}.{k}")),
            None => Some(at.to_string()),
        }),
        Value::Sequence(s) => s
            .iter()
            .enumerate()
            .find_map(|(i, v)| non_string_key(v, &format!("{at}[{i}]"))),
        _ => None,
    }
}

impl Profile {
    /// The kind config this profile asks for, a built-in one by name
    /// (`kind/<name>.yaml`) or a file: its text, and where it came from.
    pub fn kind_config(&self) -> Result<(String, String), ProfileError> {
        let name = self.cluster.kind_config.as_deref().unwrap_or("single-node");
        if let Some(f) = KIND_CONFIGS.get_file(format!("{name}.yaml")) {
            let text = f.contents_utf8().unwrap_or_default().to_string();
            return Ok((text, format!("kind/{name}.yaml (built in)")));
        }
        let text = std::fs::read_to_string(name).map_err(|_| ProfileError::KindConfigNotFound {
            file: self.source.clone(),
            name: name.to_string(),
            available: names(&KIND_CONFIGS).join(", "),
        })?;
        Ok((text, name.to_string()))
    }

    pub fn install_timeout(&self) -> Option<Duration> {
        self.cluster
            .install_timeout
            .as_deref()
            .and_then(parse_duration)
    }
}

/// A bare number of seconds, or a duration as helm and kubectl write them
/// (`90s`, `15m`, `15m0s`, `1h30m`) or ISO 8601 (`PT15M`), parsed by jiff.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let d: jiff::SignedDuration = s.parse().ok()?;
    Duration::try_from(d).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse() {
        assert_eq!(names(&PROFILES), ["dev", "prod"]);
        for name in names(&PROFILES) {
            let p = load(&name).unwrap();
            assert_eq!(p.name, name);
            p.kind_config().unwrap();
        }
    }

    #[test]
    fn default_registry_matches_the_documented_names() {
        let s = RegistrySettings::default().spec(None, None);
        assert_eq!(s.name, "nvcf-dev-registry");
        assert_eq!(s.image, "registry:3");
        assert_eq!(s.host_port, 5001);
        assert_eq!(s.volume, "nvcf-dev-registry-data");
        assert_eq!(s, crate::runtime::tests::spec());
    }

    #[test]
    fn an_empty_profile_is_all_defaults() {
        for text in ["", "  \n", "# nothing yet\n"] {
            let want = Profile {
                name: "empty".into(),
                source: "empty.yaml".into(),
                ..Profile::default()
            };
            assert_eq!(
                parse(text, "empty", "empty.yaml").unwrap(),
                want,
                "{text:?}"
            );
        }
    }

    #[test]
    fn unknown_builtin_lists_the_available_ones() {
        let err = load("staging").unwrap_err().to_string();
        assert_eq!(err, "unknown profile `staging`: built-in profiles are dev, prod; or pass a path to a profile file");
    }

    #[test]
    fn malformed_yaml_names_the_file_and_line() {
        let err = parse("cluster:\n  storageSize: 1Gi\n values: [\n", "x", "my.yaml").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("malformed profile my.yaml at line 3"),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "one line: {msg}");
    }

    #[test]
    fn an_unknown_setting_names_the_file_line_and_key() {
        let err = parse("cluster:\n  storageSise: 1Gi\n", "x", "my.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("malformed profile my.yaml at line 2"),
            "{err}"
        );
        assert!(err.contains("unknown field `storageSise`"), "{err}");
    }

    #[test]
    fn values_for_an_unknown_component_are_refused() {
        let err = parse("values:\n  vault: {a: 1}\n", "x", "my.yaml")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "profile my.yaml sets values.vault, but `vault` is not a component: valid components are nats, openbao, cassandra");
    }

    #[test]
    fn keys_must_be_strings() {
        let err = parse(
            "values:\n  nats:\n    nats:\n      ? [a, b]\n      : 1\n",
            "x",
            "f",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "profile f: values.nats.nats has a key that is not a string; helm values keys are strings");
    }

    #[test]
    fn values_must_be_maps() {
        let err = parse("values:\n  nats: [1]\n", "x", "f")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("values.nats must be a map of helm values, not a list"),
            "{err}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        // helm's own `--timeout` format, and ISO 8601.
        assert_eq!(parse_duration("15m0s"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("PT15M"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("-5m"), None);
        assert!(parse("cluster: {installTimeout: soon}\n", "x", "f").is_err());
    }

    #[test]
    fn missing_kind_config_lists_the_builtin_ones() {
        let profile = parse("cluster: {kindConfig: three-nodes}\n", "p", "p.yaml").unwrap();
        let err = profile.kind_config().unwrap_err().to_string();
        assert!(
            err.contains("kind config `three-nodes` (from profile p.yaml) not found"),
            "{err}"
        );
        assert!(err.contains("single-node"), "{err}");
    }
}
