#!/usr/bin/env bash
# Sets up the test environment (idempotently) and runs every check CI runs:
# formatting, clippy, and the whole test suite against real Docker, real
# registries and real helm 3 and helm 4 binaries.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup-test-env.sh
# shellcheck disable=SC1091
source .tools/env
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets "$@"
