-- Vulnerabilities found on software rows by the vulnerability job, and what the feeds say about
-- each CVE. software_cve.created_at is when the row was first found vulnerable to the CVE: a
-- re-run keeps it (it upserts only what changed and deletes what no longer applies).
CREATE TABLE cve_meta (
    cve                text PRIMARY KEY,
    cvss_score         double precision NULL,
    epss_probability   double precision NULL,
    cisa_known_exploit boolean NULL,
    published          timestamptz NULL,
    description        text NOT NULL DEFAULT ''
);

CREATE TABLE software_cve (
    software_id         bigint NOT NULL CONSTRAINT software_cve_software_id_fkey REFERENCES software (id) ON DELETE CASCADE,
    cve                 text NOT NULL,
    resolved_in_version text NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT software_cve_pkey PRIMARY KEY (software_id, cve)
);
CREATE INDEX software_cve_cve_idx ON software_cve (cve);
CREATE INDEX software_cve_created_at_idx ON software_cve (created_at);

-- Software as its own aggregate: one row per distinct (name, version, source, release, vendor,
-- arch, bundle_identifier, extension_id, browser), shared by every host that reports it.
-- generated_cpe is set by the vulnerability job ('' when the CPE dictionary has no match).
ALTER TABLE software
    ADD COLUMN extension_id  text NOT NULL DEFAULT '',
    ADD COLUMN browser       text NOT NULL DEFAULT '',
    ADD COLUMN generated_cpe text NOT NULL DEFAULT '';
ALTER TABLE software DROP CONSTRAINT software_name_version_source_key;
ALTER TABLE software ADD CONSTRAINT software_identity_key
    UNIQUE (name, version, source, release, vendor, arch, bundle_identifier, extension_id, browser);

-- When the host first reported each software it has. A host re-reports its whole set with each
-- detail answer, so every link it has was last reported at the host's detail_updated_at
-- (host_software_checksums.updated_at says when the set last changed).
ALTER TABLE host_software ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- A digest of each host's last software answer: an unchanged answer is recognised by one read
-- and costs no write.
CREATE TABLE host_software_checksums (
    host_id    bigint PRIMARY KEY CONSTRAINT host_software_checksums_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    checksum   bytea NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Fleet's software_host_counts: how many hosts have each software, fleet-wide (team_id 0,
-- global_stats true), in no team (team_id 0, global_stats false) and per team; refreshed by a
-- background job so listing never counts host_software at request time.
CREATE TABLE software_host_counts (
    software_id  bigint NOT NULL CONSTRAINT software_host_counts_software_id_fkey REFERENCES software (id) ON DELETE CASCADE,
    team_id      bigint NOT NULL,
    global_stats boolean NOT NULL,
    hosts_count  integer NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT software_host_counts_pkey PRIMARY KEY (software_id, team_id, global_stats)
);
CREATE INDEX software_host_counts_scope_idx ON software_host_counts (team_id, global_stats, hosts_count);

-- One row: when the counts were last refreshed (NULL: never), and the vulnerability job's state
-- (what its last complete run saw). One run at a time is the schedule lock's job
-- (fleet_adapters/postgres/schedule_lock.py), not this table's.
CREATE TABLE software_jobs_state (
    id                      smallint PRIMARY KEY CONSTRAINT software_jobs_state_one_row CHECK (id = 1),
    counts_updated_at       timestamptz NULL,
    vuln_feed_version       text NULL,
    vuln_software_version   text NULL,
    vuln_finished_at        timestamptz NULL
);
INSERT INTO software_jobs_state (id) VALUES (1);
