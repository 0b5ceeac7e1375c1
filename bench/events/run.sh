#!/usr/bin/env bash
# Change-event benchmark: a demo city's outbox (one profile_created event per profile, written
# with the batch run that made the profiles) delivered from the start to one subscriber by
# webhook (a loopback receiver that answers at once, bench/events/receiver.py) and to one by
# JetStream, each by `tessera events deliver`; and the demo itself timed with this build and
# with the build before change events ($BASE, default 3da3064), side by side in one run.
#
# Usage: bench/events/run.sh [persons]   (default 100000)
# Needs: python3, NATS with JetStream at $NATS (default nats://127.0.0.1:4222), git.
# Writes bench/out/events/<persons>/result.md; see docs/benchmarks.md for recorded runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
persons=${1:-100000}
nats=${NATS:-nats://127.0.0.1:4222}
base=${BASE:-3da3064}
out=bench/out/events/$persons
rm -rf "$out"
mkdir -p "$out"
export TESSERA_PURPOSE=data_quality

cargo build --release -p tessera >"$out/build.log" 2>&1
bin=$out/tessera
cp "${CARGO_TARGET_DIR:-target}/release/tessera" "$bin"
# The build before change events, in a worktree with its own target directory.
base_dir=bench/out/events/base-$base
if [ ! -x "$base_dir/tessera" ]; then
    rm -rf "$base_dir/src"
    mkdir -p "$base_dir"
    git worktree add --detach "$base_dir/src" "$base" >/dev/null 2>&1
    (cd "$base_dir/src" && CARGO_TARGET_DIR=../target cargo build --release -p tessera) >"$out/build-base.log" 2>&1
    cp "$base_dir/target/release/tessera" "$base_dir/tessera"
    git worktree remove --force "$base_dir/src"
fi

timed() {
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >"$out/$label.log" 2>&1
    read -r secs kib <"$out/time.txt"
    echo "$label $secs $((kib / 1024))" >>"$out/times"
}
# Alternate the two builds, twice each, to even out the machine's noise.
for round in 1 2; do
    rm -rf "$out/base" "$out/city"
    timed "demo-before-events-$round" "$base_dir/tessera" --data-dir "$out/base" demo --persons "$persons"
    timed "demo-with-events-$round" "$bin" --data-dir "$out/city" demo --persons "$persons"
done
rm -rf "$out/base"

city=(--data-dir "$out/city" --nats "$nats")
events=$("$bin" "${city[@]}" events subscriptions | sed -n 's/^outbox: \([0-9,]*\) events/\1/p' | tr -d ,)
"$bin" "${city[@]}" clients add --role steward --name "Bench registry" >/dev/null 2>"$out/client.txt"
client=$(grep -o 'c-[0-9a-f]*' "$out/client.txt")
port=$((20000 + RANDOM % 20000))
python3 bench/events/receiver.py "$port" "$out/received.txt" &
receiver=$!
sleep 1
"$bin" "${city[@]}" events subscribe --name bench-webhook --client "$client" --purpose data_quality \
    --webhook "http://127.0.0.1:$port/events" --from-start >/dev/null
timed deliver-webhook "$bin" "${city[@]}" events deliver
kill -TERM "$receiver"
wait "$receiver" || true
"$bin" "${city[@]}" events unsubscribe bench-webhook >/dev/null
subject="tessera.events.bench-$(date +%s)"
"$bin" "${city[@]}" events subscribe --name "bench-js-$(date +%s)" --client "$client" \
    --purpose data_quality --jetstream "$subject" --from-start >/dev/null
timed deliver-jetstream "$bin" "${city[@]}" events deliver

{
    echo "# Change events, $persons persons ($(date -u +%Y-%m-%d), $(nproc) cores, $(git rev-parse --short HEAD))"
    echo
    echo "outbox after the demo: $events events; webhook receiver got $(cat "$out/received.txt") requests"
    echo
    echo "| step | seconds | peak MiB | events/s |"
    echo "| --- | ---: | ---: | ---: |"
    while read -r label secs mib; do
        rate=""
        case $label in deliver-*) rate=$(awk -v n="$events" -v s="$secs" 'BEGIN { printf "%.0f", n / s }') ;; esac
        echo "| $label | $secs | $mib | $rate |"
    done <"$out/times"
} >"$out/result.md"
cat "$out/result.md"
