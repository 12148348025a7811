-- Hosts, what detail queries collect about them, labels and label/policy membership.
-- Constraint names are part of the adapter's contract (fleet_adapters/postgres/errors.py and
-- hosts.py rely on them).

-- Stable ids for (name, version, platform), so os_id filters and links survive host changes.
CREATE TABLE operating_systems (
    id       bigserial PRIMARY KEY,
    name     text NOT NULL,
    version  text NOT NULL,
    platform text NOT NULL,
    CONSTRAINT operating_systems_name_version_platform_key UNIQUE (name, version, platform)
);

CREATE TABLE hosts (
    id                           bigserial PRIMARY KEY,
    osquery_host_id              text NOT NULL CONSTRAINT hosts_osquery_host_id_key UNIQUE,
    node_key_hash                text NULL CONSTRAINT hosts_node_key_hash_key UNIQUE,
    team_id                      bigint NULL CONSTRAINT hosts_team_id_fkey REFERENCES teams (id) ON DELETE SET NULL,
    created_at                   timestamptz NOT NULL,
    updated_at                   timestamptz NOT NULL,
    last_enrolled_at             timestamptz NOT NULL,
    -- The latest enrollment; check-ins land in host_seen_times and the effective value is
    -- GREATEST of both.
    seen_time                    timestamptz NOT NULL,
    -- Fleet stores 1970-01-02 for "never", so every collection is due at once.
    detail_updated_at            timestamptz NOT NULL DEFAULT '1970-01-02 00:00:00+00',
    label_updated_at             timestamptz NOT NULL DEFAULT '1970-01-02 00:00:00+00',
    policy_updated_at            timestamptz NOT NULL DEFAULT '1970-01-02 00:00:00+00',
    refetch_requested            boolean NOT NULL DEFAULT false,
    hostname                     text NOT NULL DEFAULT '',
    uuid                         text NOT NULL DEFAULT '',
    platform                     text NOT NULL DEFAULT '',
    platform_like                text NOT NULL DEFAULT '',
    osquery_version              text NOT NULL DEFAULT '',
    os_version                   text NOT NULL DEFAULT '',
    build                        text NOT NULL DEFAULT '',
    code_name                    text NOT NULL DEFAULT '',
    uptime_seconds               bigint NOT NULL DEFAULT 0,
    last_restarted_at            timestamptz NULL,
    memory                       bigint NOT NULL DEFAULT 0,
    cpu_type                     text NOT NULL DEFAULT '',
    cpu_subtype                  text NOT NULL DEFAULT '',
    cpu_brand                    text NOT NULL DEFAULT '',
    cpu_physical_cores           bigint NOT NULL DEFAULT 0,
    cpu_logical_cores            bigint NOT NULL DEFAULT 0,
    hardware_vendor              text NOT NULL DEFAULT '',
    hardware_model               text NOT NULL DEFAULT '',
    hardware_version             text NOT NULL DEFAULT '',
    hardware_serial              text NOT NULL DEFAULT '',
    computer_name                text NOT NULL DEFAULT '',
    public_ip                    text NOT NULL DEFAULT '',
    primary_ip                   text NOT NULL DEFAULT '',
    primary_mac                  text NOT NULL DEFAULT '',
    distributed_interval         bigint NOT NULL DEFAULT 0,
    config_tls_refresh           bigint NOT NULL DEFAULT 0,
    logger_tls_period            bigint NOT NULL DEFAULT 0,
    gigs_disk_space_available    double precision NOT NULL DEFAULT 0,
    percent_disk_space_available double precision NOT NULL DEFAULT 0,
    gigs_total_disk_space        double precision NOT NULL DEFAULT 0,
    additional                   jsonb NULL,
    -- Derived from (os_version, platform) by the adapter whenever either changes.
    os_id                        bigint NULL CONSTRAINT hosts_os_id_fkey REFERENCES operating_systems (id)
);
CREATE INDEX hosts_team_id_idx ON hosts (team_id);
CREATE INDEX hosts_platform_idx ON hosts (platform);
CREATE INDEX hosts_os_id_idx ON hosts (os_id);
CREATE INDEX hosts_created_at_idx ON hosts (created_at);
-- Exact lookups of find_by_identifier (osquery_host_id and node_key_hash are unique already).
CREATE INDEX hosts_uuid_idx ON hosts (uuid);
CREATE INDEX hosts_hostname_idx ON hosts (hostname);
CREATE INDEX hosts_hardware_serial_idx ON hosts (hardware_serial);
-- The default text orderings of the hosts list.
CREATE INDEX hosts_hostname_order_idx ON hosts ((lower(hostname) COLLATE "C"), id);
CREATE INDEX hosts_display_name_order_idx
    ON hosts ((lower(COALESCE(NULLIF(computer_name, ''), hostname)) COLLATE "C"), id);

