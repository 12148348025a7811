"""The ports: what the core needs from storage, crypto, mail and time.

Each method's docstring is its contract; the contract suite in tests/contract enforces it for
every adapter (in-memory and Postgres/Redis). Methods raise only fleet_core.errors.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, Self

import attrs

from fleet_core.model.activities import Activity, NewActivity
from fleet_core.model.campaigns import Campaign, CampaignStatus, LiveResult
from fleet_core.model.carves import Carve, NewCarve
from fleet_core.model.config import AppConfig, SMTPSettings
from fleet_core.model.hosts import (
    Battery,
    DeviceMapping,
    Host,
    HostFacts,
    HostFilter,
    HostSummary,
    HostUser,
    Label,
    ListedHost,
    MDMInfo,
    MunkiInfo,
    OSVersion,
    Software,
)
from fleet_core.model.packs import Pack, PackCatalogue, PackFields, PackTargets, ScheduledQuery, ScheduleFields
from fleet_core.model.policies import Policy, PolicyFields
from fleet_core.model.queries import QueryFields, SavedQuery
from fleet_core.model.secrets import EnrollSecret
from fleet_core.model.software import SoftwareFilter
from fleet_core.model.teams import Team
from fleet_core.model.users import Invite, NewInvite, NewUser, Session, User
from fleet_core.model.webhooks import Delivery, FailingHost, WebhookKind
from fleet_core.rules.paging import ListOptions
from fleet_core.rules.targets import TargetSelection

USER_ORDER_KEYS = frozenset(
    {"id", "name", "email", "created_at", "updated_at", "global_role", "api_only", "sso_enabled", "position"}
)
INVITE_ORDER_KEYS = frozenset({"id", "name", "email", "created_at", "updated_at", "global_role", "position"})
TEAM_ORDER_KEYS = frozenset({"id", "name", "description", "created_at"})
ACTIVITY_ORDER_KEYS = frozenset({"id", "created_at", "type", "actor_id", "actor_full_name", "actor_email"})
LABEL_ORDER_KEYS = frozenset({"id", "name", "description", "created_at", "updated_at", "platform", "label_type"})
QUERY_ORDER_KEYS = frozenset({
    "id", "name", "description", "query", "created_at", "updated_at", "author_id", "observer_can_run", "interval",
    "platform", "team_id", "logging", "automations_enabled",
})
PACK_ORDER_KEYS = frozenset({"id", "name", "description", "created_at", "updated_at", "disabled"})
HOST_ORDER_KEYS = frozenset({
    "id", "hostname", "computer_name", "display_name", "created_at", "updated_at", "seen_time", "detail_updated_at",
    "label_updated_at", "last_enrolled_at", "platform", "os_version", "osquery_version", "uuid", "hardware_serial",
    "hardware_model", "primary_ip", "public_ip", "memory", "uptime", "team_id", "team_name",
    "gigs_disk_space_available", "percent_disk_space_available", "cpu_type",
})
# The vulnerability keys are accepted as Fleet does; without vulnerability data they order by id.
SOFTWARE_ORDER_KEYS = frozenset({"name", "hosts_count", "cvss_score", "epss_probability", "cisa_known_exploit"})


class UserRepository(Protocol):
    async def add(self, user: NewUser) -> User:
        """Insert a user with its team roles. Raises AlreadyExists if the email is taken
        (emails compare case-insensitively), NotFound if a team does not exist."""
        ...

    async def get(self, user_id: int) -> User | None:
        """The user with this id, or None."""
        ...

    async def get_by_email(self, email: str) -> User | None:
        """The user with this email (case-insensitive), or None."""
        ...

    async def list(self, options: ListOptions, *, team_id: int | None = None,
                   team_ids: frozenset[int] | None = None) -> builtins.list[User]:
        """Users matching ``options.query`` on name or email (substring, case-insensitive),
        ordered by ``options.order_key`` (one of USER_ORDER_KEYS) then id, paged. ``team_id``
        keeps members of that team; ``team_ids`` keeps members of any of those teams."""
        ...

    async def count(self) -> int:
        """How many users exist."""
        ...

    async def update(self, user: User) -> User:
        """Store every field of ``user`` (teams included) and bump updated_at. Raises
        NotFound if the user is gone, AlreadyExists if the new email is taken."""
        ...

    async def delete(self, user_id: int) -> bool:
        """Delete the user with its sessions and pending password resets; False if there was
        no such user."""
        ...


class SessionRepository(Protocol):
    async def add(self, *, user_id: int, token_hash: str, at: dt.datetime) -> Session:
        """Create a session keyed by the hash of its token; NotFound if the user is gone."""
        ...

    async def get(self, session_id: int) -> Session | None:
        """The session with this id, or None."""
        ...

    async def get_by_token_hash(self, token_hash: str) -> Session | None:
        """The session whose token hashes to this value, or None."""
        ...

    async def list_for_user(self, user_id: int) -> list[Session]:
        """The user's sessions, oldest first."""
        ...

    async def touch(self, session_id: int, at: dt.datetime) -> None:
        """Record an access; a missing session is ignored."""
        ...

    async def delete(self, session_id: int) -> bool:
        """Delete one session; False if there was none."""
        ...

    async def delete_for_user(self, user_id: int, *, except_id: int | None = None) -> int:
        """Delete the user's sessions (keeping ``except_id``); returns how many went."""
        ...


