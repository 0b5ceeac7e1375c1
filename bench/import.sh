#!/usr/bin/env bash
# Import benchmark: rows/s and peak memory of `tessera import` on the synthetic city's exports,
# at two city sizes (peak memory must not grow with file size), side by side with a plain
# Python csv -> sqlite3 load of the same CSV files (no validation, no versioning) in the same run.
#
# Usage: bench/import.sh [persons...]   (default: 250000 1000000)
# Writes bench/out/import.md; copy the table into docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-250000 1000000}")
[ $# -eq 0 ] && sizes=(250000 1000000)
out=bench/out
mkdir -p "$out"
# Two builds: with --example, cargo builds only the example of the packages named.
cargo build --release -p tessera >/dev/null 2>&1
cargo build --release -p tessera-synth --example city >/dev/null 2>&1
tessera=target/release/tessera
city=target/release/examples/city

# time_run LABEL CMD... : runs CMD under /usr/bin/time, echoes "seconds peak_kib".
time_run() {
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >"$out/last.log" 2>&1
    cat "$out/time.txt"
}

report="$out/import.md"
{
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r); date: $(date -u +%Y-%m-%d)."
    echo
    echo "| persons | file | format | rows | tessera s | tessera rows/s | tessera peak MiB | python csv→sqlite3 s | python rows/s | python peak MiB |"
    echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >"$report"

for persons in "${sizes[@]}"; do
    dir="$out/city$persons"
    rm -rf "$dir" "$out/data$persons"
    "$city" "$persons" "$dir" >/dev/null
    for source in migration tax health employer school; do
        file=$(ls "$dir/$source".* | grep -v mapping.toml)
        read -r secs peak < <(time_run "$tessera" --data-dir "$out/data$persons" import --mapping "$dir/$source.mapping.toml" "$file")
        rows=$(grep -o '[0-9,]* rows:' "$out/last.log" | tr -d ', rows:')
        format="${file##*.}"
        py="–"; pyrate="–"; pypeak="–"
        if [ "$format" = csv ]; then
            encoding=utf-8-sig; delimiter=,
            if [ "$source" = tax ]; then encoding=cp1251; delimiter=';'; fi
            rm -f "$out/python.sqlite3"
            read -r py pypeak_k < <(time_run python3 bench/python_csv_load.py "$file" "$encoding" "$delimiter" "$out/python.sqlite3")
            pyrate=$(python3 -c "print(f'{$rows/$py:,.0f}')")
            pypeak=$((pypeak_k / 1024))
        fi
        rate=$(python3 -c "print(f'{$rows/$secs:,.0f}')")
        echo "| $persons | $source | $format | $rows | $secs | $rate | $((peak / 1024)) | $py | $pyrate | $pypeak |" >>"$report"
    done
done
cat "$report"
