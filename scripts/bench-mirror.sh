#!/usr/bin/env bash
# Benchmarks `nvcf-dev mirror --to HOST:PORT` as users run it (the whole
# command: process start, settings, chart HEADs, chart pulls, helm renders,
# image HEADs, copies), its copy engine alone, skopeo, and the destination
# registry's ingest floor, between docker-registry instances on loopback;
# then a WAN case with the upstream behind a 40 ms round trip and a bandwidth
# cap. Not a test, not for CI: it prints a markdown table.
#
# Workload: the three stand-in charts of tests/charts/current pushed with
# helm, and every image they deploy (found by `nvcf-dev mirror --dry-run`)
# generated upstream: ~930 MiB of distinct random layers, 4 images sharing a
# 150 MiB base, 3 sharing a 100 MiB base, nats-server a 2-platform OCI index;
# plus one 1 GiB layer for the memory ceiling.
#
# WAN: this kernel has no netem, so the delay is a userspace delay line
# (`bench_mirror delay`, 20 ms each way, plus one round trip per new
# connection for the handshake) in front of the upstream, and the cap is tbf
# on the upstream's traffic only, all inside a network namespace of the
# benchmark's own (`unshare -n`, needs root).
#
# Every process it starts runs in a process group of its own and is stopped on
# exit, error or Ctrl-C (the namespace's ones by the inner run it belongs to).
#
# Usage: scripts/bench-mirror.sh
#   CONCURRENCY=N   the engine's and the command's --concurrency (default 4)
#   WAN_RATE=400mbit WAN_DELAY_MS=20   the WAN case's cap and one-way delay
#   WAN=0           skip the WAN case
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
[[ -f .tools/env ]] && source .tools/env

concurrency="${CONCURRENCY:-4}"
wan_rate="${WAN_RATE:-400mbit}"
wan_delay_ms="${WAN_DELAY_MS:-20}"
repo_path="bench-org/bench-team"
target="${CARGO_TARGET_DIR:-$root/target}/release"
bench="$target/examples/bench_mirror"
nvcf="$target/nvcf-dev"

