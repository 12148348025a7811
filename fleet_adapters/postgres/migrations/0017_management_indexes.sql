-- fleet:no-transaction
-- Indexes for the management API at 100,000 hosts (docs/performance.md, "Management API at
-- 100,000 hosts", has the plans before and after). Built CONCURRENTLY, so that a running fleet
-- keeps writing while they build; IF [NOT] EXISTS, so that a run cut short can be resumed.

-- The hosts of one software (the software_id filter of the hosts list and count): the host ids
-- come straight from the index, where the old one-column index fetched every row from the heap.
-- It leads with software_id, so it serves the foreign key's cascades as the old one did.
CREATE INDEX CONCURRENTLY IF NOT EXISTS host_software_software_id_host_id_idx ON host_software (software_id, host_id);
DROP INDEX CONCURRENTLY IF EXISTS host_software_software_id_idx;

-- The descending forms of the hosts list's default text orders (0002 has the ascending ones):
-- the list orders by "<key> DESC NULLS LAST, id ASC", which no ascending index serves backwards.
CREATE INDEX CONCURRENTLY IF NOT EXISTS hosts_hostname_desc_order_idx
    ON hosts ((lower(hostname) COLLATE "C") DESC NULLS LAST, id);
CREATE INDEX CONCURRENTLY IF NOT EXISTS hosts_display_name_desc_order_idx
    ON hosts ((lower(COALESCE(NULLIF(computer_name, ''), hostname)) COLLATE "C") DESC NULLS LAST, id);
