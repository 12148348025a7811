-- What a pack and a policy look like when read, defined once: every read of one or of a list
-- selects from these views with its own WHERE, instead of repeating the same joins and
-- subselects in each statement. Both are simple views, so Postgres inlines them into each query
-- and leaves out the columns a query does not use (the agent-config catalogue reads a pack's
-- targets without computing its counts).

-- A pack with its targets and two counts. The global schedule reaches every host and a team
-- schedule the team's; a user pack the union of its hosts, its labels' members and its teams'
-- hosts.
CREATE VIEW pack_details AS
SELECT p.id, p.name, p.description, p.disabled, p.pack_type AS type, p.team_id, p.created_at, p.updated_at,
       coalesce((SELECT array_agg(t.host_id ORDER BY t.host_id) FROM pack_target_hosts t WHERE t.pack_id = p.id),
                '{}') AS host_ids,
       coalesce((SELECT array_agg(t.label_id ORDER BY t.label_id) FROM pack_target_labels t
                  WHERE t.pack_id = p.id), '{}') AS label_ids,
       coalesce((SELECT array_agg(t.team_id ORDER BY t.team_id) FROM pack_target_teams t WHERE t.pack_id = p.id),
                '{}') AS team_ids,
       (SELECT count(*) FROM scheduled_queries s WHERE s.pack_id = p.id) AS query_count,
       CASE WHEN p.pack_type = 'global' THEN (SELECT count(*) FROM hosts)
            WHEN p.team_id IS NOT NULL THEN (SELECT count(*) FROM hosts h WHERE h.team_id = p.team_id)
            ELSE (SELECT count(*) FROM (
                    SELECT t.host_id FROM pack_target_hosts t WHERE t.pack_id = p.id
                    UNION SELECT m.host_id FROM label_membership m
                            JOIN pack_target_labels t ON t.label_id = m.label_id WHERE t.pack_id = p.id
                    UNION SELECT h.id FROM hosts h JOIN pack_target_teams t ON t.team_id = h.team_id
                           WHERE t.pack_id = p.id) AS targeted)
       END AS total_hosts_count
  FROM packs p;

-- A policy with its author's name and email joined at read time (so they follow changes to the
-- user) and its maintained passing and failing counts.
CREATE VIEW policy_details AS
SELECT p.id, p.name, p.query, p.created_at, p.updated_at, p.description, p.resolution,
       p.platforms AS platform, p.critical, p.team_id, p.author_id,
       coalesce(u.name, '') AS author_name, coalesce(u.email, '') AS author_email,
       coalesce(s.passing_host_count, 0) AS passing_host_count,
       coalesce(s.failing_host_count, 0) AS failing_host_count
  FROM policies p
  LEFT JOIN users u ON u.id = p.author_id
  LEFT JOIN policy_stats s ON s.policy_id = p.id;
