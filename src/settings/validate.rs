//! Checks of the settings' values: each error names the setting and shows a
//! valid example; a secret's error never repeats the value.

use base64::{engine::general_purpose::STANDARD as BASE64, Engine};

use super::SettingsError;
use crate::secret::Secret;

/// `ok`, or the setting `var` is not valid because `why`.
fn ensure(ok: bool, var: &'static str, why: String) -> Result<(), SettingsError> {
    ok.then_some(()).ok_or(SettingsError::Invalid { var, why })
}

/// Lowercase letters, digits and the characters of `extra`: what kind and
/// registries allow in names.
fn lower_alnum_or(c: char, extra: &str) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(c)
}

/// A registry as images name it: `HOST` or `HOST:PORT` (with `need_port`,
/// `HOST:PORT` only), never a URL or a path, so the error names the setting
/// rather than an image reference built from it.
pub fn validate_registry_host(
    var: &'static str,
    value: &str,
    need_port: bool,
) -> Result<(), SettingsError> {
    let (form, example) = match need_port {
        true => ("HOST:PORT", "localhost:5002"),
        false => ("HOST or HOST:PORT", "nvcr.io"),
    };
    let (host, port) = match value.rsplit_once(':') {
        Some((h, _)) if !h.ends_with(']') && h.contains(':') => (value, None), // bare IPv6
        Some((h, p)) => (h, Some(p)),
        None => (value, None),
    };
    let host_ok = !host.is_empty()
        && (host.starts_with('[') && host.ends_with(']')
            || host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'));
    let why = match port {
        _ if value.contains("://") => {
            "is a URL (plain HTTP is used for loopback registries by itself)".to_string()
        }
        _ if value.contains('/') => "has a path; the repository goes in REPOSITORY".to_string(),
        _ if !host_ok => "is not a host name".to_string(),
        Some(p) if p.parse::<u16>().map_or(true, |n| n == 0) => {
            format!("has no valid port (`{p}`)")
        }
        None if need_port => "has no port".to_string(),
        _ => return Ok(()),
    };
    Err(SettingsError::Invalid {
        var,
        why: format!("`{value}` {why}: give {form}, e.g. {example}"),
    })
}

/// A cluster name as kind takes it: lowercase letters, digits, `-` and `.`,
/// starting with a letter or digit (so never `..`), at most 50 characters
/// (`<name>-control-plane` must stay a valid container and host name). It
/// names a directory of the state directory: checked before anything is written.
pub fn validate_cluster_name(name: &str) -> Result<(), SettingsError> {
    let ok = (1..=50).contains(&name.len())
        && name.starts_with(|c| lower_alnum_or(c, ""))
        && name.chars().all(|c| lower_alnum_or(c, "-."));
    let why = format!("`{name}` is not a kind cluster name: use lowercase letters, digits, `-` and `.` (starting with a letter or digit, at most 50), e.g. nvcf-dev");
    ensure(ok, "--cluster", why)
}

pub(super) fn validate_repository(r: &str) -> Result<String, SettingsError> {
    let r = r.trim().trim_matches('/');
    let segment_ok = |seg: &str| !seg.is_empty() && seg.chars().all(|c| lower_alnum_or(c, "._-"));
    let why = format!("`{r}` is not a registry path: use lowercase org/team, e.g. my-org/my-team");
    ensure(r.split('/').all(segment_ok), "REPOSITORY", why)?;
    Ok(r.to_string())
}

/// A Kubernetes quantity such as 1Gi or 500Mi.
pub(super) fn validate_quantity(q: &str) -> Result<(), SettingsError> {
    let number = q.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &q[number.len()..];
    let ok = !number.is_empty()
        && number.parse::<f64>().is_ok()
        && ["", "Ki", "Mi", "Gi", "Ti", "Pi", "k", "M", "G", "T", "P"].contains(&unit);
    let why = format!("`{q}` is not a Kubernetes quantity: use e.g. 1Gi or 10Gi");
    ensure(ok, "STORAGE_SIZE", why)
}

/// REGISTRY_CREDENTIAL_B64 must decode to `user:password`. The error never
/// repeats the value.
pub(super) fn validate_credential(b64: &str) -> Result<Secret, SettingsError> {
    let decoded = BASE64
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let user_password = decoded.as_ref().and_then(|s| s.split_once(':'));
    let ok = user_password.is_some_and(|(u, p)| !u.is_empty() && !p.is_empty());
    let why = "it must be the base64 of `$oauthtoken:<NGC_API_KEY>`: unset it to have nvcf-dev make it from NGC_API_KEY";
    ensure(ok, "REGISTRY_CREDENTIAL_B64", why.into())?;
    Ok(Secret::new(b64.trim()))
}
