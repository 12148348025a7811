-- Packs and their scheduled queries. pack_type is NULL for a user pack, 'global' for the global
-- schedule's pack and 'team-<id>' for a team schedule's pack (which goes with its team). Targets and
-- entries cascade from whatever they point at, so no pack ever names a deleted host, label, team
-- or query.
CREATE TABLE packs (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL CONSTRAINT packs_name_key UNIQUE,
    description text NOT NULL DEFAULT '',
    disabled    boolean NOT NULL DEFAULT false,
    pack_type   text NULL,
    team_id     bigint NULL CONSTRAINT packs_team_id_fkey REFERENCES teams (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT packs_team_id_key UNIQUE (team_id),
    CONSTRAINT packs_type_check CHECK (
        (pack_type IS NULL AND team_id IS NULL)
        OR (pack_type = 'global' AND team_id IS NULL AND name = 'Global')
        OR (team_id IS NOT NULL AND pack_type = 'team-' || team_id AND name = pack_type))
);
CREATE UNIQUE INDEX packs_global_key ON packs (pack_type) WHERE pack_type = 'global';

CREATE TABLE pack_target_hosts (
    pack_id bigint NOT NULL CONSTRAINT pack_target_hosts_pack_id_fkey REFERENCES packs (id) ON DELETE CASCADE,
    host_id bigint NOT NULL CONSTRAINT pack_target_hosts_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    CONSTRAINT pack_target_hosts_pkey PRIMARY KEY (pack_id, host_id)
);
CREATE INDEX pack_target_hosts_host_id_idx ON pack_target_hosts (host_id);

CREATE TABLE pack_target_labels (
    pack_id  bigint NOT NULL CONSTRAINT pack_target_labels_pack_id_fkey REFERENCES packs (id) ON DELETE CASCADE,
    label_id bigint NOT NULL CONSTRAINT pack_target_labels_label_id_fkey REFERENCES labels (id) ON DELETE CASCADE,
    CONSTRAINT pack_target_labels_pkey PRIMARY KEY (pack_id, label_id)
);
CREATE INDEX pack_target_labels_label_id_idx ON pack_target_labels (label_id);

CREATE TABLE pack_target_teams (
    pack_id bigint NOT NULL CONSTRAINT pack_target_teams_pack_id_fkey REFERENCES packs (id) ON DELETE CASCADE,
    team_id bigint NOT NULL CONSTRAINT pack_target_teams_team_id_fkey REFERENCES teams (id) ON DELETE CASCADE,
    CONSTRAINT pack_target_teams_pkey PRIMARY KEY (pack_id, team_id)
);
CREATE INDEX pack_target_teams_team_id_idx ON pack_target_teams (team_id);

-- name is the query's name when it was scheduled: the key of the entry in the agent's pack.
CREATE TABLE scheduled_queries (
    id         bigserial PRIMARY KEY,
    pack_id    bigint NOT NULL CONSTRAINT scheduled_queries_pack_id_fkey REFERENCES packs (id) ON DELETE CASCADE,
    query_id   bigint NOT NULL CONSTRAINT scheduled_queries_query_id_fkey REFERENCES queries (id) ON DELETE CASCADE,
    name       text NOT NULL,
    interval   integer NOT NULL CONSTRAINT scheduled_queries_interval_check CHECK (interval > 0),
    snapshot   boolean NULL,
    removed    boolean NULL,
    platform   text NULL,
    version    text NULL,
    shard      integer NULL CONSTRAINT scheduled_queries_shard_check CHECK (shard BETWEEN 0 AND 100),
    denylist   boolean NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT scheduled_queries_pack_id_name_key UNIQUE (pack_id, name)
);
CREATE INDEX scheduled_queries_query_id_idx ON scheduled_queries (query_id);
