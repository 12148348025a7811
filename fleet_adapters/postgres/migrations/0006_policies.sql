-- Policies: yes-or-no osquery questions, global (team_id NULL) or of one team.
-- Names are unique across every policy: a policy spec names a policy by its name alone.
CREATE TABLE policies (
    id          bigserial PRIMARY KEY,
    team_id     bigint NULL CONSTRAINT policies_team_id_fkey REFERENCES teams (id) ON DELETE CASCADE,
    name        text NOT NULL,
    query       text NOT NULL,
    description text NOT NULL DEFAULT '',
    resolution  text NOT NULL DEFAULT '',
    platforms   text NOT NULL DEFAULT '',
    critical    boolean NOT NULL DEFAULT false,
    author_id   bigint NULL CONSTRAINT policies_author_id_fkey REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT policies_name_key UNIQUE (name)
);
CREATE INDEX policies_team_id_idx ON policies (team_id);

-- Answers recorded before this table existed cannot name a policy.
DELETE FROM policy_membership;
ALTER TABLE policy_membership
    ADD CONSTRAINT policy_membership_policy_id_fkey FOREIGN KEY (policy_id) REFERENCES policies (id) ON DELETE CASCADE;
-- A host's failing answers, counted for its issues.
CREATE INDEX policy_membership_failing_idx ON policy_membership (host_id) WHERE passes IS FALSE;

-- Passing and failing host counts per policy, kept exact by the triggers below in the same
-- transaction as every change to policy_membership (answers, re-enrollment, team transfer, host
-- deletion cascades, a policy's reset), so listing policies never scans the answers.
CREATE TABLE policy_stats (
    policy_id          bigint PRIMARY KEY CONSTRAINT policy_stats_policy_id_fkey REFERENCES policies (id) ON DELETE CASCADE,
    passing_host_count bigint NOT NULL DEFAULT 0,
    failing_host_count bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION policy_stats_for_new_policy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO policy_stats (policy_id) VALUES (NEW.id);
    RETURN NULL;
END $$;

CREATE TRIGGER policies_stats_row AFTER INSERT ON policies
    FOR EACH ROW EXECUTE FUNCTION policy_stats_for_new_policy();

-- One statement-level pass per change: the net change per policy, applied in policy id order
-- (so concurrent writers lock stats rows in the same order), skipping policies whose counts did
-- not move (an unchanged answer touches no stats row at all).
CREATE FUNCTION policy_stats_add(deltas jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    delta record;
BEGIN
    FOR delta IN
        SELECT (d ->> 'policy_id')::bigint AS policy_id, (d ->> 'p')::bigint AS p, (d ->> 'f')::bigint AS f
          FROM jsonb_array_elements(deltas) AS d
         ORDER BY 1
    LOOP
        UPDATE policy_stats
           SET passing_host_count = passing_host_count + delta.p,
               failing_host_count = failing_host_count + delta.f
         WHERE policy_id = delta.policy_id;
    END LOOP;
END $$;

CREATE FUNCTION policy_membership_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM policy_stats_add(coalesce((
        SELECT jsonb_agg(jsonb_build_object('policy_id', policy_id, 'p', p, 'f', f)) FROM (
            SELECT policy_id, count(*) FILTER (WHERE passes) AS p, count(*) FILTER (WHERE NOT passes) AS f
              FROM new_rows GROUP BY policy_id) AS c
         WHERE p <> 0 OR f <> 0), '[]'));
    RETURN NULL;
END $$;

CREATE FUNCTION policy_membership_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM policy_stats_add(coalesce((
        SELECT jsonb_agg(jsonb_build_object('policy_id', policy_id, 'p', -p, 'f', -f)) FROM (
            SELECT policy_id, count(*) FILTER (WHERE passes) AS p, count(*) FILTER (WHERE NOT passes) AS f
              FROM old_rows GROUP BY policy_id) AS c
         WHERE p <> 0 OR f <> 0), '[]'));
    RETURN NULL;
END $$;

CREATE FUNCTION policy_membership_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM policy_stats_add(coalesce((
        SELECT jsonb_agg(jsonb_build_object('policy_id', policy_id, 'p', p, 'f', f)) FROM (
            SELECT policy_id, sum(p) AS p, sum(f) AS f FROM (
                SELECT policy_id, (passes IS TRUE)::int AS p, (passes IS FALSE)::int AS f FROM new_rows
                UNION ALL
                SELECT policy_id, -(passes IS TRUE)::int, -(passes IS FALSE)::int FROM old_rows) AS u
             GROUP BY policy_id) AS c
         WHERE p <> 0 OR f <> 0), '[]'));
    RETURN NULL;
END $$;

CREATE TRIGGER policy_membership_count_inserts AFTER INSERT ON policy_membership
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION policy_membership_inserted();
CREATE TRIGGER policy_membership_count_deletes AFTER DELETE ON policy_membership
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION policy_membership_deleted();
CREATE TRIGGER policy_membership_count_updates AFTER UPDATE ON policy_membership
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION policy_membership_updated();

-- The credential of the device-authenticated routes (Fleet Desktop), one per host, stored hashed.
CREATE TABLE host_device_auth (
    host_id    bigint PRIMARY KEY CONSTRAINT host_device_auth_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    token_hash text NOT NULL CONSTRAINT host_device_auth_token_hash_key UNIQUE,
    created_at timestamptz NOT NULL
);