class InviteRepository(Protocol):
    async def add(self, invite: NewInvite) -> Invite:
        """Insert an invite. Raises AlreadyExists if an invite for the email exists."""
        ...

    async def get(self, invite_id: int) -> Invite | None:
        """The invite with this id, or None."""
        ...

    async def get_by_token_hash(self, token_hash: str) -> Invite | None:
        """The invite whose token hashes to this value, or None."""
        ...

    async def list(self, options: ListOptions) -> list[Invite]:
        """Invites matching ``options.query`` on name or email, ordered (INVITE_ORDER_KEYS)
        then by id, paged."""
        ...

    async def update(self, invite: Invite) -> Invite:
        """Store every field of ``invite``; NotFound if gone, AlreadyExists on a taken email."""
        ...

    async def delete(self, invite_id: int) -> bool:
        """Delete the invite; False if there was none."""
        ...


class PasswordResetRepository(Protocol):
    async def add(self, *, user_id: int, token_hash: str, expires_at: dt.datetime) -> None:
        """Store a reset request for the user; NotFound if the user is gone."""
        ...

    async def consume(self, token_hash: str, *, now: dt.datetime) -> int | None:
        """Delete the request with this token and return its user id if it had not expired;
        None otherwise. A token works at most once."""
        ...

    async def delete_for_user(self, user_id: int) -> None:
        """Forget every pending reset request of the user."""
        ...


class AppConfigRepository(Protocol):
    async def get(self) -> AppConfig:
        """The stored configuration, or the defaults if none was ever saved."""
        ...

    async def save(self, config: AppConfig) -> None:
        """Replace the stored configuration."""
        ...

    async def lock(self) -> AppConfig:
        """Like get(), but holds the configuration for update until the unit of work ends,
        so concurrent read-modify-write cycles serialise instead of losing updates."""
        ...


class EnrollSecretRepository(Protocol):
    async def list(self, team_id: int | None) -> list[EnrollSecret]:
        """The secrets of a team (None: the global ones), oldest first, then by secret."""
        ...

    async def replace(
        self, team_id: int | None, secrets: Sequence[str], at: dt.datetime
    ) -> builtins.list[EnrollSecret]:
        """Make ``secrets`` the whole set for the team (None: global). Secrets already present
        keep their created_at. Raises AlreadyExists if a secret belongs to another team,
        NotFound if the team does not exist."""
        ...

    async def find(self, secret: str) -> EnrollSecret | None:
        """The enroll secret with exactly this value, or None."""
        ...

    async def all(self) -> builtins.list[EnrollSecret]:
        """Every secret, global and of every team, by secret."""
        ...


