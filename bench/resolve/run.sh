#!/usr/bin/env bash
# Resolver benchmark: resolves the same inputs with Tessera and with Splink (DuckDB) in one run
# and writes a side-by-side table to bench/out/resolve/results.md. See bench/resolve/README.md.
#
# Usage: bench/resolve/run.sh [input...]      (default: febrl3 febrl4 demo100k)
#   inputs: febrl3 | febrl4 | demo<N>[k|m]    (demo100k = the synthetic city of 100,000 persons)
#   REPEATS=3 bench/resolve/run.sh ...         each system 3 times: the median-time run is shown
set -euo pipefail
cd "$(dirname "$0")/../.."
here=bench/resolve
out=bench/out/resolve
venv=bench/.venv
repeats=${REPEATS:-1}
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ beside the scripts
inputs=("$@")
[ $# -eq 0 ] && inputs=(febrl3 febrl4 demo100k)
mkdir -p "$out"

# Check the inputs before spending minutes on setup.
for input in "${inputs[@]}"; do
    case "$input" in
        febrl3 | febrl4) ;;
        demo[0-9]*) [[ "$input" =~ ^demo[0-9]+[km]?$ ]] || { echo "bad input: $input" >&2; exit 2; } ;;
        *) echo "unknown input: $input (febrl3, febrl4, demo<N>[k|m])" >&2; exit 2 ;;
    esac
done

# 1. The Python environment: created once, reinstalled only when requirements.txt changes.
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
stamp="$venv/.resolve-requirements.txt"
if ! cmp -s "$here/requirements.txt" "$stamp"; then
    echo "installing $here/requirements.txt into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi
py="$venv/bin/python"

# 2. The release binaries. Others may be mid-edit in crates/: retry a failed build a few times.
build() {
    cargo build --release -p tessera &&
        cargo build --release -p tessera-synth --example city
}
for attempt in 1 2 3 4 5; do
    if build >"$out/build.log" 2>&1; then
        break
    fi
    if [ "$attempt" -eq 5 ]; then
        tail -30 "$out/build.log" >&2
        echo "cargo build failed 5 times; see $out/build.log" >&2
        exit 1
    fi
    echo "cargo build failed (attempt $attempt); retrying in 60 s" >&2
    sleep 60
done
# Copy the binaries and note the commit now: others may rebuild target/ during the run.
mkdir -p "$out/bin"
cp target/release/tessera target/release/examples/city "$out/bin/"
commit=$(git rev-parse --short HEAD)
if [ -n "$(git status --porcelain -- crates Cargo.toml Cargo.lock)" ]; then
    commit="$commit (with uncommitted changes in crates/)"
fi
echo "$commit" >"$out/bin/commit.txt"
tessera=$out/bin/tessera
city=$out/bin/city

# 3. Each input: prepare, then each system, one after the other (never concurrently).
for input in "${inputs[@]}"; do
    dir="$out/$input"
    rm -rf "$dir"
    mkdir -p "$dir/runs"
    case "$input" in
        febrl3 | febrl4)
            "$py" "$here/prepare.py" "$input" "$dir"
            ;;
        demo*)
            persons=${input#demo}
            case "$persons" in
                *k) persons=$((${persons%k} * 1000)) ;;
                *m) persons=$((${persons%m} * 1000000)) ;;
            esac
            "$city" "$persons" "$dir" >"$dir/city.log"
            "$py" "$here/prepare.py" demo "$dir"
            ;;
    esac
    for run in $(seq 1 "$repeats"); do
        "$py" "$here/run_tessera.py" "$dir" "$tessera" "$dir/runs/tessera-$run.json"
        if ! "$py" "$here/run_splink.py" "$dir" "$dir/runs/splink-$run.json" \
            >"$dir/splink-$run.log" 2>&1; then
            tail -30 "$dir/splink-$run.log" >&2
            echo "splink failed on $input; see $dir/splink-$run.log" >&2
            exit 1
        fi
        tail -1 "$dir/splink-$run.log"
    done
done

# 4. The table.
"$py" "$here/report.py" "$out" "${inputs[@]}" >/dev/null
echo
cat "$out/results.md"
