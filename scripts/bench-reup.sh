#!/usr/bin/env bash
# Benchmarks the decision overhead of a warm re-`up`: all three releases
# deployed and unchanged (their records labelled as `up` labels them) on a
# fake API server, the upstream registry a listener that counts connections.
# Runs the release binary's `plan` (the same per-release decisions `up` makes
# before it would run helm) 10 times. Not a test: it prints a markdown table.
#
# Usage: scripts/bench-reup.sh        (needs helm on PATH or NVCF_DEV_TEST_HELM4)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
helm="${NVCF_DEV_TEST_HELM4:-$(command -v helm || true)}"
if [[ -z "$helm" ]]; then
  echo "bench-reup: helm is needed; run scripts/setup-test-env.sh" >&2
  exit 1
fi
echo "bench-reup: building (release)" >&2
cargo build --release --quiet --bin nvcf-dev --example bench_reup
target="${CARGO_TARGET_DIR:-$root/target}/release"
out="$("$target/examples/bench_reup" "$target/nvcf-dev" "$helm")"
py() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($1)" "$out"; }
echo "| case | median | max | helm calls (besides version) | upstream connections | API requests per run | decisions |"
echo "|---|---|---|---|---|---|---|"
echo "| warm re-up decision, 3 releases unchanged | $(py '"%.2f s" % d["median_s"]') | $(py '"%.2f s" % d["max_s"]') | $(py 'len(d["helm_calls_besides_version"])') | $(py 'd["upstream_connections"]') | $(py 'len(d["api_requests_per_run"])') | $(py '", ".join(d["decisions"])') |"
