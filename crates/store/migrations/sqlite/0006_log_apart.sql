-- The access log moved to its own database file (see ../sqlite-log/0001_access_log.sql); its
-- rows were copied there, and checked, before this runs (SqliteStore::open).
DROP TABLE access_log;
