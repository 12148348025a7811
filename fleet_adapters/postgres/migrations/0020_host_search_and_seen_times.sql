-- The last slow management queries at 100,000 hosts (docs/performance.md, "Management API at
-- 100,000 hosts"): the host text search and everything that reads the effective seen time.

-- 1. host_seen_times.seen_time becomes the effective seen time itself, the later of every
-- check-in and of hosts.seen_time (which enrollment writes): every host has its row, written here
-- when the host is inserted and whenever hosts.seen_time moves forward. The agents' batched
-- check-in upsert (MARK_SEEN) already keeps the later time, so the column only ever grows.
-- Status filters, the seen_time order, "most recently seen" targets and the summary then read
-- one narrow table and its index instead of GREATEST() over a join of both tables.
CREATE FUNCTION hosts_sync_seen_time() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO host_seen_times AS s (host_id, seen_time) VALUES (NEW.id, NEW.seen_time)
    ON CONFLICT (host_id) DO UPDATE SET seen_time = EXCLUDED.seen_time WHERE s.seen_time < EXCLUDED.seen_time;
    RETURN NULL;
END
$$;
CREATE TRIGGER hosts_seen_time_inserted AFTER INSERT ON hosts
    FOR EACH ROW EXECUTE FUNCTION hosts_sync_seen_time();
-- Only when the time moves forward: a write that leaves seen_time alone costs nothing.
CREATE TRIGGER hosts_seen_time_advanced AFTER UPDATE OF seen_time ON hosts
    FOR EACH ROW WHEN (NEW.seen_time > OLD.seen_time) EXECUTE FUNCTION hosts_sync_seen_time();

INSERT INTO host_seen_times AS s (host_id, seen_time)
SELECT h.id, h.seen_time FROM hosts h ORDER BY h.id
ON CONFLICT (host_id) DO UPDATE SET seen_time = EXCLUDED.seen_time WHERE s.seen_time < EXCLUDED.seen_time;

-- The hosts list orders by "seen_time DESC NULLS LAST, id" (and "most recently seen" targets the
-- same way): this index hands a page over in that order. It replaces the one-column index (range
-- tests such as "seen before" use either), so the check-in upsert maintains one index, as before.
CREATE INDEX host_seen_times_seen_order_idx ON host_seen_times (seen_time DESC NULLS LAST, host_id);
DROP INDEX host_seen_times_seen_time_idx;

-- 2. The text search (hostname, computer_name, uuid, hardware_serial, primary_ip, each as a
-- case-insensitive substring) reads these lowered copies: a narrow table scans in a fraction of
-- the time the wide hosts rows take, and lower() is not computed five times per host per search
-- (that, not reading the rows, was most of the 130 ms at 100,000 hosts). The copies are written
-- when a host is inserted and when one of the five columns changes; a detail write that changes
-- none of them does not touch this table.
CREATE TABLE host_search (
    host_id         bigint PRIMARY KEY CONSTRAINT host_search_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    hostname        text NOT NULL,
    computer_name   text NOT NULL,
    uuid            text NOT NULL,
    hardware_serial text NOT NULL,
    primary_ip      text NOT NULL
);

CREATE FUNCTION hosts_sync_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO host_search AS s (host_id, hostname, computer_name, uuid, hardware_serial, primary_ip)
    VALUES (NEW.id, lower(NEW.hostname), lower(NEW.computer_name), lower(NEW.uuid), lower(NEW.hardware_serial),
            lower(NEW.primary_ip))
    ON CONFLICT (host_id) DO UPDATE
       SET hostname = EXCLUDED.hostname, computer_name = EXCLUDED.computer_name, uuid = EXCLUDED.uuid,
           hardware_serial = EXCLUDED.hardware_serial, primary_ip = EXCLUDED.primary_ip;
    RETURN NULL;
END
$$;
CREATE TRIGGER hosts_search_inserted AFTER INSERT ON hosts
    FOR EACH ROW EXECUTE FUNCTION hosts_sync_search();
CREATE TRIGGER hosts_search_changed AFTER UPDATE OF hostname, computer_name, uuid, hardware_serial, primary_ip ON hosts
    FOR EACH ROW WHEN (OLD.hostname IS DISTINCT FROM NEW.hostname OR OLD.computer_name IS DISTINCT FROM NEW.computer_name
                       OR OLD.uuid IS DISTINCT FROM NEW.uuid OR OLD.hardware_serial IS DISTINCT FROM NEW.hardware_serial
                       OR OLD.primary_ip IS DISTINCT FROM NEW.primary_ip)
    EXECUTE FUNCTION hosts_sync_search();

INSERT INTO host_search (host_id, hostname, computer_name, uuid, hardware_serial, primary_ip)
SELECT h.id, lower(h.hostname), lower(h.computer_name), lower(h.uuid), lower(h.hardware_serial), lower(h.primary_ip)
  FROM hosts h ORDER BY h.id;
