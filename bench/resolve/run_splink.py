"""Resolves one prepared input with Splink (DuckDB backend) and scores it like `tessera eval`.

    run_splink.py INPUT_DIR [OUT_JSON]
        (reads INPUT_DIR/manifest.json; writes OUT_JSON, by default INPUT_DIR/splink.json, and
        INPUT_DIR/splink_clusters.csv)

The timed part is what a Splink user would run to go from the prepared files to clusters:
load the CSV file(s) into DuckDB, build the linker, train the model (prior, u by random sampling,
m by expectation maximisation), score every blocked pair (`predict`) and cluster at the
threshold. Peak memory is this process's maximum resident set size at the end of that part
(DuckDB runs inside the process); the maximum after each phase is kept too. Counting the
comparisons (Splink's own blocking analysis: the pairs of the union of the blocking rules, each
pair once, which is what `predict` scores) and scoring come after and are not timed.

The models follow Splink's own documentation (docs/demos/examples/duckdb/):

- FEBRL 3 and FEBRL 4 use the models of the `febrl3` and `febrl4` examples (blocking rules,
  comparisons, deterministic rules for the prior, u from 1e6 random pairs, EM blocked on date of
  birth then postcode). Those examples `predict` at 0.2 and the FEBRL 4 one clusters at 0.99;
  both inputs are clustered at 0.99 here.
- The synthetic city is shaped like the `deduplicate_50k_synthetic` example (forename/surname
  comparison with term frequencies on the full name, date of birth, place; u from 1e7 pairs; EM
  on name then date of birth; cluster at 0.95), with patronymic, sex and the city's identifiers
  (SNILS, passport, work patent, phone, transport card, employer + personnel number) as
  comparisons and the identifiers as blocking rules. INN is left out: only the tax register has
  it, one record per person.

`predict` keeps pairs at match probability 0.2 or more, as the FEBRL examples do. The 50k example
keeps all; the clusters are the same either way (only pairs at or above the cluster threshold are
edges), but keeping all 19 million scored pairs of the 100k city raised the peak from 4 to 11 GiB.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import splink
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_analysis import cumulative_comparisons_to_be_scored_from_blocking_rules_data

from machine import busy_cores
from scoring import read_truth, score_against_truth


def febrl3_model() -> dict:
    """Splink's febrl3 example (dedupe_only)."""
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            block_on("soc_sec_id"),
            block_on("given_name"),
            block_on("surname"),
            block_on("date_of_birth"),
            block_on("postcode"),
        ],
        comparisons=[
            cl.NameComparison("given_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y%m%d"
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode").configure(term_frequency_adjustments=True),
        ],
        retain_intermediate_calculation_columns=False,
    )
    return {
        "settings": settings,
        "deterministic_rules": [
            block_on("soc_sec_id"),
            block_on("given_name", "surname", "date_of_birth"),
            "l.given_name = r.surname and l.surname = r.given_name "
            "and l.date_of_birth = r.date_of_birth",
        ],
        "recall": 0.9,
        "u_max_pairs": 1e6,
        "em_rules": [block_on("date_of_birth"), block_on("postcode")],
        "em_without_tf": False,
        "threshold": 0.99,
    }


def febrl4_model() -> dict:
    """Splink's febrl4 example, its 'detailed' model (link_only)."""
    settings = SettingsCreator(
        unique_id_column_name="rec_id",
        link_type="link_only",
        blocking_rules_to_generate_predictions=[
            block_on("given_name", "surname"),
            "l.given_name = r.surname and l.surname = r.given_name",
            block_on("date_of_birth"),
            block_on("soc_sec_id"),
            block_on("state", "address_1"),
            block_on("street_number", "address_1"),
            block_on("postcode"),
        ],
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth",
                input_is_string=True,
                datetime_format="%Y%m%d",
                invalid_dates_as_null=True,
            ),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
        ],
        retain_intermediate_calculation_columns=False,
    )
    return {
        "settings": settings,
        "deterministic_rules": [
            block_on("soc_sec_id"),
            block_on("given_name", "surname", "date_of_birth"),
        ],
        "recall": 0.8,
        "u_max_pairs": 1e6,
        "em_rules": [block_on("date_of_birth"), block_on("postcode")],
        "em_without_tf": True,
        "threshold": 0.99,
    }


def demo_model() -> dict:
    """The synthetic city: flattened columns from flatten_demo.py (dedupe_only)."""
    # No INN: only the tax register has it, one record per person, so it never links anything.
    identifiers = ["snils", "passport", "patent", "phone", "transport_card", "staff_number"]
    settings = SettingsCreator(
        unique_id_column_name="unique_id",
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[
            *(block_on(column) for column in identifiers),
            block_on("surname", "birth_date"),
            block_on("given_name", "birth_date"),
            block_on("surname", "given_name"),
            "l.given_name = r.surname and l.surname = r.given_name",
        ],
        comparisons=[
            cl.ForenameSurnameComparison(
                "given_name", "surname", forename_surname_concat_col_name="given_surname"
            ),
            cl.NameComparison("patronymic"),
            cl.DateOfBirthComparison(
                "birth_date", input_is_string=True, datetime_format="%Y-%m-%d"
            ),
            cl.ExactMatch("sex"),
            *(cl.ExactMatch(column) for column in identifiers),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
        ],
        retain_intermediate_calculation_columns=False,
    )
    return {
        "settings": settings,
        "deterministic_rules": [
            block_on("snils"),
            block_on("passport"),
            block_on("surname", "given_name", "birth_date"),
        ],
        "recall": 0.7,
        "u_max_pairs": 1e7,
        "em_rules": [block_on("surname", "given_name"), block_on("birth_date")],
        "em_without_tf": True,
        "threshold": 0.95,
        # As in the 50k example: the full name in one column, for term frequencies on it.
        "derived": "given_name || ' ' || surname AS given_surname",
    }


