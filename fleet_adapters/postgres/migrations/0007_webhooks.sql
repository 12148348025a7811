-- The failing-policies and host-status webhooks (fleet_core.services.webhooks).

-- (policy, host) pairs whose failure was already queued for the failing-policies webhook. A pair
-- that stops failing is forgotten, so failing again announces it anew.
CREATE TABLE webhook_announced_failures (
    policy_id    bigint NOT NULL
        CONSTRAINT webhook_announced_failures_policy_id_fkey REFERENCES policies (id) ON DELETE CASCADE,
    host_id      bigint NOT NULL
        CONSTRAINT webhook_announced_failures_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    announced_at timestamptz NOT NULL,
    CONSTRAINT webhook_announced_failures_pkey PRIMARY KEY (policy_id, host_id)
);
CREATE INDEX webhook_announced_failures_host_id_idx ON webhook_announced_failures (host_id);

-- The outbox: one row per webhook request until the receiver accepts it. attempts counts the
-- claims; a claim moves next_attempt_at to the end of its lease.
CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL
        CONSTRAINT webhook_deliveries_kind_check CHECK (kind IN ('failing_policies', 'host_status')),
    payload         jsonb NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text NOT NULL DEFAULT ''
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (kind, next_attempt_at, id);

-- When each kind of webhook last queued a request (the host-status one fires at most daily).
CREATE TABLE webhook_state (
    kind            text PRIMARY KEY
        CONSTRAINT webhook_state_kind_check CHECK (kind IN ('failing_policies', 'host_status')),
    last_planned_at timestamptz NOT NULL
);
