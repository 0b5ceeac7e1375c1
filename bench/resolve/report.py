"""Writes the side-by-side table of a benchmark run: bench/out/resolve/results.md.

    report.py OUT_DIR INPUT...

Reads OUT_DIR/<input>/runs/{tessera,splink}-<n>.json (one per repetition) and writes
OUT_DIR/results.md: a header line (machine, date, versions, the Tessera commit run.sh built,
from OUT_DIR/bin/commit.txt), the main table (one row per input and system: records,
comparisons, seconds, records per second, peak memory, pairwise precision/recall/F1,
over-merged clusters), a detail table, and notes. With several repetitions, the seconds are
those of the run with the median total time and the peak memory is the median of all runs; the
quality numbers are the same every run (both systems are deterministic here).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from datetime import date
from pathlib import Path


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True).stdout.strip()


def _memory_gib() -> str:
    with open("/proc/meminfo") as f:
        kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    return f"{kib / 1024**2:.1f} GiB"


def _count(n: int | None) -> str:
    return "n/a" if n is None else f"{n:,}"


def _load_runs(input_dir: Path, system: str) -> list[dict]:
    runs = sorted(
        (input_dir / "runs").glob(f"{system}-*.json"),
        key=lambda p: int(p.stem.rsplit("-", 1)[1]),
    )
    return [json.loads(p.read_text()) for p in runs]


def _summary(runs: list[dict]) -> dict:
    """The run with the median total time, with the median peak memory of all runs."""
    median_run = dict(sorted(runs, key=lambda run: run["total_s"])[(len(runs) - 1) // 2])
    median_run["peak_mib"] = statistics.median(run["peak_mib"] for run in runs)
    median_run["runs"] = len(runs)
    return median_run


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit("usage: report.py OUT_DIR INPUT...")
    out_dir, inputs = Path(sys.argv[1]), sys.argv[2:]
    rows, details, notes, versions, repeats, busy = [], [], [], {}, set(), []
    for name in inputs:
        manifest = json.loads((out_dir / name / "manifest.json").read_text())
        notes.extend(f"{name}: {note}" for note in manifest.get("notes", []))
        for system in ("tessera", "splink"):
            runs = _load_runs(out_dir / name, system)
            if not runs:
                notes.append(f"{name}: no {system} run found")
                continue
            busy.extend(run["busy_cores_before"] for run in runs if "busy_cores_before" in run)
            r = _summary(runs)
            repeats.add(r["runs"])
            versions.update(r.get("versions", {}))
            e = r["evaluation"]
            rate = r["records"] / r["total_s"] if r["total_s"] else float("nan")
            rows.append(
                f"| {name} | {system} | {r['records']:,} | {_count(r['comparisons'])} "
                f"| {r['load_s']:.2f} | {r['resolve_s']:.2f} | {r['total_s']:.2f} | {rate:,.0f} "
                f"| {r['peak_mib']:,.0f} | {e['precision']:.4f} | {e['recall']:.4f} "
                f"| {e['f1']:.4f} | {e['over_merged_profiles']:,} |"
            )
            details.append(
                f"| {name} | {system} | {e['persons']:,} | {e['profiles']:,} "
                f"| {e['correct_pairs']:,} | {e['predicted_pairs']:,} | {e['true_pairs']:,} "
                f"| {e['bcubed_precision']:.4f} | {e['bcubed_recall']:.4f} "
                f"| {e['bcubed_f1']:.4f} | {e['split_persons']:,} |"
            )
            if system == "tessera":
                notes.append(
                    f"{name}: tessera quarantined {r['quarantined']:,} rows; import peak "
                    f"{r['import_peak_mib']:.0f} MiB, resolve peak {r['resolve_peak_mib']:.0f} "
                    f"MiB; eval vs. bench scorer: {r['scorer_crosscheck']}; resolve said: "
                    + " / ".join(line.strip() for line in r["resolve_output"].splitlines())
                )
            else:
                notes.append(
                    f"{name}: splink {r['link_type']}, clusters at match probability "
                    f"{r['threshold']}; train {r['train_s']:.2f} s, predict "
                    f"{r['predict_s']:.2f} s, cluster {r['cluster_s']:.2f} s; peak after "
                    f"training {r['peaks_mib']['after_train']:,.0f} MiB"
                )
            if r.get("missing_from_clusters") or r.get("missing_from_truth"):
                notes.append(
                    f"{name}: {system}: {r.get('missing_from_clusters', 0):,} truth rows not "
                    f"scored, {r.get('missing_from_truth', 0):,} records not in the truth"
                )

    commit_file = out_dir / "bin" / "commit.txt"
    if commit_file.exists():
        commit_text = commit_file.read_text().strip()
    else:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "crates", "Cargo.toml", "Cargo.lock")
        commit_text = f"{commit} (with uncommitted changes in crates/)" if dirty else commit
    runs_text = (
        "one run each"
        if repeats == {1}
        else f"{', '.join(map(str, sorted(repeats)))} runs each: the run with the median total "
        "time, median peak memory"
    )
    header = (
        f"Machine: {len(os.sched_getaffinity(0))} cores, {_memory_gib()}, "
        f"kernel {platform.release()}; "
        f"date: {date.today().isoformat()}; Tessera {commit_text}; "
        f"Splink {versions.get('splink', '?')}, DuckDB {versions.get('duckdb', '?')}, "
        f"pandas {versions.get('pandas', '?')}; {runs_text}."
    )
    if busy:
        notes.append(
            f"other work on the machine in the second before each run: {min(busy):.2f} to "
            f"{max(busy):.2f} cores busy (of {os.cpu_count()}); where it is well above 0, "
            "something else was running and the seconds are less reliable"
        )
    text = "\n".join(
        [
            "# Resolver benchmark: Tessera and Splink on the same inputs",
            "",
            header,
            "",
            "| input | system | records | comparisons | import/load s | resolve s | total s "
            "| records/s | peak MiB | precision | recall | F1 | over-merged |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| ---: |",
            *rows,
            "",
            "Pairwise precision, recall and F1 and over-merged clusters (clusters holding records "
            "of 2+ true persons) use one formula for both systems (`tessera eval`'s; "
            "bench/resolve/scoring.py is its port). Comparisons: pairs Splink scored (`predict` "
            "over the union of its blocking rules); for Tessera the candidate pairs its `resolve` "
            "reports, n/a when it reports none. Tessera's seconds are `tessera import` (all "
            "sources) and `tessera resolve`, each a process under `/usr/bin/time`; Splink's are "
            "loading the CSV into DuckDB, then training + predict + clustering, in one Python "
            "process (interpreter start and imports excluded). Peak MiB: the largest resident set "
            "of any Tessera step; the Splink process's maximum resident set.",
            "",
            "| input | system | persons | clusters | correct pairs | predicted pairs | true pairs "
            "| B-cubed P | B-cubed R | B-cubed F1 | split persons |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            *details,
            "",
            "Notes:",
            "",
            *(f"- {note}" for note in notes),
            "",
        ]
    )
    (out_dir / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
