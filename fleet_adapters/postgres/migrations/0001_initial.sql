-- Users, teams, sessions, invites, password resets, app config, enroll secrets, activities.
-- Constraint names are part of the adapter's contract: fleet_adapters/postgres/errors.py maps
-- them to core errors, so rename one only together with that table.

CREATE TABLE users (
    id                   bigserial PRIMARY KEY,
    name                 text NOT NULL,
    email                text NOT NULL,
    password_hash        text NOT NULL,
    global_role          text NULL
        CONSTRAINT users_global_role_check CHECK (global_role IN ('admin', 'maintainer', 'observer')),
    sso_enabled          boolean NOT NULL DEFAULT false,
    api_only             boolean NOT NULL DEFAULT false,
    force_password_reset boolean NOT NULL DEFAULT false,
    position             text NOT NULL DEFAULT '',
    gravatar_url         text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
-- Fleet treats emails case-insensitively (MySQL's default collation does it there).
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE teams (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- Fleet's team names are unique regardless of case, like emails.
CREATE UNIQUE INDEX teams_name_key ON teams (lower(name));

CREATE TABLE user_teams (
    user_id bigint NOT NULL CONSTRAINT user_teams_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    team_id bigint NOT NULL CONSTRAINT user_teams_team_id_fkey REFERENCES teams (id) ON DELETE CASCADE,
    role    text NOT NULL CONSTRAINT user_teams_role_check CHECK (role IN ('admin', 'maintainer', 'observer')),
    CONSTRAINT user_teams_pkey PRIMARY KEY (user_id, team_id)
);
CREATE INDEX user_teams_team_id_idx ON user_teams (team_id);

CREATE TABLE sessions (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL CONSTRAINT sessions_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    token_hash  text NOT NULL CONSTRAINT sessions_token_hash_key UNIQUE,
    created_at  timestamptz NOT NULL,
    accessed_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

-- invited_by has no foreign key: Fleet keeps an invite (and the inviter's id) when the
-- inviting user is deleted, and the core model types it as a plain int, so neither
-- ON DELETE SET NULL (a NULL the model cannot carry) nor CASCADE (silently revoking
-- pending invites) fits.
CREATE TABLE invites (
    id          bigserial PRIMARY KEY,
    invited_by  bigint NOT NULL,
    email       text NOT NULL,
    name        text NOT NULL,
    position    text NOT NULL DEFAULT '',
    sso_enabled boolean NOT NULL DEFAULT false,
    global_role text NULL
        CONSTRAINT invites_global_role_check CHECK (global_role IN ('admin', 'maintainer', 'observer')),
    token_hash  text NOT NULL CONSTRAINT invites_token_hash_key UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX invites_email_key ON invites (lower(email));

CREATE TABLE invite_teams (
    invite_id bigint NOT NULL CONSTRAINT invite_teams_invite_id_fkey REFERENCES invites (id) ON DELETE CASCADE,
    team_id   bigint NOT NULL CONSTRAINT invite_teams_team_id_fkey REFERENCES teams (id) ON DELETE CASCADE,
    role      text NOT NULL CONSTRAINT invite_teams_role_check CHECK (role IN ('admin', 'maintainer', 'observer')),
    CONSTRAINT invite_teams_pkey PRIMARY KEY (invite_id, team_id)
);
CREATE INDEX invite_teams_team_id_idx ON invite_teams (team_id);

CREATE TABLE password_resets (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL CONSTRAINT password_resets_user_id_fkey REFERENCES users (id) ON DELETE CASCADE,
    token_hash text NOT NULL CONSTRAINT password_resets_token_hash_key UNIQUE,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_resets_user_id_idx ON password_resets (user_id);

CREATE TABLE app_config (
    id         integer PRIMARY KEY CONSTRAINT app_config_single_row CHECK (id = 1),
    config     jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- team_id NULL marks a global secret. A secret value is unique across all teams because
-- the agent presents only the secret, and it alone must decide the team.
CREATE TABLE enroll_secrets (
    secret     text PRIMARY KEY,
    team_id    bigint NULL CONSTRAINT enroll_secrets_team_id_fkey REFERENCES teams (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL
);
CREATE INDEX enroll_secrets_team_id_idx ON enroll_secrets (team_id);

-- No foreign key on actor_id: the audit trail outlives the users it mentions, which is why
-- the actor's name, email and gravatar are copied into each row.
CREATE TABLE activities (
    id              bigserial PRIMARY KEY,
    actor_id        bigint NULL,
    actor_full_name text NOT NULL,
    actor_email     text NOT NULL,
    actor_gravatar  text NOT NULL DEFAULT '',
    type            text NOT NULL,
    details         jsonb NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX activities_created_at_idx ON activities (created_at);
