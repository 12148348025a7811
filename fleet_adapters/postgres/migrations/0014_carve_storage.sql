-- Carve blocks may live outside Postgres (an S3 bucket): the metadata now records each
-- acknowledged block's sha256, so a retried block is told from a different one without reading
-- the store, and when the first block arrived, which is when the 24 hours of a carve start.
ALTER TABLE carve_metadata ADD COLUMN first_block_at timestamptz NULL;

-- The expiry pass looks for unexpired carves by the start of their 24 hours.
CREATE INDEX carve_metadata_expiry_idx ON carve_metadata ((COALESCE(first_block_at, created_at))) WHERE NOT expired;

CREATE TABLE carve_block_digests (
    metadata_id bigint NOT NULL
        CONSTRAINT carve_block_digests_metadata_id_fkey REFERENCES carve_metadata (id) ON DELETE CASCADE,
    block_id    bigint NOT NULL,
    sha256      bytea NOT NULL,
    PRIMARY KEY (metadata_id, block_id)
);

-- Carve blocks are stored as they come: agents often zstd-compress carves already, and trying to
-- compress megabytes per block again costs the database CPU on every write for little gain.
ALTER TABLE carve_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
