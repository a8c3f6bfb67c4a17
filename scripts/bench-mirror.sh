#!/usr/bin/env bash
# Benchmarks the OCI copy engine (src/registry) against skopeo, between local
# docker-registry instances on loopback. Not a test: it prints a markdown table.
#
# Workload: 10 images, ~1 GB of distinct random layers: 5 images share a 150 MB
# base, 4 share a 100 MB base, one is a two-platform OCI index; plus a single
# 1 GB layer for the memory ceiling. Measures:
#   1. cold copy with the engine      2. skopeo copy --all, one image at a time
#   3. warm re-run with the engine    4. peak RSS (/usr/bin/time -v)
#
# Usage: scripts/bench-mirror.sh            (CONCURRENCY=N to change the engine's)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

registry_bin="$(command -v docker-registry || true)"
for tool in "$registry_bin" skopeo /usr/bin/time; do
  if [[ -z "$tool" ]] || ! command -v "$tool" >/dev/null; then
    echo "bench-mirror: docker-registry, skopeo and /usr/bin/time are needed; run scripts/setup-test-env.sh" >&2
    exit 1
  fi
done

concurrency="${CONCURRENCY:-4}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_registry NAME -> prints host:port
start_registry() {
  local name="$1" port
  port="$(free_port)"
  mkdir -p "$work/$name"
  cat >"$work/$name/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/$name/data
http:
  addr: 127.0.0.1:$port
EOF
  "$registry_bin" serve "$work/$name/config.yml" >"$work/$name/log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
      echo "127.0.0.1:$port"
      return
    fi
    sleep 0.1
  done
  echo "bench-mirror: registry $name did not start" >&2
  exit 1
}

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
rss_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }
field() { python3 -c "import json,sys; print(json.load(open('$1'))['$2'])"; }

echo "bench-mirror: building (release)" >&2
cargo build --release --quiet --example bench_mirror
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_mirror"

src="$(start_registry src)"
dst_engine="$(start_registry dst-engine)"
dst_skopeo="$(start_registry dst-skopeo)"
dst_huge="$(start_registry dst-huge)"
dst_kill="$(start_registry dst-kill)"

# name=SEED:MB,... ; equal SEED:MB pairs are identical (shared) layers.
specs=()
for i in 1 2 3 4 5; do specs+=("bench/app$i:1.0=1:150,1${i}0:40,1${i}1:30"); done
for i in 6 7 8 9; do specs+=("bench/svc$i:2.1=2:100,2${i}0:40,2${i}1:30"); done
specs+=("bench/multi:3.0=linux/amd64@3:20,300:50;linux/arm64@3:20,301:50")
refs=()
for s in "${specs[@]}"; do refs+=("$src/${s%%=*}"); done

echo "bench-mirror: generating ~1 GB of images in $src" >&2
t0="$(now)"
"$bin" gen "$src" "${specs[@]}" 2>/dev/null
"$bin" gen "$src" "bench/huge:1=9:1024" 2>/dev/null
gen_s="$(secs "$t0" "$(now)")"

echo "bench-mirror: cold copy with the engine" >&2
t0="$(now)"
/usr/bin/time -v -o "$work/cold.time" "$bin" copy "$dst_engine" --concurrency "$concurrency" "${refs[@]}" >"$work/cold.json"
cold_s="$(secs "$t0" "$(now)")"

echo "bench-mirror: warm re-run with the engine" >&2
t0="$(now)"
/usr/bin/time -v -o "$work/warm.time" "$bin" copy "$dst_engine" --concurrency "$concurrency" "${refs[@]}" >"$work/warm.json"
warm_s="$(secs "$t0" "$(now)")"

echo "bench-mirror: skopeo copy --all, one image at a time" >&2
t0="$(now)"
for s in "${specs[@]}"; do
  name="${s%%=*}"
  skopeo copy --quiet --all --src-tls-verify=false --dest-tls-verify=false \
    "docker://$src/$name" "docker://$dst_skopeo/$name" >/dev/null
done
skopeo_s="$(secs "$t0" "$(now)")"