class TeamRepository(Protocol):
    async def add(self, *, name: str, description: str, at: dt.datetime) -> Team:
        """Insert a team; AlreadyExists if the name is taken (names compare case-insensitively)."""
        ...

    async def get(self, team_id: int) -> Team | None:
        """The team with this id, or None."""
        ...

    async def get_many(self, team_ids: Sequence[int]) -> list[Team]:
        """The teams that exist among ``team_ids``, in id order."""
        ...

    async def get_by_name(self, name: str) -> Team | None:
        """The team with this name (compared case-insensitively, as uniqueness is), or None."""
        ...

    async def set_agent_options(self, team_id: int, agent_options: Mapping[str, Any] | None) -> None:
        """Replace the team's agent options (None: use the global ones); NotFound if no such team."""
        ...

    async def list(self, options: ListOptions, *, team_ids: frozenset[int] | None = None) -> builtins.list[Team]:
        """Teams whose name contains ``options.query`` (case-insensitive), ordered by
        ``options.order_key`` (id, name, description, created_at; names compare
        case-insensitively) then id, paged; ``team_ids`` keeps only those teams."""
        ...

    async def update(self, team_id: int, *, name: str, description: str) -> Team:
        """Rename and redescribe a team; NotFound if it is gone, AlreadyExists if another team
        has the name (case-insensitively)."""
        ...

    async def delete(self, team_id: int) -> builtins.list[int] | None:
        """Delete the team with its enroll secrets and every user's and invite's role on it; its
        hosts move to no team. Returns the ids of those hosts (ascending), or None if there was
        no such team."""
        ...

    async def counts(self, team_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(user_count, host_count) for each of ``team_ids`` that exists."""
        ...

    async def members(self, team_id: int) -> tuple[builtins.list[int], builtins.list[int]]:
        """(user ids, host ids) of the team, each ascending; both empty for an unknown team."""
        ...


class ActivityRepository(Protocol):
    async def add(self, activity: NewActivity, at: dt.datetime) -> Activity:
        """Append an activity."""
        ...

    async def list(self, options: ListOptions) -> list[Activity]:
        """Activities ordered (ACTIVITY_ORDER_KEYS) then by id, paged."""
        ...


class HostRepository(Protocol):
    """Hosts and the data detail queries collect about them.

    Timestamps passed in are stored as given. ``seen_time`` of a host is the latest of its
    enrollment and every mark_seen; it never moves backwards.
    """

    async def enroll(self, *, osquery_host_id: str, node_key_hash: str, team_id: int | None,
                     at: dt.datetime, fields: Mapping[str, Any]) -> tuple[Host, bool]:
        """Insert a host, or re-enroll the one with this osquery_host_id; returns (host, created).

        New: created_at = last_enrolled_at = seen_time = at, detail/label/policy_updated_at =
        NEVER, refetch_requested = True. Existing: same row and id; node key, team_id,
        last_enrolled_at and seen_time replaced, policy results dropped. Both: ``fields`` (a subset
        of HOST_VITAL_FIELDS) applied, and the host is a member of the built-in "All Hosts" label.
        """
        ...

    async def get(self, host_id: int) -> Host | None:
        """The host with this id (team_name filled), or None."""
        ...

    async def get_by_node_key(self, node_key_hash: str) -> Host | None:
        """The host whose node key hashes to this value, or None."""
        ...

    async def get_by_osquery_host_id(self, osquery_host_id: str) -> Host | None:
        """The host enrolled under this identifier, or None."""
        ...

    async def find_by_identifier(self, identifier: str, *, node_key_hash: str) -> Host | None:
        """The host whose uuid, osquery_host_id, hostname, hardware_serial or node key (given as
        its hash) equals the identifier; the lowest id wins if several match; None if none."""
        ...

    async def apply_facts(self, host_id: int, facts: HostFacts, *, at: dt.datetime, details_updated: bool = False,
                          labels_updated: bool = False, policies_updated: bool = False,
                          clear_refetch: bool = False) -> None:
        """Store what detail queries found: ``facts.fields`` on the host row, and each list that
        is not None replaces the host's list of that kind (software by name+version+source,
        creating software rows as needed). The flags set the matching *_updated_at to ``at`` and
        clear refetch_requested. A missing host is ignored."""
        ...

    async def mark_seen(self, seen: Mapping[int, dt.datetime]) -> None:
        """Record check-ins for many hosts in one statement; unknown ids are ignored and a time
        earlier than the stored one changes nothing."""
        ...

    async def request_refetch(self, host_ids: Sequence[int]) -> int:
        """Set refetch_requested on these hosts; returns how many exist."""
        ...

    async def transfer(self, host_ids: Sequence[int], team_id: int | None) -> builtins.list[int]:
        """Move hosts to a team (None: no team), dropping their policy results; returns the ids
        that exist. NotFound if the team does not exist."""
        ...

    async def delete(self, host_ids: Sequence[int]) -> builtins.list[int]:
        """Delete hosts with everything collected about them; returns the ids that existed."""
        ...

    async def list(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime,
                   after: str | None = None) -> builtins.list[Host]:
        """Hosts matching every filter, ordered by options.order_key (HOST_ORDER_KEYS) then id,
        paged; ``after`` keeps only hosts whose order-key value sorts after it. ``query`` matches
        hostname, computer_name, uuid, hardware_serial, primary_ip (substring, case-insensitive)
        and, when it looks like an email, the host's device-mapping emails exactly. Status filters
        follow fleet_core.rules.hosts.matches_status at ``now``."""
        ...

    async def count(self, filters: HostFilter, *, now: dt.datetime) -> int:
        """How many hosts list() would return without paging."""
        ...

    async def ids(self, filters: HostFilter, *, now: dt.datetime) -> builtins.list[int]:
        """The ids of every host matching the filters, ascending."""
        ...

    async def summary(self, filters: HostFilter, *, platform: str | None, now: dt.datetime) -> HostSummary:
        """Counts by status and platform over the hosts matching the (team/visibility) filters."""
        ...

    async def users(self, host_id: int) -> builtins.list[HostUser]:
        """The host's users, by uid."""
        ...

    async def software(self, host_id: int) -> builtins.list[Software]:
        """The host's software, by name, version, source."""
        ...

    async def software_by_id(self, software_id: int) -> Software | None:
        """One software title+version with the number of hosts that have it, or None."""
        ...

    async def device_mapping(self, host_id: int) -> builtins.list[DeviceMapping]:
        """The host's emails with their sources, by email."""
        ...

    async def mdm(self, host_id: int) -> MDMInfo | None:
        """The host's MDM enrollment, or None if never reported."""
        ...

    async def munki(self, host_id: int) -> MunkiInfo | None:
        """The host's Munki state, or None if never reported."""
        ...

    async def batteries(self, host_id: int) -> builtins.list[Battery]:
        """The host's batteries."""
        ...

    async def labels(self, host_id: int) -> builtins.list[Label]:
        """The labels the host is a member of, by id."""
        ...

    async def os_versions(self, filters: HostFilter) -> builtins.list[OSVersion]:
        """Distinct (name, version, platform) over matching hosts with host counts; os_id stable."""
        ...

    async def mdm_solutions(self, filters: HostFilter) -> builtins.list[tuple[int, str, str, int]]:
        """(mdm_id, name, server_url, hosts_count) over matching enrolled hosts."""
        ...

    async def mdm_status_counts(self, filters: HostFilter) -> dict[str, int]:
        """Counts of matching hosts by "enrolled_manual_hosts_count", "enrolled_automated_hosts_count",
        "unenrolled_hosts_count" and "hosts_count"."""
        ...

    async def munki_versions(self, filters: HostFilter) -> builtins.list[tuple[str, int]]:
        """(version, hosts_count) over matching hosts that report Munki."""
        ...

    async def munki_issues(self, filters: HostFilter) -> builtins.list[tuple[int, str, str, int]]:
        """(issue id, name, "error"/"warning", hosts_count) over matching hosts."""
        ...

    async def seen_before(self, cutoff: dt.datetime) -> builtins.list[int]:
        """Ids of hosts whose seen_time is earlier than the cutoff (for host expiry)."""
        ...

    async def target_host_ids(self, selection: TargetSelection, *,
                              visible_team_ids: frozenset[int] | None) -> builtins.list[int]:
        """The ids of the hosts the selection picks, ascending: fleet_core.rules.targets.resolve_targets
        over every stored host (its team and label memberships), with the labels whose label_type is
        "builtin" as the built-in ones (the one named "All Hosts" selecting every host) and every
        other stored label as custom. ``visible_team_ids`` as in HostFilter."""
        ...

    async def search(self, text: str, *, excluded_ids: frozenset[int], limit: int,
                     visible_team_ids: frozenset[int] | None) -> builtins.list[Host]:
        """Up to ``limit`` hosts (team_name filled) outside ``excluded_ids`` and visible as in
        HostFilter, whose hostname, computer_name, uuid, hardware_serial or primary_ip contains
        ``text`` (case-insensitive), by id; an empty text matches every host, most recently seen
        first (then by id)."""
        ...


