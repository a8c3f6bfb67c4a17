//! Image references (`registry/repository:tag@digest`), parsed by hand.
//!
//! oci-client parses with one regular expression whose Unicode `\w` takes
//! ~40 ms and 8 MB to compile, once per process: a fifth of a warm mirror.
//! This follows the same grammar (distribution's `reference` package, whose
//! `\w` is ASCII) and the same normalisation (docker.io and `library/`), and
//! builds the same [`Reference`].

use oci_client::Reference;

const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Parses `s` as docker and oci-client do; the error is oci-client's reason.
pub fn parse(s: &str) -> Result<Reference, &'static str> {
    const INVALID: &str = "invalid reference format";
    if s.is_empty() {
        return Err("repository name must have at least one component");
    }
    let (name, tag, digest) = split(s);
    if !is_name(name) || !tag.is_none_or(is_tag) || !digest.is_none_or(is_digest) {
        return Err(INVALID);
    }
    let (registry, repository) = split_domain(name);
    if repository.len() > NAME_TOTAL_LENGTH_MAX {
        return Err("repository name must not be more than 255 characters");
    }
    if let Some(d) = digest {
        let (algorithm, hex) = d.split_once(':').ok_or("invalid checksum digest format")?;
        let want = match algorithm {
            "sha256" => 64,
            "sha384" => 96,
            "sha512" => 128,
            _ => return Err("unsupported digest algorithm"),
        };
        if hex.len() != want {
            return Err("invalid checksum digest length");
        }
    }
    Ok(match (tag, digest) {
        (Some(t), Some(d)) => {
            Reference::with_tag_and_digest(registry, repository, t.into(), d.into())
        }
        (Some(t), None) => Reference::with_tag(registry, repository, t.into()),
        (None, Some(d)) => Reference::with_digest(registry, repository, d.into()),
        (None, None) => Reference::with_tag(registry, repository, "latest".into()),
    })
}

/// `name[:tag][@digest]` into its three parts, unchecked.
pub(crate) fn split(s: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    // A tag follows the last ':' after the last '/' (a ':' before it is a port).
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => (
            &rest[..last_slash + i],
            Some(&rest[last_slash + i + 1..]),
            digest,
        ),
        None => (rest, None, digest),
    }
}

/// `[domain/]path`: a domain is hostname components joined by '.', with an
/// optional `:port`; the path is lowercase components joined by '/'.
fn is_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    let all_path = |ps: &[&str]| ps.iter().all(|p| is_path_component(p));
    all_path(&parts) || (parts.len() > 1 && is_domain(parts[0]) && all_path(&parts[1..]))
}

fn is_domain(d: &str) -> bool {
    let (host, port) = match d.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    let alnum = |x: char| x.is_ascii_alphanumeric();
    let host_ok = host.split('.').all(|c| {
        c.starts_with(alnum) && c.ends_with(alnum) && c.chars().all(|x| alnum(x) || x == '-')
    });
    host_ok && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[a-z0-9]+` runs joined by one separator: `.`, `_`, `__` or any run of `-`.
fn is_path_component(c: &str) -> bool {
    let alnum = |x: char| x.is_ascii_lowercase() || x.is_ascii_digit();
    // Splitting at the runs' characters leaves the separators (and empties).
    c.starts_with(alnum)
        && c.ends_with(alnum)
        && c.split(alnum)
            .all(|sep| matches!(sep, "" | "." | "_" | "__") || sep.bytes().all(|x| x == b'-'))
}

/// `[\w][\w.-]{0,127}`, `\w` being ASCII letters, digits and `_`.
fn is_tag(t: &str) -> bool {
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// `algorithm:hex` with an algorithm of letters and digits joined by
/// `-_+.`, and at least 32 hex digits.
fn is_digest(d: &str) -> bool {
    let Some((algorithm, hex)) = d.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|p| {
        p.starts_with(|x: char| x.is_ascii_alphabetic())
            && p.chars().all(|x| x.is_ascii_alphanumeric())
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// docker's rule: the first component is a registry only if it has a '.' or
/// ':' or is `localhost`; docker.io's single names live under `library/`.
pub(super) fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut rest) = match name.split_once('/') {
        Some((left, right)) if left.contains(['.', ':']) || left == "localhost" => {
            (left.to_string(), right.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    if domain == "index.docker.io" {
        domain = "docker.io".into();
    }
    if domain == "docker.io" && !rest.contains('/') {
        rest = format!("library/{rest}");
    }
    (domain, rest)
}

/// localhost, 127.0.0.0/8 and ::1: the only registries spoken to over plain HTTP
/// without being told.
pub fn is_loopback_registry(host_port: &str) -> bool {
    let host = host_of(host_port);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The host of `host[:port]` (IPv6 in brackets included).
pub fn host_of(host_port: &str) -> &str {
    match host_port.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same answers as oci-client's own parser (its regex), for the
    /// references its test suite and this project use, valid and not.
    #[test]
    fn agrees_with_oci_client() {
        let sha = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
        let cases = [
            "busybox".to_string(),
            "test.com:tag".into(),
            "test.com:5000".into(),
            "test.com/repo:tag".into(),
            "test:5000/repo".into(),
            "test:5000/repo:tag".into(),
            format!("test:5000/repo@{sha}"),
            format!("test:5000/repo:tag@{sha}"),
            "lowercase:Uppercase".into(),
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag".into(),
            "b.gcr.io/test.example.com/my-app:test.example.com".into(),
            "xn--n3h.com/myimage:xn--n3h.com".into(),
            "foo_bar.com:8080".into(),
            "foo/foo_bar.com:8080".into(),
            "opensuse/leap:15.3".into(),
            "index.docker.io/nats:2.10".into(),
            "localhost:5001/org/team/nats-server:2.10".into(),
            "127.0.0.1:5000/a/b".into(),
            "nvcr.io/org/team/nats-server:2.11.17-alpine3.22".into(),
            "a/b__c/d---e/f.g_h:1".into(),
            "Uppercase/repo:1".into(),
            "repo:".into(),
            ":tag".into(),
            "repo:-bad".into(),
            "a//b".into(),
            "a/b/".into(),
            "-a/b".into(),
            "a/b_-c".into(),
            "a/b___c".into(),
            "host:port/repo".into(),
            "ho_st.com/repo".into(),
            "repo@sha256:abc".into(),
            "repo@sha256:ffffffffffffffffffffffffffffffff".into(),
            format!("repo@md5:{}", "f".repeat(32)),
            format!("repo@sha512:{}", "f".repeat(128)),
            format!("repo:{}", "t".repeat(128)),
            format!("repo:{}", "t".repeat(129)),
            format!("r/{}", "a".repeat(260)),
            "Not A Ref".into(),
            "repo:tag:more".into(),
            "repo@".into(),
        ];
        for c in &cases {
            let theirs = c
                .parse::<Reference>()
                .map(|r| r.whole())
                .map_err(|e| e.to_string());
            let ours = parse(c).map(|r| r.whole()).map_err(str::to_string);
            assert_eq!(ours, theirs, "{c:?}");
        }
    }
}
