#!/usr/bin/env bash
# Read load test: authenticated, purpose-bound profile reads with the access-log append, from a
# second process (wrk) on loopback, against `tessera serve` over the demo city.
#
# Usage: bench/serve/run.sh [persons] [seconds] [connections]   (default 100000 20 32)
# Needs: the Rust toolchain, wrk (apt-get install wrk), sqlite3 is not needed.
# Writes bench/out/serve/<persons>/result.txt; see docs/benchmarks.md for recorded runs.
#
# Environment, to repeat runs without rebuilding what takes minutes at 1M persons:
#   DATA=dir  the data directory to serve (default bench/out/serve/<persons>/data); made by
#             `tessera demo` only when it holds no store, else reused as it is (each run adds
#             a client and its reads to the access log).
#   BIN=path  a tessera binary to run instead of building this checkout (for A/B runs).
#   OUT=dir   where the results go (default bench/out/serve/<persons>).
set -euo pipefail
cd "$(dirname "$0")/../.."
persons=${1:-100000}
seconds=${2:-20}
connections=${3:-32}
out=${OUT:-bench/out/serve/$persons}
data=${DATA:-$out/data}
mkdir -p "$out"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

bin=$out/tessera
if [ -n "${BIN:-}" ]; then
    cp "$BIN" "$bin"
else
    cargo build --release -p tessera >"$out/build.log" 2>&1
    cp "${CARGO_TARGET_DIR:-target}/release/tessera" "$bin"
fi
export TESSERA_PURPOSE=data_quality

if [ ! -f "$data/tessera.sqlite3" ]; then
    "$bin" --data-dir "$data" demo --persons "$persons" >"$out/demo.log"
fi
# The ids to read: made once per data directory (listing 3M records takes a while at 1M).
if [ ! -s "$data/bench-ids.txt" ]; then
    "$bin" --data-dir "$data" links --out - | tail -n +2 | cut -d, -f3 | sort -u | shuf --random-source=<(yes) -n 100000 >"$data/bench-ids.txt"
fi
cp "$data/bench-ids.txt" "$out/ids.txt"
token=$("$bin" --data-dir "$data" clients add --role agency --name "Load test" 2>/dev/null)
before=$("$bin" --data-dir "$data" audit verify | sed -E 's/.*intact: ([0-9,]+) entries.*/\1/' | tr -d ,)

port=18181
RUST_LOG=${RUST_LOG:-info} "$bin" --data-dir "$data" serve --listen 127.0.0.1:$port --rate-limit 1000000 2>"$out/serve.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
# Wait until the online resolver has loaded: its start-up scan holds the store.
until curl -sf "127.0.0.1:$port/healthz" | grep -q ready; do sleep 0.5; done

# CPU time of a process (user + system, clock ticks), and of the whole machine (busy, total):
# the server's CPU per read is steadier than reads/s on a shared machine, and what the machine
# did besides the server and wrk says how shared it was.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
machine() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
load=$(cut -d' ' -f1-3 /proc/loadavg)
server_before=$(ticks $server)
read -r busy_before total_before < <(machine)
IDS=$out/ids.txt TOKEN=$token wrk -t1 -c"$connections" -d"${seconds}s" --latency \
    -s bench/serve/reads.lua "http://127.0.0.1:$port" > "$out/wrk.txt" &
client=$!
sleep 1
client_ticks=0
while kill -0 $client 2>/dev/null; do
    client_ticks=$(ticks $client 2>/dev/null || echo "$client_ticks")
    sleep 0.2
done
wait $client
read -r busy_after total_after < <(machine)
server_after=$(ticks $server)
cat "$out/wrk.txt"
kill -INT $server
wait $server || true
trap - EXIT

after=$("$bin" --data-dir "$data" audit verify | sed -E 's/.*intact: ([0-9,]+) entries.*/\1/' | tr -d ,)
{
    echo "persons $persons, $connections connections, ${seconds}s, commit $(git rev-parse --short HEAD), $(date -u +%F), $(nproc) cores, load before: $load"
    grep -E "Requests/sec|non-200|^p[0-9]" "$out/wrk.txt"
    requests=$(awk '/requests in/{print $1}' "$out/wrk.txt")
    hz=$(getconf CLK_TCK)
    awk -v s=$((server_after - server_before)) -v c="$client_ticks" -v b=$((busy_after - busy_before)) \
        -v t=$((total_after - total_before)) -v n="$requests" -v hz="$hz" -v cores="$(nproc)" 'BEGIN {
        printf "server CPU per read: %.1f us (%.2f cores); wrk %.2f cores; other work %.2f cores\n",
            s / hz / n * 1e6, s / hz / (t / hz / cores), c / hz / (t / hz / cores),
            (b - s - c) / hz / (t / hz / cores) }'
    echo "access-log entries appended: $((after - before)) (chain verified before and after)"
} | tee "$out/result.txt"
