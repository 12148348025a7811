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
