#!/usr/bin/env bash
# Production-mode benchmark: the demo city loaded into PostgreSQL beside the same city in SQLite,
# then the read load test (bench/serve/reads.lua: authenticated, purpose-bound profile reads,
# each appended to the access log) against one SQLite node, one PostgreSQL node and two
# PostgreSQL nodes sharing the database, all in one run on this machine.
#
# Usage: bench/production/run.sh [persons] [seconds] [connections]   (default 100000 20 32)
# Needs: wrk (apt-get install wrk), PostgreSQL at $PGURL's server (default
# postgres://postgres@127.0.0.1:5432), whose database tessera_bench it drops and recreates.
# Writes bench/out/production/<persons>/result.md; see docs/benchmarks.md for recorded runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
persons=${1:-100000}
seconds=${2:-20}
connections=${3:-32}
server_url=${PGURL:-postgres://postgres@127.0.0.1:5432}
database_url=$server_url/tessera_bench
out=bench/out/production/$persons
rm -rf "$out"
mkdir -p "$out"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }

cargo build --release -p tessera >"$out/build.log" 2>&1
bin=$out/tessera
cp "${CARGO_TARGET_DIR:-target}/release/tessera" "$bin"
export TESSERA_PURPOSE=data_quality

psql "$server_url/postgres" -qc "DROP DATABASE IF EXISTS tessera_bench" >/dev/null
psql "$server_url/postgres" -qc "CREATE DATABASE tessera_bench" >/dev/null

# timed LABEL CMD...: runs CMD under /usr/bin/time; appends "LABEL seconds peak_MiB" to times.
timed() {
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >"$out/$label.log" 2>&1
    read -r secs kib <"$out/time.txt"
    echo "$label $secs $((kib / 1024))" >>"$out/times"
}
timed demo-sqlite "$bin" --data-dir "$out/sqlite" demo --persons "$persons"
timed demo-postgres "$bin" --data-dir "$out/pg" --database "$database_url" demo --persons "$persons"
grep -h "^pairwise" "$out/demo-sqlite.log" "$out/demo-postgres.log" >"$out/scores"

# The profiles to read, the same for every run.
"$bin" --data-dir "$out/sqlite" links --out - | tail -n +2 | cut -d, -f3 | sort -u \
    | shuf --random-source=<(yes) -n 100000 >"$out/ids-sqlite.txt"
"$bin" --data-dir "$out/pg" --database "$database_url" links --out - | tail -n +2 | cut -d, -f3 \
    | sort -u | shuf --random-source=<(yes) -n 100000 >"$out/ids-pg.txt"

servers=()
trap 'kill "${servers[@]}" 2>/dev/null || true' EXIT
# serve PORT ARGS...: starts a node and waits until its resolver is ready.
serve() {
    local port=$1
    shift
    "$bin" "$@" serve --listen "127.0.0.1:$port" --rate-limit 1000000 2>"$out/serve-$port.log" &
    servers+=($!)
    until curl -sf "127.0.0.1:$port/healthz" | grep -q ready; do sleep 0.5; done
}
stop_servers() {
    kill -INT "${servers[@]}" 2>/dev/null || true
    wait "${servers[@]}" 2>/dev/null || true
    servers=()
}
# load LABEL IDS TOKEN PORT...: wrk against each port at once, the connections split evenly;
# appends "LABEL reads/s p50 p99" (reads summed, latencies the worst node's) to loads.
load() {
    local label=$1 ids=$2 token=$3
    shift 3
    local per=$((connections / $#)) pids=() port
    for port in "$@"; do
        IDS=$ids TOKEN=$token wrk -t1 -c"$per" -d"${seconds}s" --latency \
            -s bench/serve/reads.lua "http://127.0.0.1:$port" >"$out/wrk-$label-$port.txt" &
        pids+=($!)
    done
    wait "${pids[@]}"
    local rate=0 p50=0 p99=0 bad=0 file
    for port in "$@"; do
        file=$out/wrk-$label-$port.txt
        rate=$(awk -v r="$rate" '/Requests\/sec/ {printf "%.0f", r + $2}' "$file")
        p50=$(awk -v p="$p50" '/^p50 / {print ($2 > p ? $2 : p)}' "$file")
        p99=$(awk -v p="$p99" '/^p99 / {print ($2 > p ? $2 : p)}' "$file")
        bad=$((bad + $(awk '/non-200/ {print $3}' "$file")))
    done
    echo "$label $rate $p50 $p99 $bad" >>"$out/loads"
}

token=$("$bin" --data-dir "$out/sqlite" clients add --role agency --name "Load test" 2>/dev/null)
serve 18281 --data-dir "$out/sqlite"
load sqlite-1-node "$out/ids-sqlite.txt" "$token" 18281
stop_servers

pg=(--data-dir "$out/pg" --database "$database_url")
token=$("$bin" "${pg[@]}" clients add --role agency --name "Load test" 2>/dev/null)
serve 18282 "${pg[@]}"
load postgres-1-node "$out/ids-pg.txt" "$token" 18282
serve 18283 "${pg[@]}"
load postgres-2-nodes "$out/ids-pg.txt" "$token" 18282 18283
stop_servers
trap - EXIT
sqlite_log=$("$bin" --data-dir "$out/sqlite" audit verify)
pg_log=$("$bin" "${pg[@]}" audit verify)

{
    echo "$persons persons; wrk $seconds s, $connections connections in all; commit $(git rev-parse --short HEAD); $(date -u +%F); $(nproc) cores; PostgreSQL $(psql "$server_url/postgres" -tAc 'SHOW server_version') on the same machine"
    echo
    echo "| load | wall s | peak MiB (tessera process) |"
    echo "| --- | ---: | ---: |"
    awk '{printf "| %s | %.1f | %d |\n", $1, $2, $3}' "$out/times"
    echo
    sed 's/^/    /' "$out/scores"
    echo
    echo "| read load | reads/s | p50 ms | p99 ms | non-200 |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    awk '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' "$out/loads"
    echo
    echo "access logs after the runs: sqlite: $sqlite_log; postgres: $pg_log"
} | tee "$out/result.md"
