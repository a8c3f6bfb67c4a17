//! Helm values as YAML trees: the merge rules of profiles, placeholder
//! filling, and redaction for display.

use serde_yaml_ng::{Mapping, Value};

use crate::secret::{Secret, REDACTED};

/// Deep-merges `overlay` onto `base`, as profiles do: maps merge key by key,
/// lists and scalars replace, and `null` deletes the key.
pub fn merge(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    _ if v.is_null() => drop(b.remove(k)),
                    Some(existing) if existing.is_mapping() && v.is_mapping() => merge(existing, v),
                    _ => drop(b.insert(k.clone(), strip_nulls(v))),
                }
            }
        }
        (b, o) => *b = strip_nulls(o),
    }
}

/// A `null` inside a newly inserted map deletes nothing and would reach helm
/// as a literal null; drop it so "null deletes" holds at every depth.
fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Mapping(m) => Value::Mapping(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Sets `path` to `value`, creating maps on the way.
pub fn set_path(root: &mut Value, path: &[&str], value: Value) {
    let mut cur = root;
    for key in path {
        if !cur.is_mapping() {
            *cur = Value::Mapping(Mapping::new());
        }
        let map = cur.as_mapping_mut().expect("just made a mapping");
        cur = map.entry(Value::from(*key)).or_insert(Value::Null);
    }
    *cur = value;
}

pub fn get_path<'a>(root: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(root, |cur, key| cur.get(*key))
}

pub fn get_path_mut<'a>(root: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(root, |cur, key| cur.get_mut(*key))
}

/// Removes the key at `path`, if it is there.
pub fn remove_path(root: &mut Value, path: &[&str]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    if let Some(Value::Mapping(m)) = get_path_mut(root, parents) {
        m.remove(*last);
    }
}

/// Calls `f` on every string of the tree.
fn each_string(v: &mut Value, f: &mut impl FnMut(&mut String)) {
    match v {
        Value::String(s) => f(s),
        Value::Mapping(m) => m.values_mut().for_each(|v| each_string(v, f)),
        Value::Sequence(seq) => seq.iter_mut().for_each(|v| each_string(v, f)),
        Value::Tagged(t) => each_string(&mut t.value, f),
        _ => {}
    }
}

/// Replaces placeholders inside every string of the tree. Working on parsed
/// strings, not on the file's text, means a value can never inject YAML.
pub fn fill_placeholders(v: &mut Value, placeholders: &[(&str, &str)]) {
    each_string(v, &mut |s| {
        for (from, to) in placeholders {
            *s = s.replace(from, to);
        }
    });
}

/// A copy of the tree with every string that holds a secret replaced by
/// `<redacted>`, for display.
pub fn redacted(v: &Value, secrets: &[&Secret]) -> Value {
    let mut copy = v.clone();
    each_string(&mut copy, &mut |s| {
        let holds = |sec: &&Secret| !sec.is_empty() && s.contains(sec.expose());
        if secrets.iter().any(holds) {
            *s = REDACTED.to_string();
        }
    });
    copy
}

/// What a YAML value is, in words, for error messages ("a list", "empty").
pub fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "empty",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a map",
        Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    #[test]
    fn maps_merge_lists_and_scalars_replace_null_deletes() {
        let mut base = y("a: {b: 1, c: 2, l: [1, 2]}\nd: x\ne: {f: 1}\n");
        merge(
            &mut base,
            &y("a: {c: 3, l: [9]}\nd: y\ne: null\ng: {h: null, i: 1}\n"),
        );
        assert_eq!(base, y("a: {b: 1, c: 3, l: [9]}\nd: y\ng: {i: 1}\n"));
    }

    #[test]
    fn a_map_replaces_a_scalar_and_back() {
        let mut base = y("a: 1\nb: {c: 1}\n");
        merge(&mut base, &y("a: {x: 1}\nb: 2\n"));
        assert_eq!(base, y("a: {x: 1}\nb: 2\n"));
    }

    #[test]
    fn set_path_creates_parents() {
        let mut v = y("a: {keep: 1}\n");
        set_path(&mut v, &["a", "b", "c"], Value::from("1Gi"));
        assert_eq!(v, y("a: {keep: 1, b: {c: 1Gi}}\n"));
        assert_eq!(get_path(&v, &["a", "b", "c"]), Some(&Value::from("1Gi")));
        assert_eq!(get_path(&v, &["a", "zz"]), None);
    }

    #[test]
    fn placeholders_fill_inside_strings_only() {
        let mut v = y("image: \"<REGISTRY>/<REPOSITORY>/x:1\"\nlist: [\"<REGISTRY>\"]\nn: 3\n");
        fill_placeholders(
            &mut v,
            &[
                ("<REGISTRY>", "localhost:5001"),
                ("<REPOSITORY>", "org/team\nevil: 1"),
            ],
        );
        assert_eq!(
            v["image"],
            Value::from("localhost:5001/org/team\nevil: 1/x:1")
        );
        assert_eq!(v["list"][0], Value::from("localhost:5001"));
        assert!(v.get("evil").is_none());
    }

    #[test]
    fn redaction_replaces_any_string_holding_a_secret() {
        let s = Secret::new("s3cr3t-pw");
        let v = y("env: [{name: P, value: s3cr3t-pw}, {name: U, value: url://s3cr3t-pw@h}]\nother: fine\n");
        let r = redacted(&v, &[&s]);
        assert_eq!(
            r,
            y("env: [{name: P, value: <redacted>}, {name: U, value: <redacted>}]\nother: fine\n")
        );
    }
}