# ---- process groups -------------------------------------------------------
groups=()
work=""
inner=""
stop_groups() {
  local g
  for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  # Give inner runs time to stop their own groups before anything is killed.
  for _ in $(seq 50); do
    local alive=0
    for g in "${groups[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  groups=()
}
cleanup() {
  trap - EXIT INT TERM
  stop_groups
  wait 2>/dev/null || true
  # The WAN run's directory belongs to the outer run, which removes it.
  if [[ -n "$work" && -z "$inner" && -z "${BENCH_KEEP_WORK:-}" ]]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# bg CMD...: runs CMD in the background in a process group of its own.
bg() {
  setsid "$@" &
  groups+=($!)
}

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }
rss_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }
field() { python3 -c "import json,sys; print(json.load(open('$1'))['$2'])"; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

# start_registry NAME PORT [DATA_DIR]: a docker-registry on 127.0.0.1:PORT.
start_registry() {
  local name="$1" port="$2" data="${3:-$work/$1/data}"
  mkdir -p "$work/$name"
  cat >"$work/$name/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
  bg docker-registry serve "$work/$name/config.yml" >"$work/$name/log" 2>&1
  echo "$!" >"$work/$name/pid"
  wait_http "127.0.0.1:$port" || { echo "bench-mirror: registry $name did not start" >&2; exit 1; }
}
# stop_registry NAME: stops it and removes its storage.
stop_registry() {
  local pid
  pid="$(cat "$work/$1/pid")"
  kill -TERM -- "-$pid" 2>/dev/null || true
  rm -rf "${work:?}/$1"
}
wait_http() {
  for _ in $(seq 100); do
    curl -fsS "http://$1/v2/" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# nvcf_dev HOME UPSTREAM ARGS...: the binary as a user runs it, in a clean
# environment (its render cache in HOME's state directory).
# With TIME_TO=FILE, under /usr/bin/time -v writing FILE.
nvcf_dev() {
  local home="$1" upstream="$2" pre=()
  shift 2
  [[ -z "${TIME_TO:-}" ]] || pre=(/usr/bin/time -v -o "$TIME_TO")
  "${pre[@]}" env -i PATH="$PATH" HOME="$home" XDG_STATE_HOME="$home/state" CI=true \
    KUBECONFIG="$home/no-kubeconfig" REGISTRY="$upstream" REPOSITORY="$repo_path" \
    "$nvcf" "$@"
}

# skopeo_copy SRC DST REF: one image, every platform.
skopeo_copy() {
  skopeo copy --quiet --all --src-tls-verify=false --dest-tls-verify=false \
    "docker://$1/$3" "docker://$2/$3" >/dev/null
}

# check_digests SRC DST REF...: DST holds every REF with SRC's manifest digest.
check_digests() {
  local src="$1" dst="$2" r a b
  shift 2
  for r in "$@"; do
    a="$(skopeo inspect --raw --tls-verify=false "docker://$src/$r" | sha256sum | cut -d' ' -f1)"
    b="$(skopeo inspect --raw --tls-verify=false "docker://$dst/$r" | sha256sum | cut -d' ' -f1)"
    [[ "$a" == "$b" ]] || { echo "bench-mirror: $r differs in $dst" >&2; exit 1; }
  done
}

# ---- the WAN case, run inside the namespace -------------------------------
# Args: WORK SRC_DATA UPSTREAM_PORT REF...
# The upstream is seen at 127.0.0.1:UPSTREAM_PORT, the same address as on
# loopback, so chart annotations and image names are unchanged; behind it the
# delay line, behind that a registry serving the loopback upstream's storage.
wan_inner() {
  work="$1"
  local src_data="$2" up_port="$3"
  shift 3
  local refs=("$@")
  ip link set lo up
  local reg_port=$((up_port + 1))
  [[ $reg_port -lt 65535 ]] || reg_port=$((up_port - 1))
  start_registry wan-src "$reg_port" "$src_data"
  bg "$bench" delay "127.0.0.1:$up_port" "127.0.0.1:$reg_port" "$wan_delay_ms" 2>"$work/delay.log"
  # Only what the upstream sends is capped (tbf under an htb class that a u32
  # filter on the delay line's port picks; prio is not in this kernel): the
  # destination stays local.
  tc qdisc add dev lo root handle 1: htb default 10 r2q 100000
  tc class add dev lo parent 1: classid 1:10 htb rate 40gbit
  tc class add dev lo parent 1: classid 1:20 htb rate 40gbit
  tc qdisc add dev lo parent 1:20 handle 20: tbf rate "$wan_rate" burst 512kb latency 200ms
  tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip sport "$up_port" 0xffff flowid 1:20
  local up="127.0.0.1:$up_port"
  wait_http "$up" || { echo "bench-mirror: delay line did not start" >&2; exit 1; }
  local p1 p2 p3
  p1="$(free_port)" && start_registry wan-cmd "$p1"
  p2="$(free_port)" && start_registry wan-seq "$p2"
  p3="$(free_port)" && start_registry wan-par "$p3"
  local rtt
  rtt="$(curl -o /dev/null -sS -w '%{time_total}' "http://$up/v2/")"

  local t0 cmd_s seq_s par_s r pids=()
  t0="$(now)"
  nvcf_dev "$work/wan-home" "$up" mirror --to "127.0.0.1:$p1" --concurrency "$concurrency" -o json >"$work/wan-cmd.json"
  cmd_s="$(secs "$t0" "$(now)")"
  t0="$(now)"
  for r in "${refs[@]}"; do skopeo_copy "$up" "127.0.0.1:$p2" "$r"; done
  seq_s="$(secs "$t0" "$(now)")"
  t0="$(now)"
  for r in "${refs[@]}"; do
    skopeo_copy "$up" "127.0.0.1:$p3" "$r" &
    pids+=($!)
  done
  for r in "${pids[@]}"; do wait "$r"; done
  par_s="$(secs "$t0" "$(now)")"
  check_digests "127.0.0.1:$reg_port" "127.0.0.1:$p1" "${refs[@]}"
  echo "$cmd_s $seq_s $par_s $rtt" >"$work/wan.result"
}

if [[ "${1:-}" == "--wan-inner" ]]; then
  shift
  inner=1
  wan_inner "$@"
  exit 0
fi

# ---- set-up -----------------------------------------------------------------
for tool in docker-registry skopeo helm curl python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || {
    echo "bench-mirror: $tool is needed; run scripts/setup-test-env.sh" >&2
    exit 1
  }
done
work="$(mktemp -d /tmp/bench-mirror.XXXXXX)"

echo "bench-mirror: building (release)" >&2
cargo build --release --quiet --bin nvcf-dev --example bench_mirror

src_port="$(free_port)"
start_registry src "$src_port"
src="127.0.0.1:$src_port"
ports=()
for name in skopeo huge kill; do
  p="$(free_port)"
  start_registry "dst-$name" "$p"
  ports+=("127.0.0.1:$p")
done
dst_skopeo="${ports[0]}" dst_huge="${ports[1]}" dst_kill="${ports[2]}"

echo "bench-mirror: pushing the stand-in charts to $src with helm" >&2
for chart in helm-nvcf-nats helm-nvcf-openbao-server helm-nvcf-cassandra; do
  cp -r "tests/charts/current/$chart" "$work/$chart"
  # The charts' helm.sh/images annotation names nvcr.io; point it upstream.
  sed -i "s#nvcr.io/nvidia/nvcf/#$src/$repo_path/#g" "$work/$chart/Chart.yaml"
  helm package "$work/$chart" -d "$work/charts" >/dev/null
done
for tgz in "$work"/charts/*.tgz; do
  helm push "$tgz" "oci://$src/$repo_path" --plain-http >/dev/null 2>&1
done

# The images the charts deploy, as the command finds them.
nvcf_dev "$work/plan-home" "$src" mirror --dry-run -o json --to "$dst_skopeo" >"$work/plan.json"
mapfile -t charts < <(python3 -c "import json; [print(i['source'].split('/',1)[1]) for i in json.load(open('$work/plan.json'))['items'] if i['kind']=='chart']")
mapfile -t images < <(python3 -c "import json; [print(i['source'].split('/',1)[1]) for i in json.load(open('$work/plan.json'))['items'] if i['kind']=='image']")
specs=()
n=0
for img in "${images[@]}"; do
  n=$((n + 1))
  if [[ "$img" == */nats-server:* ]]; then
    specs+=("$img=linux/amd64@3:20,30$n:50;linux/arm64@3:20,31$n:50")
  elif ((n % 2)); then
    specs+=("$img=1:150,1${n}0:50,1${n}1:30")
  else
    specs+=("$img=2:100,2${n}0:50,2${n}1:30")
  fi
