-- What lets several processes resolve against one database: each run says what kind it was
-- (a batch may re-cluster anything; incremental and online runs only add records to profiles,
-- create profiles and merge them), and every assignment an incremental or online run writes
-- carries that run, so another process can take in exactly what changed since it last looked.
-- Batch runs write no run number (a process that sees a batch run since rebuilds instead).
ALTER TABLE resolution_run ADD COLUMN kind TEXT NOT NULL DEFAULT 'batch'
    CHECK (kind IN ('batch', 'incremental', 'online'));
ALTER TABLE profile_member ADD COLUMN run BIGINT;
CREATE INDEX profile_member_by_run ON profile_member (run) WHERE run IS NOT NULL;
CREATE INDEX profile_event_by_run ON profile_event (run);
