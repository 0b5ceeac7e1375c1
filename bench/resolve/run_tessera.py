"""Resolves one prepared input with the `tessera` binary and collects its numbers.

    run_tessera.py INPUT_DIR TESSERA_BINARY [OUT_JSON]
        (reads INPUT_DIR/manifest.json; writes OUT_JSON, by default INPUT_DIR/tessera.json,
        and the logs in INPUT_DIR/tessera/)

Steps, each a separate process in a fresh data directory (INPUT_DIR/tessera-data):

1. `tessera import --mapping M FILE...` per source, under `/usr/bin/time -f "%e %M"`: wall
   seconds and peak resident memory of each; the rows read and quarantined are parsed from its
   report line.
2. `tessera resolve`, timed the same way. If it prints a count of pairs it scored ("N candidate
   pairs" or "N comparisons"), that is the comparison count; otherwise it is reported as n/a
   (the strong-identifier resolver printed none).
3. `tessera eval --truth truth.csv`: its report is parsed (pair counts, so precision, recall and
   F1 are exact, not the four printed decimals).
4. `tessera links --out links.csv`, scored again by scoring.py (the Splink side's scorer): the
   two must agree, which checks that both systems are scored by the same formula.

Import time is the sum over sources; peak memory is the largest of all steps.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from machine import busy_cores
from scoring import read_truth, score_against_truth


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def timed(command: list[str], log_dir: Path, name: str) -> dict:
    """Runs `command` under /usr/bin/time; returns wall seconds, peak KiB and its output."""
    time_file = log_dir / f"{name}.time"
    completed = subprocess.run(
        ["/usr/bin/time", "-f", "%e %M", "-o", str(time_file), *command],
        capture_output=True,
        text=True,
    )
    output = completed.stdout + completed.stderr
    (log_dir / f"{name}.log").write_text(f"$ {' '.join(command)}\n{output}")
    if completed.returncode != 0:
        raise SystemExit(f"{name} failed ({completed.returncode}):\n{output}")
    # The last line is ours; GNU time puts "Command exited with..." before it on failure.
    seconds, peak_kib = time_file.read_text().split("\n")[-2].split()
    return {"seconds": float(seconds), "peak_kib": int(peak_kib), "output": output}


def parse_eval(text: str) -> dict:
    """The numbers in `tessera eval`'s report (see crates/tessera/src/evaluation.rs)."""
    patterns = {
        "records_persons_profiles": r"records scored\s+([\d,]+) \(([\d,]+) persons in ([\d,]+)",
        "pairs": r"\(([\d,]+) of ([\d,]+) predicted pairs correct, ([\d,]+) true pairs\)",
        "bcubed": r"B-cubed\s+precision ([\d.]+)\s+recall ([\d.]+)\s+F1 ([\d.]+)",
        "over_merged": r"over-merged profiles\s+([\d,]+)",
        "split": r"split persons\s+([\d,]+)",
        "printed": r"pairwise\s+precision ([\d.]+)\s+recall ([\d.]+)\s+F1 ([\d.]+)",
    }
    found = {}
    for key, pattern in patterns.items():
        match = re.search(pattern, text)
        if not match:
            raise SystemExit(f"cannot parse tessera eval output ({key}):\n{text}")
        found[key] = match.groups()
    records, persons, profiles = map(_number, found["records_persons_profiles"])
    correct, predicted, true = map(_number, found["pairs"])
    precision = 1.0 if predicted == 0 else correct / predicted
    recall = 1.0 if true == 0 else correct / true
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    extra = {
        key: _number(m.group(1)) if (m := re.search(pattern, text)) else 0
        for key, pattern in {
            "missing_from_store": r"not in the store\s+([\d,]+)",
            "missing_from_truth": r"not in the truth\s+([\d,]+)",
            "unresolved": r"unresolved\s+([\d,]+)",
        }.items()
    }
    bp, br, bf = map(float, found["bcubed"])
    return {
        "records": records,
        "true_pairs": true,
        "predicted_pairs": predicted,
        "correct_pairs": correct,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "bcubed_precision": bp,
        "bcubed_recall": br,
        "bcubed_f1": bf,
        "over_merged_profiles": _number(found["over_merged"][0]),
        "split_persons": _number(found["split"][0]),
        "profiles": profiles,
        "persons": persons,
        "printed": [float(x) for x in found["printed"]],
        **extra,
    }


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: run_tessera.py INPUT_DIR TESSERA_BINARY [OUT_JSON]")
    input_dir, tessera = Path(sys.argv[1]), str(Path(sys.argv[2]).resolve())
    out_json = Path(sys.argv[3]) if len(sys.argv) == 4 else input_dir / "tessera.json"
    manifest = json.loads((input_dir / "manifest.json").read_text())
    data_dir = input_dir / "tessera-data"
    log_dir = input_dir / "tessera"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir()
    base = [tessera, "--data-dir", str(data_dir)]
    other_work = busy_cores()  # cores busy with other work just before: skews the timings

    imports, rows, quarantined = [], 0, 0
    for entry in manifest["tessera"]:
        files = [str(input_dir / f) for f in entry["files"]]
        step = timed(
            [*base, "import", "--mapping", str(input_dir / entry["mapping"]), *files],
            log_dir,
            "import-" + entry["mapping"].removesuffix(".mapping.toml"),
        )
        # "<file>: source s (UTF-8), 1,234 rows: 1,234 new, ..., 0 quarantined → ..."
        for line in step["output"].splitlines():
            if m := re.search(r"([\d,]+) rows: .* ([\d,]+) quarantined", line):
                rows += _number(m.group(1))
                quarantined += _number(m.group(2))
        imports.append(step)

    resolve = timed([*base, "resolve"], log_dir, "resolve")
    m = re.search(r"([\d,]+) (?:candidate pairs|comparisons)", resolve["output"])
    comparisons = _number(m.group(1)) if m else None

    truth_path = input_dir / manifest["truth"]
    evaluation = subprocess.run(
        [*base, "eval", "--truth", str(truth_path)], capture_output=True, text=True, check=True
    ).stdout
    (log_dir / "eval.txt").write_text(evaluation)
    parsed = parse_eval(evaluation)

    links_path = input_dir / "tessera_links.csv"
    # Every read of personal data names a purpose; the benchmark reads as a steward would.
    subprocess.run(
        [*base, "links", "--out", str(links_path), "--purpose", "data_quality"],
        check=True,
        capture_output=True,
    )
    links = pd.read_csv(links_path, dtype=str, keep_default_na=False)
    links = links.rename(columns={"profile_id": "cluster"})
    check, _coverage = score_against_truth(links, read_truth(truth_path))
    crosscheck_ok = (
        check.correct_pairs,
        check.predicted_pairs,
        check.true_pairs,
        check.over_merged_profiles,
    ) == (
        parsed["correct_pairs"],
        parsed["predicted_pairs"],
        parsed["true_pairs"],
        parsed["over_merged_profiles"],
    )

    import_s = sum(step["seconds"] for step in imports)
    result = {
        "system": "tessera",
        "input": manifest["input"],
        "records": rows,
        "quarantined": quarantined,
        "comparisons": comparisons,
        "load_s": round(import_s, 3),
        "resolve_s": resolve["seconds"],
        "total_s": round(import_s + resolve["seconds"], 3),
        "peak_mib": round(max(s["peak_kib"] for s in [*imports, resolve]) / 1024, 1),
        "import_peak_mib": round(max(s["peak_kib"] for s in imports) / 1024, 1),
        "resolve_peak_mib": round(resolve["peak_kib"] / 1024, 1),
        "resolve_output": resolve["output"].strip(),
        "busy_cores_before": other_work,
        "evaluation": parsed,
        "missing_from_clusters": parsed["missing_from_store"],
        "missing_from_truth": parsed["missing_from_truth"],
        "scorer_crosscheck": "agrees" if crosscheck_ok else f"DIFFERS: {check.as_dict()}",
    }
    out_json.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"tessera {manifest['input']}: {rows} rows ({quarantined} quarantined), import "
        f"{import_s:.2f} s, resolve {resolve['seconds']:.2f} s, peak {result['peak_mib']:.0f} MiB;"
        f" pairwise P {parsed['precision']:.4f} R {parsed['recall']:.4f} F1 {parsed['f1']:.4f};"
        f" over-merged {parsed['over_merged_profiles']}; scorer cross-check "
        f"{result['scorer_crosscheck']}"
    )


if __name__ == "__main__":
    main()
