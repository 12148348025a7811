-- File carves (Fleet's carve_metadata and carve_blocks). A carve belongs to its host and goes
-- with it, as in Fleet; blocks go with their carve. max_block is the highest block stored so far
-- (-1: none yet); blocks are stored strictly in order. Names are not unique here (Fleet's are):
-- two carves of one host with the same request in the same second would otherwise collide.
CREATE TABLE carve_metadata (
    id          bigserial PRIMARY KEY,
    host_id     bigint NOT NULL
        CONSTRAINT carve_metadata_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    name        text NOT NULL,
    block_count bigint NOT NULL,
    block_size  bigint NOT NULL,
    carve_size  bigint NOT NULL,
    carve_id    text NOT NULL,
    request_id  text NOT NULL,
    session_id  text NOT NULL CONSTRAINT carve_metadata_session_id_key UNIQUE,
    expired     boolean NOT NULL DEFAULT false,
    max_block   bigint NOT NULL DEFAULT -1,
    error       text NULL
);

CREATE INDEX carve_metadata_host_id_idx ON carve_metadata (host_id);
-- The expiry pass looks for unexpired carves by age.
CREATE INDEX carve_metadata_unexpired_idx ON carve_metadata (created_at) WHERE NOT expired;

CREATE TABLE carve_blocks (
    metadata_id bigint NOT NULL
        CONSTRAINT carve_blocks_metadata_id_fkey REFERENCES carve_metadata (id) ON DELETE CASCADE,
    block_id    bigint NOT NULL,
    data        bytea NOT NULL,
    PRIMARY KEY (metadata_id, block_id)
);