class LabelRepository(Protocol):
    async def builtin(self) -> builtins.list[Label]:
        """The built-in labels, by id."""
        ...

    async def get(self, label_id: int) -> Label | None:
        """The label with this id, or None."""
        ...

    async def dynamic(self) -> builtins.list[Label]:
        """Every dynamic label (built-in and custom; manual labels are never sent to agents), by id."""
        ...

    async def record_results(self, host_id: int, results: Mapping[int, bool | None], at: dt.datetime) -> None:
        """Apply a host's label query results: True makes it a member (updated_at = at); False or
        None (the query failed) removes the membership. Unknown labels and hosts are ignored."""
        ...

    async def get_by_name(self, name: str) -> Label | None:
        """The label with exactly this name, or None."""
        ...

    async def list(self, options: ListOptions) -> builtins.list[Label]:
        """Labels whose name contains ``options.query`` (case-insensitive), ordered by
        options.order_key (LABEL_ORDER_KEYS) then id, paged."""
        ...

    async def add(self, *, name: str, description: str, query: str, platform: str, membership_type: str,
                  at: dt.datetime) -> Label:
        """Insert a regular label ("dynamic" or "manual"). AlreadyExists if the name is taken."""
        ...

    async def update(self, label_id: int, *, name: str, description: str, query: str, platform: str,
                     at: dt.datetime) -> Label:
        """Change a label (updated_at = at). A changed query or platform ends every membership of
        the label, so hosts are re-evaluated rather than keeping stale results. NotFound if the
        label does not exist, AlreadyExists if another label has the name."""
        ...

    async def delete(self, label_id: int) -> bool:
        """Delete the label and its memberships; False if it did not exist."""
        ...

    async def member_ids(self, label_id: int) -> builtins.list[int]:
        """The ids of the label's member hosts, ascending."""
        ...

    async def set_members(self, label_id: int, host_ids: Sequence[int], at: dt.datetime) -> None:
        """Make exactly these hosts the label's members (for manual labels); unknown hosts are
        ignored. NotFound if the label does not exist."""
        ...


class QueryRepository(Protocol):
    """Saved queries. Names are unique among the global queries and within each team."""

    async def get(self, query_id: int) -> SavedQuery | None:
        """The query with this id (author name and email from the author's user record), or None."""
        ...

    async def get_by_name(self, name: str, *, team_id: int | None) -> SavedQuery | None:
        """The query with exactly this name among the team's queries (team_id None: the global
        ones), or None."""
        ...

    async def list(self, options: ListOptions, *, team_id: int | None) -> builtins.list[SavedQuery]:
        """The team's queries (team_id None: the global ones) whose name contains
        ``options.query`` (case-insensitive), ordered by options.order_key (QUERY_ORDER_KEYS)
        then id, paged."""
        ...

    async def add(self, fields: QueryFields, *, team_id: int | None, author_id: int | None,
                  at: dt.datetime) -> SavedQuery:
        """Insert a query (created_at = updated_at = at). AlreadyExists if the name is taken in
        its scope, NotFound if the team does not exist."""
        ...

    async def update(self, query_id: int, fields: QueryFields, at: dt.datetime) -> SavedQuery:
        """Replace the query's fields (updated_at = at). NotFound if it does not exist,
        AlreadyExists if another query of its scope has the name."""
        ...

    async def delete(self, query_id: int) -> bool:
        """Delete the query; False if it did not exist."""
        ...

    async def delete_many(self, query_ids: Sequence[int]) -> builtins.list[int]:
        """Delete these queries; the ids that existed, ascending."""
        ...