done
refs=("${charts[@]}" "${images[@]}")
echo "bench-mirror: generating ${#images[@]} images in $src" >&2
t0="$(now)"
"$bench" gen "$src" "${specs[@]}" 2>/dev/null
"$bench" gen "$src" "bench/huge:1=9:1024" 2>/dev/null
gen_s="$(secs "$t0" "$(now)")"

# ---- the ingest floor ---------------------------------------------------------
# Every distinct blob of the workload, pushed by parallel curl processes with
# one monolithic PUT each: what the destination can take at best.
echo "bench-mirror: ingest floor (curl, parallel monolithic PUTs)" >&2
mkdir -p "$work/blobs"
python3 - "$src" "$work/blobs.txt" "${refs[@]}" <<'EOF'
import json, sys, urllib.request
src, out, refs = sys.argv[1], sys.argv[2], sys.argv[3:]
accept = ",".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
def get(repo, ref):
    req = urllib.request.Request(f"http://{src}/v2/{repo}/manifests/{ref}", headers={"Accept": accept})
    return json.load(urllib.request.urlopen(req))
blobs = {}
def walk(repo, ref):
    m = get(repo, ref)
    for c in m.get("manifests", []):
        walk(repo, c["digest"])
    for d in [m.get("config")] + m.get("layers", []):
        if d:
            blobs.setdefault(d["digest"], repo)
for r in refs:
    repo, tag = r.rsplit(":", 1)
    walk(repo, tag)
with open(out, "w") as f:
    for digest, repo in blobs.items():
        f.write(f"{repo} {digest}\n")
EOF
while read -r repo digest; do
  curl -fsS -o "$work/blobs/${digest#sha256:}" "http://$src/v2/$repo/blobs/$digest"
done <"$work/blobs.txt"
floor_bytes="$(du -sb "$work/blobs" | cut -f1)"
push_one() {
  local dst="$1" digest="$2" file="$3" loc
  loc="$(curl -fsS -X POST -D - -o /dev/null "http://$dst/v2/floor/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location" {print $2}')"
  [[ "$loc" == http* ]] || loc="http://$dst$loc"
  [[ "$loc" == *\?* ]] && loc="$loc&" || loc="$loc?"
  curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$file" "${loc}digest=$digest"
}
export -f push_one
# floor_once P: sets floor_result to the seconds of one push of every blob
# with P curls at once, into a fresh registry. (Not in a $(...) subshell: the
# registry's group must be in this shell's list, for the trap.)
floor_once() {
  local p="$1" port t0
  port="$(free_port)"
  start_registry "floor-$p-$round" "$port"
  t0="$(now)"
  awk '{print $2}' "$work/blobs.txt" | xargs -P "$p" -I{} bash -c \
    'd="{}"; push_one "127.0.0.1:'"$port"'" "$d" "'"$work/blobs"'/${d#sha256:}"'
  floor_result="$(secs "$t0" "$(now)")"
  stop_registry "floor-$p-$round"
}

