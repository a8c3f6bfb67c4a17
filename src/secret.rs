//! A string that must never be printed.
//!
//! `Debug`, `Display` and `Serialize` all print `<redacted>`, so a secret that
//! slips into a log line, an error or `--output json` stays hidden. The value is
//! reachable only through [`Secret::expose`], which is greppable.

use std::fmt;

/// What every output shows in place of a secret.
pub const REDACTED: &str = "<redacted>";

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself. Call only where it is written to a 0600 file or sent
    /// to a registry, never where it could be printed.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

/// The secrets this process holds, so that every line it prints can be
/// scrubbed, even text from helm or a pod log that echoes one back.
static KNOWN: std::sync::Mutex<Vec<Secret>> = std::sync::Mutex::new(Vec::new());

/// Remembers `secret` for [`scrub`].
pub fn register(secret: &Secret) {
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if !known.contains(secret) {
        known.push(secret.clone());
    }
}

/// `text` with every registered secret replaced by `<redacted>`.
pub fn scrub(text: &str) -> String {
    let known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    redact_text(text, &known.iter().collect::<Vec<_>>())
}

/// Replaces every occurrence of any of `secrets` in `text` with `<redacted>`.
/// Used on text that came from elsewhere (helm's output, a values tree) and may
/// echo a secret back.
pub fn redact_text(text: &str, secrets: &[&Secret]) -> String {
    // Very short values would redact ordinary words; no real secret is that short.
    let long_enough = secrets.iter().map(|s| s.expose()).filter(|s| s.len() >= 4);
    long_enough.fold(text.to_string(), |out, s| out.replace(s, REDACTED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_hides_the_value() {
        let s = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(
            format!("{:#?}", Some(&s)),
            format!("Some(\n    {REDACTED},\n)")
        );
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"<redacted>\"");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn registered_secrets_are_scrubbed_from_any_text() {
        register(&Secret::new("scrub-me-1234"));
        assert_eq!(
            scrub("helm said: value scrub-me-1234 is bad"),
            "helm said: value <redacted> is bad"
        );
        assert_eq!(scrub("nothing here"), "nothing here");
    }

    #[test]
    fn redact_text_replaces_every_occurrence() {
        let a = Secret::new("abcd1234");
        let b = Secret::new("zz");
        let out = redact_text("x abcd1234 y abcd1234 zz", &[&a, &b]);
        assert_eq!(out, "x <redacted> y <redacted> zz");
    }
}
