#!/usr/bin/env bash
# Lines of src/ that are not unit tests (everything above a file's first
# top-level #[cfg(test)]), per directory and in total. The size measure of
# issue 8; `--files` lists every file.
set -euo pipefail
cd "$(dirname "$0")/.."
find src -name '*.rs' | sort | while read -r f; do
  printf '%s %s\n' "$(awk '/^#\[cfg\(test\)\]/{exit} {n++} END {print n+0}' "$f")" "$f"
done > "${TMPDIR:-/tmp}/nvcf-loc.$$"
if [[ "${1:-}" == "--files" ]]; then sort -n "${TMPDIR:-/tmp}/nvcf-loc.$$"; fi
awk '{ split($2, p, "/"); d = (p[2] ~ /\.rs$/) ? "src/*.rs" : "src/" p[2] "/"; t[d] += $1; all += $1 }
     END { for (k in t) printf "%6d  %s\n", t[k], k; printf "%6d  total (non-test)\n", all }' "${TMPDIR:-/tmp}/nvcf-loc.$$" | sort -n
rm -f "${TMPDIR:-/tmp}/nvcf-loc.$$"
