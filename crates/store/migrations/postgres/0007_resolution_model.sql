-- The model the newest batch run learned (`Model::to_stored`'s JSON): incremental runs,
-- explanations and a starting server score with it instead of learning again from every record,
-- and it is the model that made the batch's profiles. Only the newest is kept.
CREATE TABLE resolution_model (
    run    BIGINT  PRIMARY KEY REFERENCES resolution_run (id),
    model  TEXT    NOT NULL
);