class PolicyRepository(Protocol):
    """Policies and the hosts' latest answers to them.

    Names are unique among all policies, global and team alike (a spec names a policy by its name
    alone). Policies are read with the author's name and email and with passing_host_count and
    failing_host_count: the hosts whose stored answer is a pass / a fail (an errored run, stored
    as None, counts in neither). A deleted team takes its policies with it; a deleted policy or
    host takes its answers with it.
    """

    async def get(self, policy_id: int) -> Policy | None:
        """The policy with this id, or None."""
        ...

    async def get_by_name(self, name: str) -> Policy | None:
        """The policy with exactly this name (of any team), or None."""
        ...

    async def list(self, *, team_id: int | None) -> builtins.list[Policy]:
        """The team's policies (team_id None: the global ones), by id."""
        ...

    async def every(self) -> builtins.list[Policy]:
        """Every policy, global and of every team, by id (counts not filled)."""
        ...

    async def add(self, fields: PolicyFields, *, team_id: int | None, author_id: int | None,
                  at: dt.datetime) -> Policy:
        """Insert a policy (created_at = updated_at = at). AlreadyExists if the name is taken,
        NotFound if the team does not exist."""
        ...

    async def update(self, policy_id: int, fields: PolicyFields, at: dt.datetime) -> Policy:
        """Replace the policy's fields (updated_at = at). A changed query or platform drops every
        answer to it, so hosts are asked again. NotFound if the policy does not exist,
        AlreadyExists if another policy has the name."""
        ...

    async def delete_many(self, policy_ids: Sequence[int]) -> builtins.list[int]:
        """Delete these policies with their answers; the ids that existed, ascending."""
        ...

    async def record_results(self, host_id: int, results: Mapping[int, bool | None], at: dt.datetime, *,
                             dropped: Sequence[int] = ()) -> None:
        """Store a host's answers, each replacing the host's previous answer to that policy
        (True pass, False fail, None errored), and forget its answers to the ``dropped`` policies.
        Unknown policies and hosts are ignored."""
        ...

    async def host_results(self, host_id: int) -> dict[int, bool | None]:
        """The host's stored answers by policy id."""
        ...

    async def failing_counts(self, host_ids: Sequence[int]) -> dict[int, int]:
        """For each of these hosts with at least one failing answer, how many policies it fails."""
        ...


class DeviceTokenRepository(Protocol):
    """The per-host credential of the device-authenticated routes, stored as a hash."""

    async def replace(self, host_id: int, token_hash: str, at: dt.datetime) -> None:
        """Make this the host's only device token. NotFound if the host does not exist,
        AlreadyExists if another host holds the same hash."""
        ...

    async def host_id(self, token_hash: str) -> int | None:
        """The id of the host whose device token hashes to this value, or None. A deleted host's
        token is gone with it."""
        ...


class PackRepository(Protocol):
    """User packs, the global and team schedule packs, and their scheduled queries.

    Pack names are unique. A pack's targets and scheduled queries go with it; a deleted host,
    label, team or saved query drops out of every pack (a team's schedule pack goes with its
    team). Packs are read with their targets (ids ascending), query_count and total_hosts_count
    (distinct hosts targeted by id, label membership or team; every host for the global pack,
    the team's hosts for a team pack).
    """

    async def get(self, pack_id: int) -> Pack | None:
        """The pack (of any type) with this id, or None."""
        ...

    async def get_by_name(self, name: str) -> Pack | None:
        """The user pack with exactly this name, or None."""
        ...

    async def list(self, options: ListOptions) -> builtins.list[Pack]:
        """User packs whose name contains ``options.query`` (case-insensitive), ordered by
        options.order_key (PACK_ORDER_KEYS) then id, paged."""
        ...

    async def add(self, fields: PackFields, at: dt.datetime) -> Pack:
        """Insert a user pack (created_at = updated_at = at). AlreadyExists if the name is taken,
        NotFound if a target does not exist."""
        ...

    async def update(self, pack_id: int, fields: PackFields, at: dt.datetime) -> Pack:
        """Replace a pack's name, description, disabled flag and targets (updated_at = at).
        NotFound if the pack or a target does not exist, AlreadyExists if the name is taken."""
        ...

    async def delete(self, pack_id: int) -> bool:
        """Delete the pack with its targets and scheduled queries; False if there was none."""
        ...

    async def schedule_pack(self, team_id: int | None) -> Pack | None:
        """The global schedule's pack (team_id None) or the team's schedule pack, or None if it
        was never created."""
        ...

    async def ensure_schedule_pack(self, team_id: int | None, at: dt.datetime) -> Pack:
        """schedule_pack(), created (named and typed "Global" or "team-<id>") when missing.
        NotFound if the team does not exist."""
        ...

    async def unknown_targets(self, targets: PackTargets) -> PackTargets:
        """The host, label and team ids among ``targets`` that do not exist, ascending."""
        ...

    async def scheduled(self, pack_id: int) -> builtins.list[ScheduledQuery]:
        """The pack's scheduled queries, by id (empty for an unknown pack)."""
        ...

    async def get_scheduled(self, scheduled_id: int) -> ScheduledQuery | None:
        """The scheduled query with this id, or None."""
        ...

    async def add_scheduled(self, pack_id: int, *, query_id: int, name: str, fields: ScheduleFields,
                            at: dt.datetime) -> ScheduledQuery:
        """Schedule a saved query in a pack under ``name`` (created_at = updated_at = at).
        NotFound if the pack or the query does not exist, AlreadyExists if the pack already has
        an entry of that name."""
        ...

    async def update_scheduled(self, scheduled_id: int, fields: ScheduleFields, at: dt.datetime) -> ScheduledQuery:
        """Replace how the entry runs (updated_at = at). NotFound if it does not exist."""
        ...

    async def delete_scheduled(self, scheduled_id: int) -> bool:
        """Delete one scheduled query; False if there was none."""
        ...

    async def user_packs_of(self, query_ids: Sequence[int]) -> dict[int, builtins.list[Pack]]:
        """For each of these saved queries that a user pack schedules, those packs by id (the
        counts are not filled)."""
        ...

    async def catalogue(self) -> PackCatalogue:
        """Every pack (counts not filled), every scheduled query, and every saved query with an
        interval above 0, each by id."""
        ...


