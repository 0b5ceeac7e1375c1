#!/usr/bin/env bash
# Read load test: authenticated, purpose-bound profile reads with the access-log append, from a
# second process (wrk) on loopback, against `tessera serve` over the demo city.
#
# Usage: bench/serve/run.sh [persons] [seconds] [connections]   (default 100000 20 32)
# Needs: the Rust toolchain, wrk (apt-get install wrk), sqlite3 is not needed.
# Writes bench/out/serve/<persons>/result.txt; see docs/benchmarks.md for recorded runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
persons=${1:-100000}
seconds=${2:-20}
connections=${3:-32}
out=bench/out/serve/$persons
data=$out/data
mkdir -p "$out"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

cargo build --release -p tessera >"$out/build.log" 2>&1
bin=$out/tessera
cp target/release/tessera "$bin"
export TESSERA_PURPOSE=data_quality

if [ ! -f "$data/tessera.sqlite3" ]; then
    "$bin" --data-dir "$data" demo --persons "$persons" >"$out/demo.log"
fi
"$bin" --data-dir "$data" links --out - | tail -n +2 | cut -d, -f3 | sort -u | shuf --random-source=<(yes) -n 100000 >"$out/ids.txt"
token=$("$bin" --data-dir "$data" clients add --role agency --name "Load test" 2>/dev/null)
before=$("$bin" --data-dir "$data" audit verify | sed -E 's/.*intact: ([0-9,]+) entries.*/\1/' | tr -d ,)

port=18181
RUST_LOG=${RUST_LOG:-info} "$bin" --data-dir "$data" serve --listen 127.0.0.1:$port --rate-limit 1000000 2>"$out/serve.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
# Wait until the online resolver has loaded: its start-up scan holds the store.
until curl -sf "127.0.0.1:$port/healthz" | grep -q ready; do sleep 0.5; done

IDS=$out/ids.txt TOKEN=$token wrk -t1 -c"$connections" -d"${seconds}s" --latency \
    -s bench/serve/reads.lua "http://127.0.0.1:$port" | tee "$out/wrk.txt"
kill -INT $server
wait $server || true
trap - EXIT

after=$("$bin" --data-dir "$data" audit verify | sed -E 's/.*intact: ([0-9,]+) entries.*/\1/' | tr -d ,)
{
    echo "persons $persons, $connections connections, ${seconds}s, commit $(git rev-parse --short HEAD), $(date -u +%F), $(nproc) cores"
    grep -E "Requests/sec|non-200|^p[0-9]" "$out/wrk.txt"
    echo "access-log entries appended: $((after - before)) (chain verified before and after)"
} | tee "$out/result.txt"
