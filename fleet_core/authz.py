"""Who may do what: one table from action to the roles allowed, global and per team.

Every service method calls `authorize` before touching storage. A user holds either a global
role or team roles, never both; team roles only reach objects of those teams.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from fleet_core.errors import PermissionDenied
from fleet_core.model.users import Role, Session, User

ADMIN = frozenset({Role.ADMIN})
WRITERS = frozenset({Role.ADMIN, Role.MAINTAINER})
ANY_ROLE = frozenset(Role)


@attrs.frozen
class Viewer:
    """The authenticated caller of a service method."""

    user: User
    session: Session | None = None

    @property
    def is_global_admin(self) -> bool:
        return self.user.global_role is Role.ADMIN


class Action(enum.StrEnum):
    READ_APP_CONFIG = "app_config.read"
    WRITE_APP_CONFIG = "app_config.write"
    READ_ENROLL_SECRETS = "enroll_secret.read"
    WRITE_ENROLL_SECRETS = "enroll_secret.write"
    LIST_USERS = "user.list"
    READ_USER = "user.read"
    WRITE_USER = "user.write"
    CREATE_USER = "user.create"
    DELETE_USER = "user.delete"
    REQUIRE_PASSWORD_RESET = "user.require_password_reset"  # noqa: S105 - an action name
    READ_SESSIONS = "session.read"
    DELETE_SESSIONS = "session.delete"
    READ_INVITES = "invite.read"
    WRITE_INVITES = "invite.write"
    READ_ACTIVITIES = "activity.read"
    READ_TEAM = "team.read"
    WRITE_TEAM = "team.write"
    READ_HOSTS = "host.read"
    WRITE_HOSTS = "host.write"
    REFETCH_HOSTS = "host.refetch"
    READ_LABELS = "label.read"
    WRITE_LABELS = "label.write"
    READ_QUERIES = "query.read"
    WRITE_QUERIES = "query.write"
    # Packs and schedules: user packs are global objects; a team's schedule belongs to its team.
    READ_PACKS = "pack.read"
    WRITE_PACKS = "pack.write"
    # Team users read global policies and manage their own teams' policies by role.
    READ_POLICIES = "policy.read"
    WRITE_POLICIES = "policy.write"
    # Anyone may start a live query; which hosts it reaches (observers only with observer_can_run)
    # is the target rule's business.
    RUN_LIVE_QUERIES = "live_query.run"
    # Carved files may hold anything on the host: admins and maintainers read them (team ones
    # only their teams' hosts'), observers never.
    READ_CARVES = "carve.read"
    # The software inventory: team users read what is installed on their teams' hosts.
    READ_SOFTWARE = "software.read"
    # Running a background schedule now (POST /trigger).
    TRIGGER_SCHEDULES = "schedule.trigger"
    # The debug endpoints (GET /debug/...): errors, database and process diagnostics.
    DEBUG = "debug.read"


@attrs.frozen
class Rule:
    """Global roles allowed anywhere; team roles allowed on the object's teams."""

    global_roles: frozenset[Role]
    team_roles: frozenset[Role] = frozenset()
    # Acting on oneself (own user record, own sessions) is always allowed when set.
    self_allowed: bool = False


