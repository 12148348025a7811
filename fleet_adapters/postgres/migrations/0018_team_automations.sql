-- A team's failing-policy automations (fleet_core.model.teams.TeamAutomations): its own
-- failing-policies webhook and its use of the global Jira and Zendesk integrations. NULL: none.
ALTER TABLE teams ADD COLUMN failing_policies_webhook jsonb;
ALTER TABLE teams ADD COLUMN integrations jsonb;

-- Requests for a team's webhook are queued with the team's id, as its URL is the team's.
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_kind_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_kind_check
    CHECK (kind IN ('failing_policies', 'host_status', 'vulnerabilities', 'jira', 'zendesk',
                    'team_failing_policies'));
