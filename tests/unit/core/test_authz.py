"""The authorization table and role resolution."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet_core.authz import ANY_ROLE, RULES, Action, Viewer, authorize, is_allowed
from fleet_core.errors import PermissionDenied
from fleet_core.model.users import Role, TeamRole, User

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def make_user(user_id: int = 1, global_role: Role | None = None, teams: dict[int, Role] | None = None) -> User:
    return User(
        id=user_id, name="u", email=f"u{user_id}@example.com", password_hash="x", global_role=global_role,
        teams=tuple(TeamRole(team_id=t, role=r) for t, r in sorted((teams or {}).items())),
        created_at=NOW, updated_at=NOW,
    )


# Expected decisions for a global object, per global role: the table, written out by hand.
GLOBAL_EXPECTED = {
    Action.READ_APP_CONFIG: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_APP_CONFIG: {Role.ADMIN},
    Action.READ_ENROLL_SECRETS: {Role.ADMIN, Role.MAINTAINER},
    Action.WRITE_ENROLL_SECRETS: {Role.ADMIN, Role.MAINTAINER},
    Action.LIST_USERS: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.READ_USER: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_USER: {Role.ADMIN},
    Action.CREATE_USER: {Role.ADMIN},
    Action.DELETE_USER: {Role.ADMIN},
    Action.REQUIRE_PASSWORD_RESET: {Role.ADMIN},
    Action.READ_SESSIONS: {Role.ADMIN},
    Action.DELETE_SESSIONS: {Role.ADMIN},
    Action.READ_INVITES: {Role.ADMIN},
    Action.WRITE_INVITES: {Role.ADMIN},
    Action.READ_ACTIVITIES: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.READ_TEAM: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_TEAM: {Role.ADMIN},
    Action.READ_HOSTS: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_HOSTS: {Role.ADMIN, Role.MAINTAINER},
    Action.REFETCH_HOSTS: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.READ_LABELS: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_LABELS: {Role.ADMIN, Role.MAINTAINER},
    Action.READ_QUERIES: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_QUERIES: {Role.ADMIN, Role.MAINTAINER},
    Action.READ_PACKS: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_PACKS: {Role.ADMIN, Role.MAINTAINER},
    Action.READ_POLICIES: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_POLICIES: {Role.ADMIN, Role.MAINTAINER},
    Action.RUN_LIVE_QUERIES: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.READ_SOFTWARE: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.TRIGGER_SCHEDULES: {Role.ADMIN},
    Action.DEBUG: {Role.ADMIN},
    Action.READ_CARVES: {Role.ADMIN, Role.MAINTAINER},
}

# On an object of team 7, per role held on team 7.
TEAM_EXPECTED = {
    Action.READ_APP_CONFIG: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_APP_CONFIG: set(),
    Action.READ_ENROLL_SECRETS: {Role.ADMIN, Role.MAINTAINER},
    Action.WRITE_ENROLL_SECRETS: {Role.ADMIN, Role.MAINTAINER},
    Action.LIST_USERS: {Role.ADMIN},
    Action.READ_USER: {Role.ADMIN},
    Action.WRITE_USER: {Role.ADMIN},
    Action.CREATE_USER: {Role.ADMIN},
    Action.DELETE_USER: {Role.ADMIN},
    Action.REQUIRE_PASSWORD_RESET: {Role.ADMIN},
    Action.READ_SESSIONS: set(),
    Action.DELETE_SESSIONS: set(),
    Action.READ_INVITES: {Role.ADMIN},
    Action.WRITE_INVITES: {Role.ADMIN},
    Action.READ_ACTIVITIES: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.READ_TEAM: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_TEAM: {Role.ADMIN},
    Action.READ_HOSTS: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_HOSTS: {Role.ADMIN, Role.MAINTAINER},
    Action.REFETCH_HOSTS: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.READ_LABELS: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_LABELS: set(),
    Action.READ_QUERIES: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_QUERIES: {Role.ADMIN, Role.MAINTAINER},
    Action.READ_PACKS: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_PACKS: {Role.ADMIN, Role.MAINTAINER},
    Action.READ_POLICIES: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.WRITE_POLICIES: {Role.ADMIN, Role.MAINTAINER},
    Action.RUN_LIVE_QUERIES: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.READ_SOFTWARE: {Role.ADMIN, Role.MAINTAINER, Role.OBSERVER},
    Action.TRIGGER_SCHEDULES: set(),
    Action.DEBUG: set(),
    Action.READ_CARVES: {Role.ADMIN, Role.MAINTAINER},
}


def test_every_action_has_a_rule_and_an_expectation() -> None:
    assert set(RULES) == set(Action) == set(GLOBAL_EXPECTED) == set(TEAM_EXPECTED)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_global_roles_follow_the_table(action: Action, role: Role) -> None:
    user = make_user(global_role=role)
    assert is_allowed(user, action) is (role in GLOBAL_EXPECTED[action])


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_team_roles_follow_the_table_on_their_team(action: Action, role: Role) -> None:
    user = make_user(teams={7: role})
    assert is_allowed(user, action, team_ids=[7]) is (role in TEAM_EXPECTED[action])


def test_authorize_raises_permission_denied() -> None:
    with pytest.raises(PermissionDenied):
        authorize(Viewer(make_user(global_role=Role.OBSERVER)), Action.WRITE_APP_CONFIG)


team_roles = st.dictionaries(st.integers(1, 6), st.sampled_from(list(Role)), max_size=4)
team_sets = st.lists(st.integers(1, 6), max_size=4)


@given(role=st.sampled_from(list(Role)), action=st.sampled_from(list(Action)), teams=team_sets)
def test_a_global_role_decides_alone_whatever_teams_the_object_has(role: Role, action: Action,
                                                                   teams: list[int]) -> None:
    user = make_user(global_role=role)
    assert is_allowed(user, action, team_ids=teams) is is_allowed(user, action)


@given(memberships=team_roles, action=st.sampled_from(list(Action)), teams=team_sets)
def test_team_roles_need_an_allowed_role_on_every_team_of_the_object(
    memberships: dict[int, Role], action: Action, teams: list[int]
) -> None:
    user = make_user(teams=memberships)
    expected = bool(teams) and all(memberships.get(t) in RULES[action].team_roles for t in teams)
    assert is_allowed(user, action, team_ids=teams) is expected


@given(memberships=team_roles, action=st.sampled_from(list(Action)))
def test_team_users_reach_global_objects_only_where_every_role_may(memberships: dict[int, Role],
                                                                    action: Action) -> None:
    user = make_user(teams=memberships)
    assert is_allowed(user, action) is (RULES[action].team_roles == ANY_ROLE)


@given(role=st.one_of(st.none(), st.sampled_from(list(Role))), memberships=team_roles,
       action=st.sampled_from([a for a, r in RULES.items() if r.self_allowed]))
def test_acting_on_oneself_is_allowed_where_the_rule_says_so(role: Role | None, memberships: dict[int, Role],
                                                             action: Action) -> None:
    user = make_user(user_id=5, global_role=role, teams=None if role else memberships)
    assert is_allowed(user, action, owner_id=5)