# ---- cold runs, interleaved ------------------------------------------------------
# The machine is shared, so each cold case runs in each of $rounds rounds,
# one after the other, and the median is reported.
rounds="${ROUNDS:-3}"
floor4=() floor8=() engine_cold=() cmd_cold=()
for round in $(seq "$rounds"); do
  echo "bench-mirror: cold round $round of $rounds: floor, engine, nvcf-dev mirror" >&2
  floor_once 4
  floor4+=("$floor_result")
  floor_once 8
  floor8+=("$floor_result")
  port="$(free_port)"
  start_registry "engine-$round" "$port"
  dst_engine="127.0.0.1:$port"
  t0="$(now)"
  /usr/bin/time -v -o "$work/engine-cold.time" "$bench" copy "$dst_engine" --concurrency "$concurrency" "${refs[@]/#/$src/}" >"$work/engine-cold.json"
  engine_cold+=("$(secs "$t0" "$(now)")")
  ((round == rounds)) || stop_registry "engine-$round"
  port="$(free_port)"
  start_registry "cmd-$round" "$port"
  dst_cmd="127.0.0.1:$port"
  rm -rf "$work/home"
  t0="$(now)"
  TIME_TO="$work/cmd-cold.time" nvcf_dev "$work/home" "$src" mirror --to "$dst_cmd" --concurrency "$concurrency" -o json >"$work/cmd-cold.json"
  cmd_cold+=("$(secs "$t0" "$(now)")")
  ((round == rounds)) || stop_registry "cmd-$round"
done
floor4_s="$(median "${floor4[@]}")"
floor8_s="$(median "${floor8[@]}")"
if python3 -c "import sys; sys.exit(0 if $floor4_s <= $floor8_s else 1)"; then
  floor_s="$floor4_s" floor_p=4
else
  floor_s="$floor8_s" floor_p=8
fi
engine_cold_s="$(median "${engine_cold[@]}")"
cmd_cold_s="$(median "${cmd_cold[@]}")"
rm -rf "$work/blobs"

# ---- loopback runs --------------------------------------------------------------
echo "bench-mirror: skopeo copy --all, one image at a time" >&2
t0="$(now)"
for r in "${refs[@]}"; do skopeo_copy "$src" "$dst_skopeo" "$r"; done
skopeo_s="$(secs "$t0" "$(now)")"

