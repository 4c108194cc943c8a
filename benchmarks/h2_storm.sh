#!/usr/bin/env bash
# Bounded HTTP/2 (cleartext, prior knowledge) storms against a server on this machine,
# followed by a check that it still answers /api/health.
#
# Every round runs, each under `timeout`:
#   1. a counted storm:      h2load -c CLIENTS -m STREAMS -n REQUESTS
#   2. a cut storm:          h2load -c CLIENTS -m STREAMS -D SECONDS  (connections are dropped
#                            with streams in flight when the time is up)
#   3. an early-answer storm (only with -u PATH): POSTs a body to PATH, which should answer
#                            before reading it (say, a 413), so DATA keeps arriving for
#                            streams the server has already finished
# then GET /api/health must answer 2xx, or the script stops with exit status 1.
#
# Usage: benchmarks/h2_storm.sh [options] BASE_URL [PATH...]
#   BASE_URL   http://127.0.0.1:PORT, http://localhost:PORT or http://[::1]:PORT only
#   PATH...    paths to request (default: /api/health)
#   -r ROUNDS  rounds (default 3)
#   -c N       clients, i.e. connections (default 64)
#   -m N       concurrent streams per connection (default 10)
#   -n N       requests in the counted storm (default 20000)
#   -D SECS    duration of the cut storm (default 2)
#   -u PATH    also run the early-answer storm against PATH
#   -b BYTES   body size for the early-answer storm (default 300000)
#   -p PID     also require process PID to be alive after each round
#   -t SECS    time limit for any one h2load run (default 120)
# Needs h2load (Debian/Ubuntu: apt-get install nghttp2-client).
set -euo pipefail

rounds=3 clients=64 streams=10 requests=20000 duration=2 upload_path="" body_bytes=300000
pid="" limit=120
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
while getopts "r:c:m:n:D:u:b:p:t:h" opt; do
  case "$opt" in
    r) rounds=$OPTARG ;; c) clients=$OPTARG ;; m) streams=$OPTARG ;; n) requests=$OPTARG ;;
    D) duration=$OPTARG ;; u) upload_path=$OPTARG ;; b) body_bytes=$OPTARG ;;
    p) pid=$OPTARG ;; t) limit=$OPTARG ;; *) usage ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 ]] || usage
base=${1%/}
shift
[[ $base =~ ^http://(127\.0\.0\.1|localhost|\[::1\]):[0-9]+$ ]] \
  || { echo "refusing $base: only http://127.0.0.1|localhost|[::1]:PORT" >&2; exit 2; }
for n in "$rounds" "$clients" "$streams" "$requests" "$duration" "$body_bytes" "$limit"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "not a number: $n" >&2; exit 2; }
done
command -v h2load >/dev/null || { echo "h2load not found (apt-get install nghttp2-client)" >&2; exit 2; }
paths=("$@")
[[ ${#paths[@]} -gt 0 ]] || paths=(/api/health)
urls=()
for p in "${paths[@]}"; do urls+=("$base$p"); done

workdir=$(mktemp -d)
trap 'rm -rf "$workdir"' EXIT
head -c "$body_bytes" /dev/zero >"$workdir/body"

# Runs h2load (bounded), prints a one-line summary: label, requests line, status line.
storm() {
  local label=$1
  shift
  local out rc=0
  out=$(timeout "$limit" h2load "$@" 2>&1) || rc=$?
  printf '%-14s %s | %s%s\n' "$label" \
    "$(grep -m1 '^requests:' <<<"$out" | sed 's/^requests: //')" \
    "$(grep -m1 '^status codes:' <<<"$out" | sed 's/^status codes: //')" \
    "$([[ $rc -eq 0 ]] || echo " (h2load exit $rc)")"
}

healthy() {
  local out
  out=$(timeout 30 h2load -n 1 -c 1 "$base/api/health" 2>&1) || return 1
  grep -q '^status codes: 1 2xx' <<<"$out"
}

alive() {
  [[ -z $pid ]] || kill -0 "$pid" 2>/dev/null
}

echo "storming ${urls[*]}: $rounds rounds, -c $clients -m $streams, -n $requests / -D $duration"
for ((round = 1; round <= rounds; round++)); do
  echo "-- round $round"
  storm "counted" -c "$clients" -m "$streams" -n "$requests" "${urls[@]}"
  storm "cut (-D $duration)" -c "$clients" -m "$streams" -D "$duration" "${urls[@]}"
  if [[ -n $upload_path ]]; then
    storm "early answer" -d "$workdir/body" -c "$clients" -m "$streams" \
      -n $((requests / 10)) "$base$upload_path"
  fi
  if ! alive; then
    echo "FAIL: process $pid is gone after round $round" >&2
    exit 1
  fi
  if ! healthy; then
    echo "FAIL: $base/api/health does not answer after round $round" >&2
    exit 1
  fi
  echo "   health OK"
done
echo "PASS: the server survived $rounds rounds and answers /api/health"
