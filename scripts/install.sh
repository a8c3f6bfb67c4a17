#!/usr/bin/env bash
# Builds and installs nvcf-dev (into ~/.cargo/bin), then runs it with the
# arguments given: `scripts/install.sh up` gives you a verified Phase 1.
#
# Needs: a Rust toolchain (https://rustup.rs), Docker, kind and helm 3.12+ or 4.
# `nvcf-dev doctor` tells you what is missing and how to fix it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo was not found: install Rust from https://rustup.rs, then run this again" >&2
  exit 1
fi
cargo install --quiet --locked --path "$root"
bin="${CARGO_HOME:-$HOME/.cargo}/bin/nvcf-dev"
echo "==> installed $("$bin" --version) at $bin" >&2
if [ $# -gt 0 ]; then
  exec "$bin" "$@"
fi