echo "bench-mirror: warm re-runs (5 each)" >&2
engine_warm=() cmd_warm=() cmd_norender=()
for i in 1 2 3 4 5; do
  t0="$(now)"
  /usr/bin/time -v -o "$work/engine-warm.time" "$bench" copy "$dst_engine" --concurrency "$concurrency" "${refs[@]/#/$src/}" >"$work/engine-warm.json"
  engine_warm+=("$(python3 -c "print($(now) - $t0)")")
  t0="$(now)"
  TIME_TO="$work/cmd-warm.time" nvcf_dev "$work/home" "$src" mirror --to "$dst_cmd" --concurrency "$concurrency" -o json >"$work/cmd-warm.json"
  cmd_warm+=("$(python3 -c "print($(now) - $t0)")")
  # The same re-run without its render cache: the three charts rendered again.
  rm -f "$work"/home/state/nvcf-dev/*/render-cache.json
  t0="$(now)"
  nvcf_dev "$work/home" "$src" mirror --to "$dst_cmd" --concurrency "$concurrency" -o json >/dev/null
  cmd_norender+=("$(python3 -c "print($(now) - $t0)")")
done
[[ "$(python3 -c "import json; print(json.load(open('$work/cmd-warm.json'))['summary']['bytes_copied'])")" == 0 ]] \
  || { echo "bench-mirror: the warm re-run copied something" >&2; exit 1; }

echo "bench-mirror: one 1 GiB layer with the engine" >&2
t0="$(now)"
/usr/bin/time -v -o "$work/huge.time" "$bench" copy "$dst_huge" "$src/bench/huge:1" >"$work/huge.json"
huge_s="$(secs "$t0" "$(now)")"

echo "bench-mirror: kill -9 mid-copy, then re-run" >&2
"$bench" copy "$dst_kill" "$src/bench/huge:1" >/dev/null 2>&1 &
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
"$bench" copy "$dst_kill" "$src/bench/huge:1" >"$work/kill.json"
kill_s="$(secs "$t0" "$(now)")"
check_digests "$src" "$dst_kill" bench/huge:1
layer="$(skopeo inspect --raw --tls-verify=false "docker://$dst_kill/bench/huge:1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')"
[[ "sha256:$(curl -fsS "http://$dst_kill/v2/bench/huge/blobs/$layer" | sha256sum | cut -d' ' -f1)" == "$layer" ]] \
  || { echo "bench-mirror: layer corrupt after kill -9" >&2; exit 1; }

# Byte-identical copies: manifest digests as upstream's.
check_digests "$src" "$dst_engine" "${refs[@]}"
check_digests "$src" "$dst_cmd" "${refs[@]}"

# ---- WAN --------------------------------------------------------------------------
wan_row=""
if [[ "${WAN:-1}" != 0 ]]; then
  echo "bench-mirror: WAN case (namespace, ${wan_delay_ms} ms each way, $wan_rate)" >&2
  mkdir -p "$work/wan"
  bg unshare -n -- bash "$root/scripts/bench-mirror.sh" --wan-inner "$work/wan" "$work/src/data" "$src_port" "${refs[@]}"
  wan_pid="${groups[-1]}"
  wait "$wan_pid" || { echo "bench-mirror: the WAN case failed" >&2; exit 1; }
  read -r wan_cmd wan_seq wan_par wan_rtt <"$work/wan/wan.result"
  wan_row="yes"
fi

# ---- table ------------------------------------------------------------------------------
mib() { python3 -c "print(f'{$1/1048576:.0f}')"; }
copied_mib="$(mib "$(field "$work/engine-cold.json" bytes_copied)")"
floor_mibs="$(python3 -c "print(f'{$floor_bytes/1048576/$floor_s:.0f}')")"
cat <<EOF

Workload: 3 charts + ${#images[@]} images (nats-server a 2-platform index), ${copied_mib} MiB of distinct blobs, shared base layers; --concurrency $concurrency; $(nproc) CPUs. Generation took ${gen_s} s.

| Case | Wall time | Peak RSS | Notes |
|---|---|---|---|
| Ingest floor: same blobs, parallel curl monolithic PUTs (median of $rounds) | ${floor_s} s | - | the faster of -P 4 (${floor4_s} s) and -P 8 (${floor8_s} s), ${floor_mibs} MiB/s |
| \`nvcf-dev mirror --to\`, cold (median of $rounds) | ${cmd_cold_s} s | $(rss_mb "$work/cmd-cold.time") MB | $(ratio "$skopeo_s" "$cmd_cold_s")x skopeo, $(ratio "$cmd_cold_s" "$floor_s")x the floor |
| Engine alone, cold (median of $rounds) | ${engine_cold_s} s | $(rss_mb "$work/engine-cold.time") MB | $(field "$work/engine-cold.json" blobs_copied) blobs copied, $(field "$work/engine-cold.json" blobs_mounted) mounted; $(ratio "$skopeo_s" "$engine_cold_s")x skopeo, $(ratio "$engine_cold_s" "$floor_s")x the floor |
| skopeo copy --all, one image at a time | ${skopeo_s} s | - | |
| \`nvcf-dev mirror --to\`, warm (median of 5) | $(median "${cmd_warm[@]}") s | $(rss_mb "$work/cmd-warm.time") MB | nothing copied; renders from the cache |
| \`nvcf-dev mirror --to\`, warm, render cache removed (median of 5) | $(median "${cmd_norender[@]}") s | - | the three charts rendered again (in parallel) |
| Engine alone, warm (median of 5) | $(median "${engine_warm[@]}") s | $(rss_mb "$work/engine-warm.time") MB | $(field "$work/engine-warm.json" blobs_copied) blobs copied |
| Engine, one 1 GiB layer | ${huge_s} s | $(rss_mb "$work/huge.time") MB | $(python3 -c "print(f\"{$(field "$work/huge.json" throughput_mib_s):.0f}\")") MiB/s |
| Engine, 1 GiB layer killed -9 at 2 s, re-run | ${kill_s} s (re-run) | - | ${kill_note}; digests verified after the re-run |
EOF
if [[ -n "$wan_row" ]]; then
  cat <<EOF

WAN: upstream behind ${wan_delay_ms} ms each way (userspace delay line; measured /v2/ round trip ${wan_rtt} s) and $wan_rate (tbf), destination local; same workload.

| Case | Wall time | vs nvcf-dev |
|---|---|---|
| \`nvcf-dev mirror --to\`, cold | ${wan_cmd} s | |
| skopeo copy --all, one image at a time | ${wan_seq} s | $(ratio "$wan_seq" "$wan_cmd")x slower |
| skopeo copy --all, all ${#refs[@]} at once | ${wan_par} s | $(ratio "$wan_par" "$wan_cmd")x |
EOF
fi
