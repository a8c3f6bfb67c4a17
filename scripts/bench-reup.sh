#!/usr/bin/env bash
# Benchmarks a warm re-`up`, the whole command: a laptop after its first
# `up` (stand-in kind node container, the real local registry container
# holding the mirrored charts and images, a fake API server with Phase 1
# deployed, unchanged and healthy; see tests/common/warm_up.rs), the upstream
# registry replaced by a connection counter. Runs the release binary's `up`
# 10 times, and `status` (the same verification, alone) 10 times, so the
# overhead beyond verification is their difference. Not a test: it prints a
# markdown table. Everything it starts (registry process and containers,
# the node container) is removed when it ends.
#
# Usage: scripts/bench-reup.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup-test-env.sh >&2
# shellcheck disable=SC1091
source .tools/env
echo "bench-reup: building (release)" >&2
cargo build --release --quiet --bin nvcf-dev --example bench_reup
target="${CARGO_TARGET_DIR:-$root/target}/release"
out="$("$target/examples/bench_reup" "$target/nvcf-dev")"
py() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($1)" "$out"; }
echo "| case ($(nproc) CPUs) | median | max | helm installs/upgrades | upstream connections | API requests |"
echo "|---|---|---|---|---|---|"
echo "| warm \`up\`, 3 releases unchanged | $(py '"%.2f s" % d["up_median_s"]') | $(py '"%.2f s" % d["up_max_s"]') | $(py 'len(d["helm_release_changes"])') | $(py 'd["upstream_connections"]') | $(py 'd["api_requests_per_up"]') |"
echo "| \`status\` (verification alone) | $(py '"%.2f s" % d["status_median_s"]') | - | - | - | $(py 'd["api_requests_per_status"]') |"
echo "| **overhead beyond verification** | $(py '"%.2f s" % d["overhead_beyond_verification_s"]') | | | | |"