-- Kept apart from hosts, as Fleet does: the frequent batched check-in upsert then never
-- locks (or bloats) host rows. No foreign key for the same reason; deleting a host deletes
-- its row here explicitly.
CREATE TABLE host_seen_times (
    host_id   bigint PRIMARY KEY,
    seen_time timestamptz NOT NULL
);
CREATE INDEX host_seen_times_seen_time_idx ON host_seen_times (seen_time);

CREATE TABLE host_users (
    host_id   bigint NOT NULL CONSTRAINT host_users_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    uid       bigint NOT NULL,
    username  text NOT NULL,
    type      text NOT NULL DEFAULT '',
    groupname text NOT NULL DEFAULT '',
    shell     text NOT NULL DEFAULT '',
    CONSTRAINT host_users_pkey PRIMARY KEY (host_id, uid, username)
);

-- One row per distinct (name, version, source); the other attributes are those first reported.
CREATE TABLE software (
    id                bigserial PRIMARY KEY,
    name              text NOT NULL,
    version           text NOT NULL,
    source            text NOT NULL,
    bundle_identifier text NOT NULL DEFAULT '',
    vendor            text NOT NULL DEFAULT '',
    arch              text NOT NULL DEFAULT '',
    release           text NOT NULL DEFAULT '',
    CONSTRAINT software_name_version_source_key UNIQUE (name, version, source)
);

CREATE TABLE host_software (
    host_id        bigint NOT NULL CONSTRAINT host_software_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    software_id    bigint NOT NULL CONSTRAINT host_software_software_id_fkey REFERENCES software (id) ON DELETE CASCADE,
    last_opened_at timestamptz NULL,
    CONSTRAINT host_software_pkey PRIMARY KEY (host_id, software_id)
);
CREATE INDEX host_software_software_id_idx ON host_software (software_id);

