-- Identifiers are looked up by kind and value together, so either column order serves the
-- lookup. With the value first, two keys almost always differ in their first column (a few
-- kinds repeat by the million), and building the index after a first run's bulk load sorts
-- about a third faster (5.4M identifiers at 1M persons: 4.2 s -> 2.7 s).
DROP INDEX resolved_identifier_by_value;
CREATE INDEX resolved_identifier_by_value ON resolved_identifier (value, kind);