echo "bench-mirror: one 1 GB layer with the engine" >&2
t0="$(now)"
/usr/bin/time -v -o "$work/huge.time" "$bin" copy "$dst_huge" "$src/bench/huge:1" >"$work/huge.json"
huge_s="$(secs "$t0" "$(now)")"

echo "bench-mirror: kill -9 mid-copy, then re-run" >&2
"$bin" copy "$dst_kill" "$src/bench/huge:1" >/dev/null 2>&1 &
victim=$!
sleep 2
kill -9 "$victim" 2>/dev/null || true
wait "$victim" 2>/dev/null || true
if curl -fsS -o /dev/null -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$dst_kill/v2/bench/huge/manifests/1" 2>/dev/null; then
  kill_note="manifest was already complete at the kill"
else
  kill_note="no manifest visible after the kill"
fi
t0="$(now)"
"$bin" copy "$dst_kill" "$src/bench/huge:1" >"$work/kill.json"
kill_s="$(secs "$t0" "$(now)")"
a="$(skopeo inspect --raw --tls-verify=false "docker://$src/bench/huge:1" | sha256sum | cut -d' ' -f1)"
b="$(skopeo inspect --raw --tls-verify=false "docker://$dst_kill/bench/huge:1" | sha256sum | cut -d' ' -f1)"
[[ "$a" == "$b" ]] || { echo "bench-mirror: digest differs after kill -9 and re-run" >&2; exit 1; }
# Re-read the blob and check its sha256: the registry must hold only complete content.
layer="$(skopeo inspect --raw --tls-verify=false "docker://$dst_kill/bench/huge:1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')"
[[ "sha256:$(curl -fsS "http://$dst_kill/v2/bench/huge/blobs/$layer" | sha256sum | cut -d' ' -f1)" == "$layer" ]] || { echo "bench-mirror: layer corrupt after kill -9" >&2; exit 1; }

# The engine's copies must be byte-identical: compare manifest digests with skopeo's.
for s in "${specs[@]}"; do
  name="${s%%=*}"
  a="$(skopeo inspect --raw --tls-verify=false "docker://$src/$name" | sha256sum | cut -d' ' -f1)"
  b="$(skopeo inspect --raw --tls-verify=false "docker://$dst_engine/$name" | sha256sum | cut -d' ' -f1)"
  if [[ "$a" != "$b" ]]; then
    echo "bench-mirror: digest of $name differs after the copy" >&2
    exit 1
  fi
done

mib() { python3 -c "print(f'{$1/1048576:.0f}')"; }
speedup="$(python3 -c "print(f'{$skopeo_s / $cold_s:.2f}')")"
cat <<EOF

Workload: 10 images (one a 2-platform index), $(mib "$(field "$work/cold.json" bytes_copied)") MiB of distinct blobs, shared base layers; engine concurrency $concurrency; $(nproc) CPUs. Generation took ${gen_s}s.

| Case | Wall time | Peak RSS | Notes |
|---|---|---|---|
| Engine, cold | ${cold_s} s | $(rss_mb "$work/cold.time") MB | $(field "$work/cold.json" blobs_copied) blobs copied, $(field "$work/cold.json" blobs_mounted) mounted, $(mib "$(field "$work/cold.json" bytes_skipped)") MiB not re-sent |
| skopeo copy --all, one by one | ${skopeo_s} s | - | engine is ${speedup}x faster |
| Engine, warm re-run | ${warm_s} s | $(rss_mb "$work/warm.time") MB | engine-internal $(python3 -c "print(f\"{$(field "$work/warm.json" elapsed_secs):.3f}\")") s, $(field "$work/warm.json" blobs_copied) blobs copied |
| Engine, one 1 GB layer | ${huge_s} s | $(rss_mb "$work/huge.time") MB | $(python3 -c "print(f\"{$(field "$work/huge.json" throughput_mib_s):.0f}\")") MiB/s |
| Engine, 1 GB layer killed -9 at 2 s, re-run | ${kill_s} s (re-run) | - | ${kill_note}; digests verified after the re-run |
EOF
