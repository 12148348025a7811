-- Saved queries. A name is unique among the global queries (team_id NULL) and within each team.
-- author_id has no foreign key: a query outlives the user who wrote it.
CREATE TABLE queries (
    id                  bigserial PRIMARY KEY,
    team_id             bigint NULL CONSTRAINT queries_team_id_fkey REFERENCES teams (id) ON DELETE CASCADE,
    name                text NOT NULL,
    description         text NOT NULL DEFAULT '',
    query               text NOT NULL,
    observer_can_run    boolean NOT NULL DEFAULT false,
    interval            integer NOT NULL DEFAULT 0,
    platform            text NOT NULL DEFAULT '',
    min_osquery_version text NOT NULL DEFAULT '',
    automations_enabled boolean NOT NULL DEFAULT false,
    logging             text NOT NULL DEFAULT 'snapshot'
        CONSTRAINT queries_logging_check
        CHECK (logging IN ('snapshot', 'differential', 'differential_ignore_removals')),
    author_id           bigint NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT queries_team_id_name_key UNIQUE NULLS NOT DISTINCT (team_id, name)
);
