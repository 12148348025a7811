"""is_allowed_somewhere: what a user interface may offer, derived from the authorization table."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fleet_core.authz import ANY_ROLE, RULES, Action, is_allowed_somewhere
from fleet_core.model.users import Role
from tests.unit.core.test_authz import make_user

roles = st.sampled_from(list(Role))
team_roles = st.dictionaries(st.integers(min_value=1, max_value=5), roles, max_size=3)


@given(action=st.sampled_from(list(Action)), role=roles)
def test_a_global_role_is_allowed_somewhere_exactly_when_it_is_allowed_globally(action: Action, role: Role) -> None:
    user = make_user(global_role=role)
    assert is_allowed_somewhere(user, action) == (role in RULES[action].global_roles)


@given(action=st.sampled_from(list(Action)), teams=team_roles)
def test_a_team_user_is_allowed_somewhere_when_one_team_or_the_global_object_allows_it(
        action: Action, teams: dict[int, Role]) -> None:

    user = make_user(teams=teams)
    rule = RULES[action]
    # Open to every team role (a global object team users reach), or one team's role is allowed.
    expected = rule.team_roles == ANY_ROLE or any(role in rule.team_roles for role in teams.values())
    assert is_allowed_somewhere(user, action) == expected


def test_examples_the_console_navigation_relies_on() -> None:
    team_maintainer = make_user(teams={1: Role.MAINTAINER})
    team_observer = make_user(teams={1: Role.OBSERVER, 2: Role.OBSERVER})
    observer = make_user(global_role=Role.OBSERVER)
    # Carves: a team maintainer reads their teams' carves; observers never.
    assert is_allowed_somewhere(team_maintainer, Action.READ_CARVES)
    assert not is_allowed_somewhere(team_observer, Action.READ_CARVES)
    assert not is_allowed_somewhere(observer, Action.READ_CARVES)
    # Settings are for global admins only.
    assert not is_allowed_somewhere(make_user(teams={1: Role.ADMIN}), Action.WRITE_APP_CONFIG)
    assert is_allowed_somewhere(make_user(global_role=Role.ADMIN), Action.WRITE_APP_CONFIG)
    # Writing policies: on a team one maintains, not as a global observer.
    assert is_allowed_somewhere(team_maintainer, Action.WRITE_POLICIES)
    assert not is_allowed_somewhere(observer, Action.WRITE_POLICIES)
