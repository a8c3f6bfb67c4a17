//! Profiles: YAML files that adapt Phase 1 to a kind of cluster.
//!
//! A profile sets cluster settings (kind config, storage, registry, timeouts)
//! and per-component value overrides, which are deep-merged onto the guide's
//! values (see [`crate::values::merge`]). `profiles/` and `kind/` are embedded
//! in the binary, so an installed `nvcf-dev` works from any directory; a
//! user's own profile is passed by path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use include_dir::{include_dir, Dir};
use serde::Deserialize;
use serde_yaml_ng::Value;

use crate::model;

static PROFILES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/profiles");
static KIND_CONFIGS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/kind");

pub const DEFAULT_PROFILE: &str = "dev";

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Profile {
    /// Set from the file name, not the file.
    #[serde(skip)]
    pub name: String,
    /// Where the profile came from: `embedded:dev` or a path.
    #[serde(skip)]
    pub source: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub cluster: ClusterSettings,
    /// How the Cassandra password is obtained when CASSANDRA_PASSWORD is not set.
    #[serde(default)]
    pub cassandra_password: PasswordPolicy,
    /// Per-component chart settings, e.g. a moved version.
    #[serde(default)]
    pub charts: BTreeMap<String, ChartSettings>,
    /// Per-component value overrides, merged onto the guide's values.
    #[serde(default)]
    pub values: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterSettings {
    /// A config in kind/ by name (`single-node`), or a path to a kind config.
    pub kind_config: Option<String>,
    pub storage_class: Option<String>,
    pub storage_size: Option<String>,
    #[serde(default)]
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
    #[error("malformed profile {file}{}: {message}; fix the YAML and run again", location(.line, .column))]
    Parse {
        file: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    #[error("profile {file} sets {section}.{name}, but `{name}` is not a component: valid components are {valid}")]
    UnknownComponent {
        file: String,
        section: &'static str,
        name: String,
        valid: String,
    },
    #[error("profile {file}: values.{component} must be a map of helm values, not {found}")]
    ValuesNotAMap {
        file: String,
        component: String,
        found: &'static str,
    },
    #[error("profile {file}: values.{path} has a key that is not a string; helm values keys are strings")]
    NonStringKey { file: String, path: String },
    #[error("profile {file}: cluster.installTimeout `{value}` is not a duration: use e.g. 90s, 15m, 15m0s or 1h30m")]
    BadDuration { file: String, value: String },
    #[error("kind config `{name}` (from profile {file}) not found: built-in configs are {available}; or give a path")]
    KindConfigNotFound {
        file: String,
        name: String,
        available: String,
    },
}

fn location(line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

/// The names of the built-in profiles.
pub fn builtin_names() -> Vec<String> {
    let mut names: Vec<String> = PROFILES
        .files()
        .filter_map(|f| {
            let p = f.path();
            if p.extension()? == "yaml" {
                Some(p.file_stem()?.to_string_lossy().into_owned())
            } else {
                None
            }
        })
        .collect();
    names.sort();
    names
}

/// Loads `--profile NAME|PATH`. Anything that looks like a path (has a `/`,
/// ends in .yaml/.yml, or exists) is read from disk; otherwise it names a
/// built-in profile.
pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
    let looks_like_path = name_or_path.contains('/')
        || name_or_path.ends_with(".yaml")
        || name_or_path.ends_with(".yml")
        || Path::new(name_or_path).is_file();
    if looks_like_path {
        let path = PathBuf::from(name_or_path);
        let text = std::fs::read_to_string(&path).map_err(|source| ProfileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| name_or_path.to_string());
        parse(&text, &stem, &path.display().to_string())
    } else {
        let file = PROFILES
            .get_file(format!("{name_or_path}.yaml"))
            .ok_or_else(|| ProfileError::NotFound {
                name: name_or_path.to_string(),
                available: builtin_names().join(", "),
            })?;
        let text = file.contents_utf8().unwrap_or_default();
        parse(
            text,
            name_or_path,
            &format!("profiles/{name_or_path}.yaml (built in)"),
        )
    }
}

/// Parses and validates a profile's text. `file` names it in errors.
pub fn parse(text: &str, name: &str, file: &str) -> Result<Profile, ProfileError> {
    let mut profile: Profile = if text.trim().is_empty() {
        Profile::default()
    } else {
        serde_yaml_ng::from_str(text).map_err(|e| {
            let loc = e.location();
            ProfileError::Parse {
                file: file.to_string(),
                line: loc.as_ref().map(|l| l.line()),
                column: loc.as_ref().map(|l| l.column()),
                message: strip_location(&e.to_string()),
            }
        })?
    };
    profile.name = name.to_string();
    profile.source = file.to_string();
    let valid = model::component_names().join(", ");
    for key in profile.charts.keys() {
        if model::component(key).is_err() {
            return Err(ProfileError::UnknownComponent {
                file: file.into(),
                section: "charts",
                name: key.clone(),
                valid,
            });
        }
    }
    for (key, v) in &profile.values {
        if model::component(key).is_err() {
            return Err(ProfileError::UnknownComponent {
                file: file.into(),
                section: "values",
                name: key.clone(),
                valid,
            });
        }
        if let Some(path) = non_string_key(v, key) {
            return Err(ProfileError::NonStringKey {
                file: file.into(),
                path,
            });
        }
        if !(v.is_mapping() || v.is_null()) {
            return Err(ProfileError::ValuesNotAMap {
                file: file.into(),
                component: key.clone(),
                found: crate::values::describe(v),
            });
        }
    }
    if let Some(t) = &profile.cluster.install_timeout {
        if parse_duration(t).is_none() {
            return Err(ProfileError::BadDuration {
                file: file.into(),
                value: t.clone(),
            });
        }
    }
    Ok(profile)
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

/// serde_yaml's message repeats the location we print ourselves.
fn strip_location(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

impl Profile {
    /// The kind config this profile asks for: its text, and where it came from.
    pub fn kind_config(&self) -> Result<(String, String), ProfileError> {
        let name = self
            .cluster
            .kind_config
            .clone()
            .unwrap_or_else(|| "single-node".to_string());
        kind_config(&name, &self.source)
    }

    pub fn install_timeout(&self) -> Option<Duration> {
        self.cluster
            .install_timeout
            .as_deref()
            .and_then(parse_duration)
    }
}

/// A kind config by built-in name (`kind/<name>.yaml`) or by path.
pub fn kind_config(name: &str, profile_file: &str) -> Result<(String, String), ProfileError> {
    if let Some(f) = KIND_CONFIGS.get_file(format!("{name}.yaml")) {
        return Ok((
            f.contents_utf8().unwrap_or_default().to_string(),
            format!("kind/{name}.yaml (built in)"),
        ));
    }
    match std::fs::read_to_string(name) {
        Ok(text) => Ok((text, name.to_string())),
        Err(_) => Err(ProfileError::KindConfigNotFound {
            file: profile_file.to_string(),
            name: name.to_string(),
            available: KIND_CONFIGS
                .files()
                .filter_map(|f| Some(f.path().file_stem()?.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", "),
        }),
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
        assert_eq!(builtin_names(), ["dev", "prod"]);
        for name in builtin_names() {
            let p = load(&name).unwrap();
            assert_eq!(p.name, name);
            p.kind_config().unwrap();
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
        let err = kind_config("three-nodes", "p.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("kind config `three-nodes` (from profile p.yaml) not found"),
            "{err}"
        );
        assert!(err.contains("single-node"), "{err}");
    }
}
