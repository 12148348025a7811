-- A team's own osquery agent options; NULL means the team uses the global ones.
ALTER TABLE teams ADD COLUMN agent_options jsonb;