-- Device mapping (Fleet's host_emails).
CREATE TABLE host_emails (
    host_id bigint NOT NULL CONSTRAINT host_emails_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    email   text NOT NULL,
    source  text NOT NULL,
    CONSTRAINT host_emails_pkey PRIMARY KEY (host_id, email, source)
);
CREATE INDEX host_emails_email_idx ON host_emails (lower(email));

-- Stable MDM ids per (name, server_url), as Fleet's mobile_device_management_solutions.
CREATE TABLE mdm_solutions (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    server_url text NOT NULL,
    CONSTRAINT mdm_solutions_name_server_url_key UNIQUE (name, server_url)
);

CREATE TABLE host_mdm (
    host_id            bigint PRIMARY KEY CONSTRAINT host_mdm_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    enrolled           boolean NOT NULL,
    server_url         text NOT NULL DEFAULT '',
    installed_from_dep boolean NOT NULL DEFAULT false,
    name               text NOT NULL DEFAULT '',
    mdm_id             bigint NULL CONSTRAINT host_mdm_mdm_id_fkey REFERENCES mdm_solutions (id)
);
CREATE INDEX host_mdm_mdm_id_idx ON host_mdm (mdm_id);

CREATE TABLE host_munki_info (
    host_id bigint PRIMARY KEY CONSTRAINT host_munki_info_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    version text NOT NULL
);

CREATE TABLE munki_issues (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    issue_type text NOT NULL CONSTRAINT munki_issues_issue_type_check CHECK (issue_type IN ('error', 'warning')),
    CONSTRAINT munki_issues_name_issue_type_key UNIQUE (name, issue_type)
);

CREATE TABLE host_munki_issues (
    host_id        bigint NOT NULL CONSTRAINT host_munki_issues_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    munki_issue_id bigint NOT NULL CONSTRAINT host_munki_issues_munki_issue_id_fkey REFERENCES munki_issues (id),
    CONSTRAINT host_munki_issues_pkey PRIMARY KEY (host_id, munki_issue_id)
);
CREATE INDEX host_munki_issues_munki_issue_id_idx ON host_munki_issues (munki_issue_id);

CREATE TABLE host_batteries (
    host_id     bigint NOT NULL CONSTRAINT host_batteries_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    position    integer NOT NULL,
    cycle_count bigint NOT NULL,
    health      text NOT NULL,
    CONSTRAINT host_batteries_pkey PRIMARY KEY (host_id, position)
);

CREATE TABLE labels (
    id                    bigserial PRIMARY KEY,
    name                  text NOT NULL CONSTRAINT labels_name_key UNIQUE,
    description           text NOT NULL DEFAULT '',
    query                 text NOT NULL,
    platform              text NOT NULL DEFAULT '',
    label_type            text NOT NULL DEFAULT 'regular'
        CONSTRAINT labels_label_type_check CHECK (label_type IN ('builtin', 'regular')),
    label_membership_type text NOT NULL DEFAULT 'dynamic'
        CONSTRAINT labels_label_membership_type_check CHECK (label_membership_type IN ('dynamic', 'manual')),
    team_id               bigint NULL CONSTRAINT labels_team_id_fkey REFERENCES teams (id) ON DELETE CASCADE,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Fleet's built-in labels, with the names, descriptions and queries Fleet ships. The order
-- fixes their ids (1..8), which the in-memory adapter mirrors.
INSERT INTO labels (name, description, query, platform, label_type, label_membership_type) VALUES
    ('All Hosts', 'All hosts which have enrolled in Fleet', 'SELECT 1;', '', 'builtin', 'dynamic'),
    ('macOS', 'All macOS hosts', 'select 1 from os_version where platform = ''darwin'';', '', 'builtin', 'dynamic'),
    ('Ubuntu Linux', 'All Ubuntu hosts', 'select 1 from os_version where platform = ''ubuntu'';', '', 'builtin',
     'dynamic'),
    ('CentOS Linux', 'All CentOS hosts',
     'select 1 from os_version where platform = ''centos'' or name like ''%centos%''', '', 'builtin', 'dynamic'),
    ('MS Windows', 'All Windows hosts', 'select 1 from os_version where platform = ''windows'';', '', 'builtin',
     'dynamic'),
    ('Red Hat Linux', 'All Red Hat Enterprise Linux hosts', 'SELECT 1 FROM os_version WHERE name LIKE ''%red hat%''',
     '', 'builtin', 'dynamic'),
    ('All Linux', 'All Linux distributions',
     'SELECT 1 FROM osquery_info WHERE build_platform LIKE ''%ubuntu%'' OR build_distro LIKE ''%centos%'';', '',
     'builtin', 'dynamic'),
    ('chrome', 'All Chrome hosts', 'select 1 from os_version where platform = ''chrome'';', '', 'builtin', 'dynamic');

CREATE TABLE label_membership (
    label_id   bigint NOT NULL CONSTRAINT label_membership_label_id_fkey REFERENCES labels (id) ON DELETE CASCADE,
    host_id    bigint NOT NULL CONSTRAINT label_membership_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    updated_at timestamptz NOT NULL,
    CONSTRAINT label_membership_pkey PRIMARY KEY (label_id, host_id)
);
CREATE INDEX label_membership_host_id_idx ON label_membership (host_id);

-- passes: true = passing, false = failing, NULL = the query errored. policy_id has no foreign
-- key yet: the policies table arrives with the policies migration, which adds it.
CREATE TABLE policy_membership (
    policy_id  bigint NOT NULL,
    host_id    bigint NOT NULL CONSTRAINT policy_membership_host_id_fkey REFERENCES hosts (id) ON DELETE CASCADE,
    passes     boolean NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT policy_membership_pkey PRIMARY KEY (policy_id, host_id)
);
CREATE INDEX policy_membership_host_id_idx ON policy_membership (host_id);
