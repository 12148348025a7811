-- Digests of the lists a host's last detail answer reported, so that a refresh reporting the same
-- users, emails or batteries skips their statements (as host_software_checksums does for software).
-- NULL: not reported since this table exists. Only the detail write (hosts/identity.py) writes
-- these lists, in the same transaction as their digest.
CREATE TABLE host_list_checksums (
    host_id   bigint PRIMARY KEY CONSTRAINT host_list_checksums_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    users     bytea NULL,
    emails    bytea NULL,
    batteries bytea NULL
);
