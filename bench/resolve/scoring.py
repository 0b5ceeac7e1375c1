"""Scoring a clustering against the truth, with the same formulas as `tessera eval`.

This is a Python port of `crates/resolve/src/evaluate.rs`, so that Splink's clusters and
Tessera's profiles are scored identically. Pair counts come from the contingency table of
(cluster, true person) intersections, never from enumerating pairs:

- correct pairs   = sum over cells of C(n_ij, 2)
- predicted pairs = sum over clusters of C(a_i, 2)
- true pairs      = sum over persons of C(b_j, 2)
- precision = correct / predicted, recall = correct / true (1.0 when the denominator is 0)
- B-cubed precision/recall: per cell n_ij^2 / a_i (resp. / b_j), summed and divided by records
- over-merged clusters = clusters holding records of two or more true persons
- split persons        = persons whose records are spread over two or more clusters

Only records present in both the clustering and the truth are scored (as `tessera eval` does).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd


@dataclass
class Evaluation:
    """The same fields as Tessera's `Evaluation` struct."""

    records: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    precision: float
    recall: float
    f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    over_merged_profiles: int
    split_persons: int
    profiles: int
    persons: int

    def as_dict(self) -> dict:
        return asdict(self)


def _pairs(sizes: pd.Series) -> int:
    """Sum of C(n, 2) over a series of group sizes, in exact integer arithmetic."""
    n = sizes.astype("int64")
    return int((n * (n - 1) // 2).sum())


def _ratio(numerator: int, denominator: int) -> float:
    return 1.0 if denominator == 0 else numerator / denominator


def _harmonic(p: float, r: float) -> float:
    return 0.0 if p + r == 0.0 else 2.0 * p * r / (p + r)


def evaluate(assignments: pd.DataFrame) -> Evaluation:
    """Scores a frame with one row per record and columns `cluster` and `person`."""
    cells = assignments.groupby(["cluster", "person"], sort=False).size().rename("n").reset_index()
    cluster_sizes = cells.groupby("cluster", sort=False)["n"].sum()
    person_sizes = cells.groupby("person", sort=False)["n"].sum()
    records = int(cells["n"].sum())

    correct = _pairs(cells["n"])
    predicted = _pairs(cluster_sizes)
    true = _pairs(person_sizes)
    precision = _ratio(correct, predicted)
    recall = _ratio(correct, true)

    n = cells["n"].astype("float64")
    bp = float((n * n / cells["cluster"].map(cluster_sizes).astype("float64")).sum())
    br = float((n * n / cells["person"].map(person_sizes).astype("float64")).sum())
    if records == 0:
        bcubed_precision, bcubed_recall = 1.0, 1.0
    else:
        bcubed_precision, bcubed_recall = bp / records, br / records

    persons_per_cluster = cells.groupby("cluster", sort=False).size()
    clusters_per_person = cells.groupby("person", sort=False).size()
    return Evaluation(
        records=records,
        true_pairs=true,
        predicted_pairs=predicted,
        correct_pairs=correct,
        precision=precision,
        recall=recall,
        f1=_harmonic(precision, recall),
        bcubed_precision=bcubed_precision,
        bcubed_recall=bcubed_recall,
        bcubed_f1=_harmonic(bcubed_precision, bcubed_recall),
        over_merged_profiles=int((persons_per_cluster > 1).sum()),
        split_persons=int((clusters_per_person > 1).sum()),
        profiles=len(cluster_sizes),
        persons=len(person_sizes),
    )


def read_truth(path: Path) -> pd.DataFrame:
    """Reads `source,record_id,person_id` as strings (record ids may have leading zeros)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, quoting=csv.QUOTE_MINIMAL)


def score_against_truth(clusters: pd.DataFrame, truth: pd.DataFrame) -> tuple[Evaluation, dict]:
    """Scores `clusters` (columns source, record_id, cluster) against the truth frame.

    Returns the evaluation and coverage counts: truth rows with no cluster and clustered records
    the truth does not mention (both should be 0; they are reported, not scored).
    """
    merged = clusters.merge(truth, on=["source", "record_id"], how="outer", indicator=True)
    coverage = {
        "missing_from_clusters": int((merged["_merge"] == "right_only").sum()),
        "missing_from_truth": int((merged["_merge"] == "left_only").sum()),
    }
    both = merged[merged["_merge"] == "both"]
    frame = pd.DataFrame({"cluster": both["cluster"].astype(str), "person": both["person_id"]})
    return evaluate(frame), coverage


def _self_test() -> None:
    """The cases of the Rust unit tests, so a port mistake shows at once."""
    e = evaluate(pd.DataFrame({"cluster": ["p1", "p1", "p2"], "person": ["a", "a", "b"]}))
    assert (e.precision, e.recall, e.f1, e.bcubed_f1) == (1.0, 1.0, 1.0, 1.0)
    assert (e.over_merged_profiles, e.split_persons) == (0, 0)
    e = evaluate(
        pd.DataFrame({"cluster": ["p1", "p1", "p2", "p1"], "person": ["a", "a", "a", "b"]})
    )
    assert (e.true_pairs, e.predicted_pairs, e.correct_pairs) == (3, 3, 1)
    assert abs(e.precision - 1 / 3) < 1e-12 and abs(e.recall - 1 / 3) < 1e-12
    assert (e.over_merged_profiles, e.split_persons) == (1, 1)
    assert (e.profiles, e.persons, e.records) == (2, 2, 4)
    assert abs(e.bcubed_precision - (5 / 3 + 1) / 4) < 1e-12
    e = evaluate(pd.DataFrame({"cluster": ["p1", "p2"], "person": ["a", "a"]}))
    assert (e.precision, e.recall, e.f1) == (1.0, 0.0, 0.0)


if __name__ == "__main__":
    _self_test()
    print("scoring self-test passed")
