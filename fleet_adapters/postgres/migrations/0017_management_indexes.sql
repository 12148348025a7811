-- Indexes for the management API at 100,000 hosts (docs/performance.md, "Management API at
-- 100,000 hosts", has the plans before and after). Plain (not CONCURRENTLY) builds: a concurrent
-- build waits for every open transaction, a second migration runner's included, and deadlocks
-- with it; on a large fleet, run the migration while the servers are stopped (it takes about a
-- minute per 100,000 hosts, most of it the host_software index).

-- The hosts of one software (the software_id filter of the hosts list and count): the host ids
-- come straight from the index, where the old one-column index fetched every row from the heap.
-- It leads with software_id, so it serves the foreign key's cascades as the old one did.
CREATE INDEX host_software_software_id_host_id_idx ON host_software (software_id, host_id);
DROP INDEX host_software_software_id_idx;

-- The descending forms of the hosts list's default text orders (0002 has the ascending ones):
-- the list orders by "<key> DESC NULLS LAST, id ASC", which no ascending index serves backwards.
CREATE INDEX hosts_hostname_desc_order_idx ON hosts ((lower(hostname) COLLATE "C") DESC NULLS LAST, id);
CREATE INDEX hosts_display_name_desc_order_idx
    ON hosts ((lower(COALESCE(NULLIF(computer_name, ''), hostname)) COLLATE "C") DESC NULLS LAST, id);