class CampaignRepository(Protocol):
    """Live query campaigns (the rows behind a live query; its running state lives in LiveQueryStore)."""

    async def add(self, *, query_id: int | None, query: str, user_id: int, selection: TargetSelection,
                  host_ids: Sequence[int], at: dt.datetime) -> Campaign:
        """Insert a waiting campaign (created_at = updated_at = at) with its selection and resolved hosts."""
        ...

    async def get(self, campaign_id: int) -> Campaign | None:
        """The campaign with this id, or None."""
        ...

    async def set_status(self, campaign_id: int, status: CampaignStatus, at: dt.datetime) -> Campaign:
        """Change the status (updated_at = at); NotFound if there is no such campaign."""
        ...

    async def complete_stale(self, *, waiting_before: dt.datetime, running_before: dt.datetime,
                             at: dt.datetime) -> builtins.list[int]:
        """Complete waiting campaigns created before ``waiting_before`` and running ones created
        before ``running_before``; returns their ids, ascending."""
        ...

    async def inactive(self, campaign_ids: Sequence[int]) -> builtins.list[int]:
        """Those of the ids whose campaign is completed or does not exist, ascending."""
        ...


class ResultSubscription(Protocol):
    """Results published for one campaign from the moment the subscription was made."""

    async def next(self, wait: float) -> LiveResult | None:
        """The next result, waiting at most ``wait`` seconds; None if none came. Raises
        Unavailable when the subscription broke (results may have been lost)."""
        ...

    async def close(self) -> None:
        """Unsubscribe; idempotent."""
        ...


class LiveQueryStore(Protocol):
    """Running campaigns shared by every server process: which hosts still have to answer which
    SQL, and the channel each campaign's results travel on. Raises Unavailable when the backing
    service does not answer."""

    async def start(self, campaign_id: int, sql: str, host_ids: Sequence[int]) -> None:
        """Ask these hosts to run the SQL under the campaign's query name."""
        ...

    async def stop(self, campaign_ids: Sequence[int]) -> None:
        """Forget these campaigns: no host is asked for them any more."""
        ...

    async def queries_for_host(self, host_id: int) -> dict[int, str]:
        """campaign id -> SQL for every running campaign this host still has to answer. May lag
        up to a second behind start/stop made by another process, never behind this one's."""
        ...

    async def answered(self, campaign_id: int, host_id: int) -> None:
        """The host answered the campaign; it is not asked again."""
        ...

    async def active_ids(self) -> builtins.list[int]:
        """The campaigns started and not stopped, ascending."""
        ...

    async def publish(self, result: LiveResult) -> bool:
        """Send a result to the campaign's subscribers in any process; True if one received it."""
        ...

    async def subscribe(self, campaign_id: int) -> ResultSubscription:
        """Receive the campaign's results published from now on (the subscription is in place
        when this returns)."""
        ...

    async def ping(self) -> bool:
        """Whether the backing service answers."""
        ...


class PackSource(Protocol):
    """The scheduled queries a host runs, as osquery packs (filled by the queries/packs capability)."""

    async def packs_for_host(self, host: Host) -> Mapping[str, Any]:
        """osquery `packs` for this host: pack name -> {"queries": {name: {...}}, ...}; {} if none."""
        ...


class LogDestination(Protocol):
    """Where osquery result and status logs go (filesystem, stdout, ...)."""

    async def write(self, log_type: str, records: Sequence[bytes]) -> None:
        """Durably hand over one batch of raw JSON records ("result" or "status"). Raises
        Unavailable if the batch was not accepted; it may then be sent again whole. An empty batch
        is accepted and writes nothing."""
        ...


