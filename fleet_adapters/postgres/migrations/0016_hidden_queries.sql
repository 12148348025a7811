-- The SQL of an ad-hoc live query is kept as a hidden query record (saved = false), as Fleet
-- does, so that its campaign's query_id names it. Hidden queries are not read through the query
-- API and do not take a name from saved ones; the live-query cleanup job deletes them once no
-- unfinished campaign uses them.
ALTER TABLE queries ADD COLUMN saved boolean NOT NULL DEFAULT true;

-- Names stay unique among saved queries only; the index keeps the constraint's name, which the
-- adapter translates to "a query with this name already exists".
ALTER TABLE queries DROP CONSTRAINT queries_team_id_name_key;
CREATE UNIQUE INDEX queries_team_id_name_key ON queries (team_id, name) NULLS NOT DISTINCT WHERE saved;

CREATE INDEX queries_hidden_idx ON queries (id) WHERE NOT saved;