PREDICT_THRESHOLD = 0.2


def peak_mib() -> float:
    """This process's maximum resident set so far (ru_maxrss is in KiB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def choose_model(manifest: dict) -> dict:
    if manifest["model"] == "demo":
        return demo_model()
    if manifest["splink"]["link_type"] == "link_only":
        return febrl4_model()
    return febrl3_model()


def load_tables(
    con: duckdb.DuckDBPyConnection, input_dir: Path, splink_spec: dict, derived: str | None
) -> list[str]:
    """Each prepared CSV into a DuckDB table, every column as text (empty -> NULL).

    A table with a known source gets `source_dataset` (Splink's name for it when linking several
    tables) and the scoring columns `source` and `record_id`.
    """
    names = []
    for i, table in enumerate(splink_spec["tables"]):
        name = f"input_{i}"
        path = str(input_dir / table["file"]).replace("'", "''")
        extra = f", {derived}" if derived else ""
        if table["source"] is not None:
            source = table["source"].replace("'", "''")
            uid = splink_spec["unique_id"]
            extra += f", '{source}' AS source_dataset, '{source}' AS source, {uid} AS record_id"
        con.execute(
            f"CREATE TABLE {name} AS SELECT *{extra} "
            f"FROM read_csv('{path}', header = true, all_varchar = true)"
        )
        names.append(name)
    return names


def main() -> None:
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: run_splink.py INPUT_DIR [OUT_JSON]")
    input_dir = Path(sys.argv[1])
    out_json = Path(sys.argv[2]) if len(sys.argv) == 3 else input_dir / "splink.json"
    manifest = json.loads((input_dir / "manifest.json").read_text())
    model = choose_model(manifest)
    timings: dict[str, float] = {}
    other_work = busy_cores()  # cores busy with other work just before: skews the timings

    started = time.perf_counter()
    con = duckdb.connect()
    tables = load_tables(con, input_dir, manifest["splink"], model.get("derived"))
    timings["load_s"] = time.perf_counter() - started
    peaks = {"after_load": peak_mib()}

    mark = time.perf_counter()
    linker = Linker(tables, model["settings"], DuckDBAPI(connection=con))
    linker.training.estimate_probability_two_random_records_match(
        model["deterministic_rules"], recall=model["recall"]
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=model["u_max_pairs"], seed=1)
    for rule in model["em_rules"]:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=model["em_without_tf"]
        )
    timings["train_s"] = time.perf_counter() - mark
    peaks["after_train"] = peak_mib()

    mark = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=PREDICT_THRESHOLD)
    timings["predict_s"] = time.perf_counter() - mark
    peaks["after_predict"] = peak_mib()

    mark = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=model["threshold"]
    )
    timings["cluster_s"] = time.perf_counter() - mark
    timings["resolve_s"] = time.perf_counter() - started - timings["load_s"]
    timings["total_s"] = time.perf_counter() - started
    peaks["after_cluster"] = peak_mib()

    # Untimed: comparison count, cluster assignments, scoring.
    settings = model["settings"]
    counts = cumulative_comparisons_to_be_scored_from_blocking_rules_data(
        table_or_tables=tables,
        blocking_rules=settings.blocking_rules_to_generate_predictions,
        link_type=settings.link_type,
        db_api=DuckDBAPI(connection=con),
        unique_id_column_name=settings.unique_id_column_name,
        source_dataset_column_name="source_dataset" if len(tables) > 1 else None,
    )
    comparisons = int(counts["row_count"].sum())
    kept = con.sql(f"SELECT count(*) FROM {predictions.physical_name}").fetchone()[0]
    assigned = con.sql(
        f"SELECT CAST(cluster_id AS VARCHAR) AS cluster, source, record_id "
        f"FROM {clusters.physical_name}"
    ).df()
    assigned.to_csv(input_dir / "splink_clusters.csv", index=False)
    evaluation, coverage = score_against_truth(
        assigned[["source", "record_id", "cluster"]], read_truth(input_dir / manifest["truth"])
    )

    result = {
        "system": "splink",
        "input": manifest["input"],
        "records": len(assigned),
        "comparisons": int(comparisons),
        **{k: round(v, 3) for k, v in timings.items()},
        "peak_mib": peaks["after_cluster"],
        "peaks_mib": peaks,
        "predictions_kept": int(kept),
        "predict_threshold": PREDICT_THRESHOLD,
        "threshold": model["threshold"],
        "busy_cores_before": other_work,
        "link_type": manifest["splink"]["link_type"],
        "evaluation": evaluation.as_dict(),
        **coverage,
        "versions": {
            "splink": splink.__version__,
            "duckdb": duckdb.__version__,
            "pandas": pd.__version__,
        },
    }
    out_json.write_text(json.dumps(result, indent=2) + "\n")
    e = evaluation
    print(
        f"splink {manifest['input']}: {len(assigned)} records, {comparisons} comparisons, "
        f"{timings['total_s']:.2f} s, {peaks['after_cluster']:.0f} MiB; "
        f"pairwise P {e.precision:.4f} R {e.recall:.4f} F1 {e.f1:.4f}; "
        f"over-merged {e.over_merged_profiles}"
    )


if __name__ == "__main__":
    main()
