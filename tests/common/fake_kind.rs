//! A stand-in for the kind CLI (kind has no node image on the test
//! machines): `create cluster` runs a "node" container (the test registry
//! image) labelled as kind labels its nodes, on the `kind` network, and
//! `export kubeconfig` points at a fake API server (`$FAKE_API`). It records
//! its argv in `$FAKE_KIND_STATE/calls` and keeps its clusters there.

use std::path::Path;
use std::process::Command;

pub const SCRIPT: &str = r#"#!/bin/sh
# A stand-in for kind: records its argv, keeps state in $FAKE_KIND_STATE.
echo "$*" >> "$FAKE_KIND_STATE/calls"
name=""
prev=""
for a in "$@"; do [ "$prev" = "--name" ] && name="$a"; prev="$a"; done
case "$1 $2" in
  "get clusters") cat "$FAKE_KIND_STATE/clusters" 2>/dev/null; exit 0 ;;
  "create cluster")
    cat > "$FAKE_KIND_STATE/config-$name.yaml"
    if [ -n "$FAKE_KIND_SLOW" ]; then echo $$ > "$FAKE_KIND_STATE/create.pid"; exec sleep 60; fi
    docker network inspect kind >/dev/null 2>&1 || docker network create kind >/dev/null
    docker run -d --name "$name-control-plane" --label "io.x-k8s.kind.cluster=$name" \
      --network kind "$NVCF_DEV_TEST_REGISTRY_IMAGE" >/dev/null || exit 1
    echo "$name" >> "$FAKE_KIND_STATE/clusters" ;;
  "export kubeconfig")
    printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: kind-%s\n  cluster: {server: "http://%s"}\nusers:\n- name: kind-%s\n  user: {token: fake}\ncontexts:\n- name: kind-%s\n  context: {cluster: kind-%s, user: kind-%s}\ncurrent-context: kind-%s\n' \
      "$name" "$FAKE_API" "$name" "$name" "$name" "$name" "$name" > "$KUBECONFIG" ;;
  "delete cluster")
    docker rm -f "$name-control-plane" >/dev/null 2>&1
    grep -v "^$name\$" "$FAKE_KIND_STATE/clusters" > "$FAKE_KIND_STATE/c.tmp"
    mv "$FAKE_KIND_STATE/c.tmp" "$FAKE_KIND_STATE/clusters" ;;
  *) echo "fake kind: unsupported: $*" >&2; exit 2 ;;
esac
"#;

/// `exe` run as [`super::cli::isolated`], with this stand-in kind (in `bin`)
/// keeping its state in `home` and pointing kubeconfigs at `api`.
pub fn command(exe: &Path, home: &Path, bin: &Path, api: &str) -> Command {
    let mut cmd = super::cli::isolated(exe, home, bin);
    cmd.env("FAKE_KIND_STATE", home).env("FAKE_API", api).env(
        "NVCF_DEV_TEST_REGISTRY_IMAGE",
        super::required_env("NVCF_DEV_TEST_REGISTRY_IMAGE"),
    );
    cmd
}

/// Removes what a run against this stand-in leaves in Docker: the node
/// container of `cluster`, the `registry` container and its volume.
pub fn remove_leftovers(cluster: &str, registry: &str) {
    let node = format!("{cluster}-control-plane");
    let _ = Command::new("docker")
        .args(["rm", "-f", &node, registry])
        .output();
    let _ = Command::new("docker")
        .args(["volume", "rm", &format!("{registry}-data")])
        .output();
}
