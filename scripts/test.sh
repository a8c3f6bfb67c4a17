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
# Dead code: the library checked with crate-private modules (see src/lib.rs).
cargo rustc --lib --profile check --quiet -- --cfg nvcf_dead_code -D dead_code -D unused_imports
# The per-target "test result" lines, summed into one closing line.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --all-targets "$@" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
