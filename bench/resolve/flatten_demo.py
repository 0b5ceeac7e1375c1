"""Flattens the synthetic city's five agency exports into one table for Splink.

Tessera imports each export as it is, through its mapping file. Splink needs one table with
common columns, so this module reads every source *as its mapping describes it* (format,
encoding, delimiter, null values, which column or JSON path holds which target) and writes one
row per source record with these columns:

    unique_id, source, record_id, surname, given_name, patronymic, birth_date, sex,
    phone, snils, inn, passport, patent, transport_card, staff_number, address

It is a pragmatic flattener, not a second resolver. Its simplifications (also in README.md):

- Names are reduced to a coarse Latin "skeleton" so that Cyrillic and the several Latin
  transliterations (ICAO, old passports, BGN/PCGN, GOST 7.79-B, Uzbek Latin) of one name meet:
  Cyrillic is transliterated with one simple table, then every name is lower-cased, stripped of
  diacritics and apostrophes, and folded (kh/x -> h, ts/cz/ch -> c, zh/j/y -> i, ya/ia -> a,
  yu/iu -> u, doubled letters -> one, ...). Distinct names can collide; this is deliberate.
- A whole name in one field (`name.full`, order "any") is split by heuristics: a patronymic is
  recognised by its ending (-vich, -vna, -ichna, -ich) or a Central Asian particle (uulu, kyzy,
  ogli, ...); without one, the word with the stronger surname ending (-ov, -eva, -skii over -in,
  -ina, -ko) is the surname, and surname-first is assumed on a tie. Particles are dropped from
  patronymics.
- Birth dates are parsed with the mapping's formats into ISO `YYYY-MM-DD`; a date known only to
  the month or year is left empty (Splink's date comparison needs a full date).
- Identifiers are reduced to their digits (a passport to upper-case letters and digits); a
  Russian phone number to its last ten digits. No check digits are verified: a mistyped SNILS
  stays in and simply fails to match.
- Both `address.registered` and `address.actual` become `address`, reduced to the sorted words
  of the street name followed by the house, building and flat numbers, without "г. Москва",
  street types and "д./корп./кв." markers.
- `employment.employer_inn` and `employment.personnel_number` become `staff_number`
  (`INN#number`: one employee of one employer), as Tessera's resolver uses them.
- Fields Splink is not given: OMS policy (only one source has it), car plates (shared by a
  household), relations (the school's phone is the parent's), the rest of employment,
  education, income, health notes and observed-at dates.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import tomllib
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

COLUMNS = [
    "unique_id",
    "source",
    "record_id",
    "surname",
    "given_name",
    "patronymic",
    "birth_date",
    "sex",
    "phone",
    "snils",
    "inn",
    "passport",
    "patent",
    "transport_card",
    "staff_number",
    "address",
]

# --------------------------------------------------------------------------------------------
# Names

# Russian letters and the Central Asian Cyrillic ones, to a simple Latin form.
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu",
    "я": "ia", "ғ": "g", "қ": "k", "ҳ": "h", "ӯ": "u", "ӣ": "i", "ҷ": "j", "ў": "u",
    "ү": "u", "ө": "o", "ң": "n", "і": "i",
}  # fmt: skip

# Applied in order to the Latin text; each folds spellings of one sound together.
_FOLDS = [
    (re.compile(r"shch|shh|sch"), "sh"),
    (re.compile(r"kh|x"), "h"),
    (re.compile(r"cz|tz|ts|tc|ch|c"), "c"),
    (re.compile(r"zh|dzh|dj"), "j"),
    (re.compile(r"[iyj]+a"), "a"),
    (re.compile(r"[iyj]+u"), "u"),
    (re.compile(r"[iyj]+e"), "e"),
    (re.compile(r"[iyj]+o"), "o"),
    (re.compile(r"[iyj]+"), "i"),
    (re.compile(r"q"), "k"),
    (re.compile(r"w"), "v"),
    (re.compile(r"(.)\1+"), r"\1"),
]

# Central Asian patronymic particles ("Azamat uulu", "Sherzod o'g'li"), after folding.
_PARTICLES = {"uulu", "ulu", "kizi", "kiz", "ogli", "ogl", "ugli", "oglu"}
_PATRONYMIC_ENDINGS = ("ic", "vna", "icna")  # -ovich and Ilyich, -ovna, -inichna
# Surname endings after folding: strong ones (-ov, -eva, -skii) outrank weak ones (-in, -ko),
# which also end common given names (Irina, Marina).
_STRONG_SURNAME_ENDINGS = ("ov", "ova", "ev", "eva", "ski", "ska")
_WEAK_SURNAME_ENDINGS = ("in", "ina", "ko", "uk", "dze", "ili", "zoda", "zade", "ih")


def latin_key(text: str | None) -> str | None:
    """A coarse Latin skeleton of a name, equal across scripts and transliteration systems."""
    if not text:
        return None
    lowered = text.lower()
    latin = "".join(_CYRILLIC.get(ch, ch) for ch in lowered)
    # Strip diacritics (ë, o', g' come out as plain letters) and keep letters, spaces, hyphens.
    latin = unicodedata.normalize("NFKD", latin)
    latin = "".join(ch for ch in latin if ch.isascii() and (ch.isalpha() or ch in " -"))
    words = []
    for word in re.split(r"[\s-]+", latin):
        for pattern, replacement in _FOLDS:
            word = pattern.sub(replacement, word)
        if word:
            words.append(word)
    return " ".join(words) or None


def _is_patronymic(key: str) -> bool:
    words = key.split()
    return words[-1] in _PARTICLES or words[0].endswith(_PATRONYMIC_ENDINGS)


def _surname_strength(unit: str) -> int:
    if unit.endswith(_STRONG_SURNAME_ENDINGS):
        return 2
    return 1 if unit.endswith(_WEAK_SURNAME_ENDINGS) else 0


def _patronymic(key: str | None) -> str | None:
    """A patronymic without its particle: "sherzod ogli" -> "sherzod"."""
    if not key:
        return None
    words = [w for w in key.split() if w not in _PARTICLES]
    return " ".join(words) or None


def split_full_name(text: str | None, order: str) -> tuple[str | None, str | None, str | None]:
    """(surname, given, patronymic) skeletons from a whole name, see the module docstring."""
    key = latin_key(text)
    if not key:
        return None, None, None
    # Group the words into units: a particle belongs to the word before it.
    units: list[str] = []
    for word in key.split():
        if word in _PARTICLES and units:
            units[-1] = f"{units[-1]} {word}"
        else:
            units.append(word)
    if len(units) == 1:
        return units[0], None, None
    if order == "surname_first":
        surname_first = True
    elif order == "given_first":
        surname_first = False
    elif len(units) >= 3:
        # S G P ... unless the middle unit is the patronymic (G P S).
        surname_first = not (_is_patronymic(units[1]) and not _is_patronymic(units[-1]))
    else:
        surname_first = _surname_strength(units[0]) >= _surname_strength(units[1])
    if surname_first:
        surname, given, rest = units[0], units[1], units[2:]
    else:
        given, rest, surname = units[0], units[1:-1], units[-1]
    patronymic = _patronymic(" ".join(rest)) if rest else None
    return surname, given, patronymic


# --------------------------------------------------------------------------------------------
# Dates, identifiers, addresses


def parse_date(text: str | None, formats: list[str]) -> str | None:
    """ISO date from the first matching format (chrono and strptime agree on these)."""
    if not text:
        return None
    for fmt in formats:
        if "%d" not in fmt:
            continue  # month or year precision: not usable by Splink's date comparison
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def digits(text: str | None) -> str | None:
    if not text:
        return None
    out = re.sub(r"\D", "", text)
    return out or None


def phone(text: str | None) -> str | None:
    """Russian numbers (+7 / 8 / ten digits) to their ten digits; others to all digits."""
    out = digits(text)
    if out is None:
        return None
    if text.strip().startswith("00"):
        out = out[2:]
    if len(out) == 11 and out[0] in "78":
        return out[1:]
    return out


def document(text: str | None) -> str | None:
    if not text:
        return None
    out = re.sub(r"[^0-9A-Za-zА-Яа-я]", "", text).upper()
    return out or None


_ADDRESS_NOISE = {
    "г", "москва", "ул", "улица", "пр", "т", "проспект", "ш", "шоссе", "б", "р", "бульвар",
    "пер", "переулок", "проезд", "д", "дом", "к", "корп", "корпус", "кв", "квартира",
}  # fmt: skip


def address(text: str | None) -> str | None:
    """Street words sorted, then the numbers in order: 'садовая 94 387'."""
    if not text:
        return None
    lowered = text.lower().replace("ё", "е")
    tokens = re.findall(r"\d+|[^\W\d_]+", lowered)
    words = sorted(t for t in tokens if not t.isdigit() and t not in _ADDRESS_NOISE)
    numbers = [t for t in tokens if t.isdigit()]
    out = " ".join(words + numbers)
    return out or None


# --------------------------------------------------------------------------------------------
# Reading a source as its mapping says


def _python_encoding(mapping_encoding: str) -> str:
    # utf-8-sig also reads a BOM-less file; the importer reads any BOM file as UTF-8.
    return {
        "utf-8": "utf-8-sig",
        "auto": "utf-8-sig",
        "windows-1251": "cp1251",
        "koi8-r": "koi8_r",
        "ibm866": "cp866",
    }[mapping_encoding]


def _rows(data_path: Path, source: dict) -> Iterator[dict]:
    """Raw rows as dicts (JSON rows keep their nesting)."""
    fmt = source["format"]
    encoding = _python_encoding(source.get("encoding", "auto"))
    if fmt == "csv":
        delimiter = source.get("delimiter", ",")
        delimiter = "\t" if delimiter == "\\t" else delimiter
        with open(data_path, encoding=encoding, newline="") as f:
            if source.get("header", True):
                yield from csv.DictReader(f, delimiter=delimiter)
            else:
                for row in csv.reader(f, delimiter=delimiter):
                    yield {str(i + 1): value for i, value in enumerate(row)}
    elif fmt == "ndjson":
        with open(data_path, encoding=encoding) as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)
    elif fmt == "json":
        with open(data_path, encoding="utf-8-sig") as f:
            yield from json.load(f)
    else:
        raise ValueError(f"unknown format {fmt!r}")


def _lookup(row: dict, column: str):
    """A CSV column, or a dotted JSON path (`student.surname`, `phones.0`)."""
    if column in row:
        return row[column]
    value = row
    for part in column.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def flatten_source(mapping_path: Path, data_path: Path) -> Iterator[dict]:
    """One flattened row per row of `data_path`, read as `mapping_path` describes."""
    mapping = tomllib.loads(mapping_path.read_text(encoding="utf-8"))
    source = mapping["source"]
    nulls = set(source.get("null_values", [""]))
    fields = mapping["field"]
    for row in _rows(data_path, source):
        out = dict.fromkeys(COLUMNS)
        out["source"] = source["name"]
        keys = []
        employer_inn = personnel_number = None
        for field in fields:
            raw = field["value"] if "value" in field else _lookup(row, field["column"])
            text = None if raw is None else str(raw).strip()
            if text in nulls:
                text = None
            if text is not None and "codes" in field:
                text = field["codes"].get(text, field.get("codes_default"))
            target = field["target"]
            if target == "record.key":
                keys.append(text or "")
            elif target == "name.full":
                s, g, p = split_full_name(text, field.get("order", "any"))
                out["surname"] = out["surname"] or s
                out["given_name"] = out["given_name"] or g
                out["patronymic"] = out["patronymic"] or p
            elif target == "name.surname":
                out["surname"] = latin_key(text)
            elif target == "name.given":
                out["given_name"] = latin_key(text)
            elif target == "name.patronymic":
                out["patronymic"] = _patronymic(latin_key(text))
            elif target == "birth_date":
                out["birth_date"] = parse_date(text, field.get("formats", []))
            elif target == "sex":
                out["sex"] = {"male": "m", "female": "f"}.get(text or "")
            elif target == "id.phone":
                out["phone"] = phone(text)
            elif target in ("id.snils", "id.inn", "id.transport_card"):
                out[target.removeprefix("id.")] = digits(text)
            elif target in ("id.passport_rf", "id.passport_foreign"):
                out["passport"] = document(text)
            elif target == "id.work_patent":
                out["patent"] = digits(text)
            elif target in ("address.registered", "address.actual"):
                out["address"] = out["address"] or address(text)
            elif target == "employment.employer_inn":
                employer_inn = digits(text)
            elif target == "employment.personnel_number":
                personnel_number = text
        if employer_inn and personnel_number:
            out["staff_number"] = f"{employer_inn}#{personnel_number}"
        out["record_id"] = "|".join(keys)
        yield out


def data_file_for(mapping_path: Path) -> Path:
    """`<source>.mapping.toml` -> the one `<source>.<ext>` data file beside it."""
    stem = mapping_path.name.removesuffix(".mapping.toml")
    candidates = [
        p
        for p in mapping_path.parent.glob(f"{stem}.*")
        if p != mapping_path and p.suffix in (".csv", ".ndjson", ".json")
    ]
    if len(candidates) != 1:
        raise FileNotFoundError(f"expected one data file for {mapping_path}, found {candidates}")
    return candidates[0]


def flatten_city(city_dir: Path, out_path: Path) -> int:
    """Flattens every `<source>.mapping.toml` + data file in `city_dir`; returns the row count."""
    count = 0
    with open(out_path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for mapping_path in sorted(city_dir.glob("*.mapping.toml")):
            for row in flatten_source(mapping_path, data_file_for(mapping_path)):
                row["unique_id"] = count
                writer.writerow(row)
                count += 1
    return count


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: flatten_demo.py CITY_DIR OUT_CSV")
    n = flatten_city(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"flattened {n} records into {sys.argv[2]}")
