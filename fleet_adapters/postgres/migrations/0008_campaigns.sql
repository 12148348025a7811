-- Live query campaigns. status: 0 waiting, 1 running, 2 complete. query_id is NULL for ad-hoc SQL;
-- the SQL is kept on the campaign so it outlives edits and deletion of the saved query.
-- user_id has no foreign key: the campaign is history and outlives its creator.
CREATE TABLE distributed_query_campaigns (
    id          bigserial PRIMARY KEY,
    query_id    bigint NULL,
    query       text NOT NULL,
    user_id     bigint NOT NULL,
    status      smallint NOT NULL DEFAULT 0
        CONSTRAINT distributed_query_campaigns_status_check CHECK (status IN (0, 1, 2)),
    host_ids    bigint[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- The cleanup job looks for unfinished campaigns by age.
CREATE INDEX distributed_query_campaigns_open_idx
    ON distributed_query_campaigns (created_at) WHERE status < 2;

-- What the creator selected: type 0 host, 1 label, 2 team (Fleet's target types).
CREATE TABLE distributed_query_campaign_targets (
    id                          bigserial PRIMARY KEY,
    distributed_query_campaign_id bigint NOT NULL
        CONSTRAINT distributed_query_campaign_targets_campaign_fkey
        REFERENCES distributed_query_campaigns (id) ON DELETE CASCADE,
    type                        smallint NOT NULL
        CONSTRAINT distributed_query_campaign_targets_type_check CHECK (type IN (0, 1, 2)),
    target_id                   bigint NOT NULL
);

CREATE INDEX distributed_query_campaign_targets_campaign_idx
    ON distributed_query_campaign_targets (distributed_query_campaign_id);
