"""The peer for bench/import.sh: load a CSV into SQLite with Python's standard library only.

No validation, no type conversion, no versioning: every row goes in as text, in one transaction.
It is the floor of what "just load the file" costs on this machine.
"""
import csv
import sqlite3
import sys

path, encoding, delimiter, database = sys.argv[1:5]
connection = sqlite3.connect(database)
connection.execute("PRAGMA journal_mode=WAL")
with open(path, newline="", encoding=encoding) as f:
    reader = csv.reader(f, delimiter=delimiter)
    header = next(reader)
    columns = ", ".join(f'c{i} TEXT' for i in range(len(header)))
    connection.execute(f"CREATE TABLE rows (id INTEGER PRIMARY KEY, {columns})")
    placeholders = ", ".join("?" for _ in header)
    with connection:
        connection.executemany(f"INSERT INTO rows VALUES (NULL, {placeholders})", reader)
print(connection.execute("SELECT count(*) FROM rows").fetchone()[0])