# The single authorization table. Team roles apply when the object belongs to teams
# (a team's secrets, users whose every team the actor administers).
RULES: dict[Action, Rule] = {
    Action.READ_APP_CONFIG: Rule(ANY_ROLE, ANY_ROLE),
    Action.WRITE_APP_CONFIG: Rule(ADMIN),
    Action.READ_ENROLL_SECRETS: Rule(WRITERS, WRITERS),
    Action.WRITE_ENROLL_SECRETS: Rule(WRITERS, WRITERS),
    Action.LIST_USERS: Rule(ANY_ROLE, ADMIN),
    Action.READ_USER: Rule(ANY_ROLE, ADMIN, self_allowed=True),
    Action.WRITE_USER: Rule(ADMIN, ADMIN, self_allowed=True),
    Action.CREATE_USER: Rule(ADMIN, ADMIN),
    Action.DELETE_USER: Rule(ADMIN, ADMIN),
    Action.REQUIRE_PASSWORD_RESET: Rule(ADMIN, ADMIN),
    Action.READ_SESSIONS: Rule(ADMIN, frozenset(), self_allowed=True),
    Action.DELETE_SESSIONS: Rule(ADMIN, frozenset(), self_allowed=True),
    Action.READ_INVITES: Rule(ADMIN, ADMIN),
    Action.WRITE_INVITES: Rule(ADMIN, ADMIN),
    Action.READ_ACTIVITIES: Rule(ANY_ROLE, ANY_ROLE),
    Action.READ_TEAM: Rule(ANY_ROLE, ANY_ROLE),
    Action.WRITE_TEAM: Rule(ADMIN, ADMIN),
    Action.READ_HOSTS: Rule(ANY_ROLE, ANY_ROLE),
    Action.WRITE_HOSTS: Rule(WRITERS, WRITERS),
    Action.REFETCH_HOSTS: Rule(ANY_ROLE, ANY_ROLE),
    Action.READ_LABELS: Rule(ANY_ROLE, ANY_ROLE),
    Action.WRITE_LABELS: Rule(WRITERS),
    # Team users reach global queries read-only and their own teams' queries by role.
    Action.READ_QUERIES: Rule(ANY_ROLE, ANY_ROLE),
    Action.WRITE_QUERIES: Rule(WRITERS, WRITERS),
    Action.READ_PACKS: Rule(ANY_ROLE, ANY_ROLE),
    Action.WRITE_PACKS: Rule(WRITERS, WRITERS),
    Action.READ_POLICIES: Rule(ANY_ROLE, ANY_ROLE),
    Action.WRITE_POLICIES: Rule(WRITERS, WRITERS),
    Action.RUN_LIVE_QUERIES: Rule(ANY_ROLE, ANY_ROLE),
    Action.READ_CARVES: Rule(WRITERS, WRITERS),
    Action.READ_SOFTWARE: Rule(ANY_ROLE, ANY_ROLE),
    Action.TRIGGER_SCHEDULES: Rule(ADMIN),
    Action.DEBUG: Rule(ADMIN),
}


def is_allowed(
    user: User,
    action: Action,
    *,
    team_ids: Iterable[int] | None = None,
    owner_id: int | None = None,
) -> bool:
    """Decide one action.

    ``team_ids`` is None for a global object. For a team-scoped object it lists the teams the
    object belongs to, and a team role must hold on every one of them (an empty list means the
    object belongs to no team and so only global roles reach it, unless the action is a listing
    that filters to the user's teams, which passes ``team_ids=[]`` only for such callers).
    """
    rule = RULES[action]
    if rule.self_allowed and owner_id is not None and owner_id == user.id:
        return True
    if user.global_role is not None:
        return user.global_role in rule.global_roles
    if team_ids is None:
        # Team users reach a global object only where the action is open to every team role
        # (reading config, listing what is filtered to their teams).
        return bool(rule.team_roles) and rule.team_roles == ANY_ROLE
    teams = list(team_ids)
    if not teams:
        return False
    return all(user.team_role(team_id) in rule.team_roles for team_id in teams)


def authorize(
    viewer: Viewer,
    action: Action,
    *,
    team_ids: Iterable[int] | None = None,
    owner_id: int | None = None,
) -> None:
    """Raise PermissionDenied unless the viewer may perform the action."""
    if not is_allowed(viewer.user, action, team_ids=team_ids, owner_id=owner_id):
        raise PermissionDenied("forbidden")


def admin_team_ids(user: User) -> frozenset[int]:
    return frozenset(m.team_id for m in user.teams if m.role is Role.ADMIN)


def visible_team_ids(user: User) -> frozenset[int] | None:
    """None when the user sees every team (any global role)."""
    if user.global_role is not None:
        return None
    return frozenset(m.team_id for m in user.teams)




def is_allowed_somewhere(user: User, action: Action) -> bool:
    """Whether the user may perform the action on at least some object: globally, or on one of
    the user's teams. For offering actions in a user interface only; the services still decide
    each request with `authorize`."""
    return is_allowed(user, action) or any(is_allowed(user, action, team_ids=[m.team_id]) for m in user.teams)