class InvalidationBus(Protocol):
    """Tells every server process that cached facts about some hosts are stale.

    An announcement may be lost (a process was disconnected or stopped); the bus then calls the
    callbacks with an empty sequence instead, meaning "any host may have changed"."""

    async def publish(self, host_ids: Sequence[int]) -> None:
        """Announce that these hosts changed (re-enrolled, deleted, moved, refetched, ...). An empty
        sequence announces nothing. Raises Unavailable if the announcement was not sent."""
        ...

    def subscribe(self, callback: Callable[[Sequence[int]], None]) -> None:
        """Call ``callback`` with the host ids of every announcement, this process's included. An
        empty sequence means every host: drop everything cached. Callbacks run on the event loop
        and must not block; one that raises does not stop the others."""
        ...

    async def publish_config_changed(self) -> None:
        """Announce that the app configuration or a team's agent options changed. Raises
        Unavailable if the announcement was not sent."""
        ...

    def subscribe_config(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after every configuration announcement, and whenever announcements
        may have been lost (the same moments an empty host sequence is delivered)."""
        ...


class WebhookRepository(Protocol):
    """What the failing-policies and host-status webhooks need: the failing (policy, host) pairs
    already announced, a queue of deliveries, and when the host-status webhook last fired.

    A failing pair is a policy_membership row with passes = false. Deliveries are claimed with a
    lease (claim, commit, send, then complete or retry_later in a new unit of work); a claimed
    delivery is invisible to other claimers until its lease ends."""

    async def lock_planning(self) -> None:
        """Hold the planning lock until the unit of work ends: planners in every process take
        turns, so each sees what the previous one committed."""
        ...

    async def forget_recovered(self) -> int:
        """Forget the announced pairs that are no longer failing (passing again, result or host or
        policy gone), so that failing again announces them anew; returns how many went."""
        ...

    async def policies(self, policy_ids: Sequence[int]) -> builtins.list[Policy]:
        """The existing policies among ``policy_ids`` by id, with author name and email and their
        passing and failing host counts."""
        ...

    async def newly_failing(self, policy_id: int) -> builtins.list[FailingHost]:
        """The hosts failing the policy whose pair was not announced yet, by id."""
        ...

    async def mark_announced(self, policy_id: int, host_ids: Sequence[int], at: dt.datetime) -> None:
        """Record these pairs as announced."""
        ...

    async def enqueue(self, kind: WebhookKind, payload: Mapping[str, Any], at: dt.datetime) -> Delivery:
        """Queue a delivery, due at once (created_at = next_attempt_at = at, attempts 0)."""
        ...

    async def claim(self, kind: WebhookKind, *, now: dt.datetime, lease_until: dt.datetime) -> Delivery | None:
        """The due delivery of this kind (next_attempt_at <= now) with the lowest id, claimed:
        attempts + 1 and next_attempt_at = lease_until, as returned. Rows another unit of work is
        claiming are skipped, never waited for. None if nothing is due."""
        ...

    async def complete(self, delivery: Delivery) -> bool:
        """Delete the delivery if ``delivery`` (its attempts) is still the latest claim; whether it did."""
        ...

    async def retry_later(self, delivery: Delivery, *, at: dt.datetime, error: str) -> bool:
        """Make the delivery due at ``at`` with ``error`` as its last error, if ``delivery`` is
        still the latest claim; whether it did."""
        ...

    async def pending(self) -> builtins.list[Delivery]:
        """Every queued delivery, by id."""
        ...

    async def last_planned(self, kind: WebhookKind) -> dt.datetime | None:
        """When set_last_planned last recorded a planned request of this kind, or None."""
        ...

    async def set_last_planned(self, kind: WebhookKind, at: dt.datetime) -> None:
        ...


class SoftwareRepository(Protocol):
    """The software inventory as the fleet sees it (read-only; detail queries write it through
    HostRepository.apply_facts)."""

    async def list(self, filters: SoftwareFilter, options: ListOptions) -> builtins.list[Software]:
        """Software installed on at least one host matching ``filters`` (team, no team, visible
        teams), with hosts_count = how many such hosts have it and last_opened_at None.
        ``filters.query`` matches name or version (substring, case-insensitive); ``vulnerable``
        matches nothing (no vulnerability data). Ordered by ``options.order_key`` (one of
        SOFTWARE_ORDER_KEYS: name compares case-insensitively, the vulnerability keys are NULL
        for every title) NULLS LAST, then id ascending; paged. ``options.query`` is ignored."""
        ...

    async def count(self, filters: SoftwareFilter) -> int:
        """How many titles list() would return without paging."""
        ...


class CarveRepository(Protocol):
    """File-carve sessions and their blocks.

    A carve belongs to a host and goes with it (Fleet's ON DELETE CASCADE): a deleted host's
    carves are never read again. Blocks are numbered from 0 and stored strictly in order;
    ``max_block`` is the highest stored (-1 before the first). An expired carve keeps its
    metadata but not its blocks.
    """

    async def add(self, carve: NewCarve) -> Carve:
        """Insert a carve (expired False, max_block -1, no error). NotFound if the host does not
        exist, AlreadyExists if the session_id is taken."""
        ...

    async def get(self, carve_id: int) -> Carve | None:
        """The carve with this id, or None."""
        ...

    async def get_by_session(self, session_id: str) -> Carve | None:
        """The carve with this session_id, or None."""
        ...

    async def list(self, options: ListOptions, *, expired: bool, after: Any = None) -> builtins.list[Carve]:
        """Carves paged and ordered by ``options`` (keys: rules.carves.CARVE_ORDER_KEYS; none: by
        id); expired ones only when ``expired``. ``after`` (a value of the order key's type, only
        with an order key) keeps the carves whose key sorts strictly after it in the direction."""
        ...

    async def append_block(self, carve_id: int, block_id: int, data: bytes) -> bool:
        """Store block ``block_id`` and make it max_block, if it is max_block + 1 of an unexpired
        carve; whether it did (a concurrent writer may have taken the slot)."""
        ...

    async def block(self, carve_id: int, block_id: int) -> bytes | None:
        """A stored block's bytes, or None."""
        ...

    async def set_error(self, carve_id: int, error: str) -> None:
        """Record the latest error of the carve's session; unknown ids are ignored."""
        ...

    async def expire(self, *, created_before: dt.datetime, limit: int) -> int:
        """Mark up to ``limit`` unexpired carves created before the moment as expired, oldest
        first, and delete their blocks; how many were marked."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without commit() discards every write."""

    # Read-only members, so adapters may expose their own concrete repository types.
    @property
    def users(self) -> UserRepository: ...
    @property
    def sessions(self) -> SessionRepository: ...
    @property
    def invites(self) -> InviteRepository: ...
    @property
    def password_resets(self) -> PasswordResetRepository: ...
    @property
    def app_config(self) -> AppConfigRepository: ...
    @property
    def enroll_secrets(self) -> EnrollSecretRepository: ...
    @property
    def teams(self) -> TeamRepository: ...
    @property
    def activities(self) -> ActivityRepository: ...
    @property
    def hosts(self) -> HostRepository: ...
    @property
    def labels(self) -> LabelRepository: ...
    @property
    def queries(self) -> QueryRepository: ...
    @property
    def packs(self) -> PackRepository: ...
    @property
    def webhooks(self) -> WebhookRepository: ...
    @property
    def policies(self) -> PolicyRepository: ...
    @property
    def device_tokens(self) -> DeviceTokenRepository: ...
    @property
    def campaigns(self) -> CampaignRepository: ...
    @property
    def carves(self) -> CarveRepository: ...
    @property
    def software(self) -> SoftwareRepository: ...
    @property
    def host_listing(self) -> HostListing: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None:
        """Roll back anything not committed."""
        ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str:
        """A salted, slow hash of the password (off the event loop)."""
        ...

    async def verify(self, password_hash: str, password: str) -> bool:
        """Whether the password matches; False (never an error) for a malformed hash."""
        ...


class TokenGenerator(Protocol):
    def token(self) -> str:
        """A fresh random credential of at least 32 bytes of entropy, URL-safe."""
        ...

    def digest(self, token: str) -> str:
        """The stored form of a credential: a fast one-way hash (tokens are high-entropy)."""
        ...


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...


@attrs.frozen
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None


class Mailer(Protocol):
    async def send(self, settings: SMTPSettings, email: Email) -> None:
        """Deliver through the SMTP server the settings name. Raises NotConfigured if SMTP is
        disabled, Unavailable if the server refused or could not be reached."""
        ...


class RateLimiter(Protocol):
    async def hit(self, key: str, *, limit: int, window_seconds: int) -> int:
        """Count one attempt under ``key`` in a fixed window; return 0 while the count stays
        within ``limit``, else the seconds until the window resets. Shared across processes."""
        ...

    async def blocked(self, key: str, *, limit: int) -> int:
        """Without counting: 0 while fewer than ``limit`` attempts are in the current window
        under ``key``, else the seconds until it resets (at least 1)."""
        ...

    async def reset(self, key: str) -> None:
        """Forget the attempts under ``key``."""
        ...


class WebhookSender(Protocol):
    async def post(self, url: str, payload: Mapping[str, Any], *, delivery_id: str) -> None:
        """POST ``payload`` as JSON to ``url``, with ``delivery_id`` in the X-Fleet-Delivery-Id
        header so receivers can drop a repeated delivery. Raises Unavailable if the request failed,
        timed out or was answered with a status other than 2xx."""
        ...


class HealthCheck(Protocol):
    async def check(self) -> dict[str, bool]:
        """Each backing service by name, True when it answered."""
        ...


class HostListing(Protocol):
    """The read model behind a page of hosts (the hosts list, a label's hosts, the CSV report)."""

    async def page(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime, after: str | None = None,
                   device_mapping: bool = False, failing_policies: bool = False) -> builtins.list[ListedHost]:
        """The hosts HostRepository.list(filters, options, now=now, after=after) returns, in its
        order and with its errors, each with what its row shows: its device mapping (ordered by
        email then source) when ``device_mapping``, else None; how many policies it fails when
        ``failing_policies``, else 0. A fixed number of statements whatever the page size."""
        ...
