"""Target resolution: the rules of a live query's selection and the viewer's team visibility."""

from __future__ import annotations

import datetime as dt

import attrs
from hypothesis import assume, given
from hypothesis import strategies as st

from fleet_core.model.users import Role, TeamRole, User
from fleet_core.rules.targets import (
    NO_TEAM,
    LabelKinds,
    TargetHost,
    TargetSelection,
    resolve_targets,
    target_team_filter,
)

ALL_HOSTS = 1
BUILTIN = frozenset({1, 2, 3})
CUSTOM = frozenset({10, 11, 12})
KINDS = LabelKinds(builtin=BUILTIN, custom=CUSTOM, all_hosts=ALL_HOSTS)
TEAMS = (1, 2, 3)
# Label ids the selection may name, including one no label has.
LABEL_IDS = sorted(BUILTIN | CUSTOM | {99})

Hosts = list[TargetHost]
Selection = TargetSelection
Visible = frozenset[int] | None

teams = st.one_of(st.none(), st.sampled_from(TEAMS))
fleets = st.lists(
    st.tuples(teams, st.frozensets(st.sampled_from(sorted(BUILTIN - {ALL_HOSTS} | CUSTOM)))),
    max_size=12,
).map(lambda specs: [TargetHost(id=i, team_id=t, label_ids=labels | {ALL_HOSTS})
                     for i, (t, labels) in enumerate(specs, start=1)])
selections = st.builds(
    TargetSelection,
    host_ids=st.frozensets(st.integers(1, 14), max_size=4),
    label_ids=st.frozensets(st.sampled_from(LABEL_IDS), max_size=4),
    team_ids=st.frozensets(st.sampled_from((NO_TEAM, *TEAMS, 7)), max_size=3),
)
visibilities = st.one_of(st.none(), st.frozensets(st.sampled_from(TEAMS)))


def visible_ids(hosts: list[TargetHost], visible: frozenset[int] | None) -> set[int]:
    return {h.id for h in hosts if visible is None or h.team_id in visible}


def resolve(selection: Selection, hosts: list[TargetHost], visible: frozenset[int] | None = None) -> list[int]:
    return resolve_targets(selection, hosts, KINDS, visible_team_ids=visible)


@given(fleet=fleets, selection=selections, visible=visibilities)
def test_the_result_is_sorted_unique_and_only_visible_hosts(
    fleet: Hosts, selection: Selection, visible: Visible,
) -> None:
    got = resolve(selection, fleet, visible)
    assert got == sorted(set(got))
    assert set(got) <= visible_ids(fleet, visible)


@given(fleet=fleets, selection=selections, visible=visibilities)
def test_explicit_hosts_are_always_included_when_visible(fleet: Hosts, selection: Selection, visible: Visible) -> None:
    got = set(resolve(selection, fleet, visible))
    assert selection.host_ids & visible_ids(fleet, visible) <= got


@given(fleet=fleets, selection=selections, visible=visibilities)
def test_all_hosts_selects_every_visible_host(fleet: Hosts, selection: Selection, visible: Visible) -> None:
    with_all = attrs.evolve(selection, label_ids=selection.label_ids | {ALL_HOSTS})
    assert resolve(with_all, fleet, visible) == sorted(visible_ids(fleet, visible))


@given(fleet=fleets, visible=visibilities)
def test_nothing_selected_selects_nothing(fleet: Hosts, visible: Visible) -> None:
    assert resolve(TargetSelection(), fleet, visible) == []


@given(fleet=fleets, host_ids=st.frozensets(st.integers(1, 14)))
def test_hosts_alone_select_exactly_those_hosts(fleet: Hosts, host_ids: frozenset[int]) -> None:
    assert resolve(TargetSelection(host_ids=host_ids), fleet) == sorted(host_ids & {h.id for h in fleet})


@given(fleet=fleets, selection=selections)
def test_a_group_is_the_or_of_its_members_and_groups_are_anded(fleet: Hosts, selection: Selection) -> None:
    custom = selection.label_ids & CUSTOM
    builtin = selection.label_ids & BUILTIN
    grouped = custom or builtin or selection.team_ids
    expected = {
        h.id for h in fleet
        if h.id in selection.host_ids or ALL_HOSTS in selection.label_ids or (
            grouped
            and (not custom or bool(custom & h.label_ids))
            and (not builtin or bool(builtin & h.label_ids))
            and (not selection.team_ids or (h.team_id or NO_TEAM) in selection.team_ids))
    }
    assert resolve(selection, fleet) == sorted(expected)


@given(fleet=fleets, selection=selections, extra=st.sampled_from(sorted(CUSTOM)))
def test_adding_a_label_to_a_selected_group_never_shrinks_the_result(
    fleet: Hosts, selection: Selection, extra: int,
) -> None:
    # Only when the custom group is already in play: a new group can only narrow.
    assume(selection.label_ids & CUSTOM)
    wider = attrs.evolve(selection, label_ids=selection.label_ids | {extra})
    assert set(resolve(selection, fleet)) <= set(resolve(wider, fleet))


@given(fleet=fleets, selection=selections, team=st.sampled_from((NO_TEAM, *TEAMS)))
def test_selecting_a_new_group_can_only_narrow_what_the_groups_select(
    fleet: Hosts, selection: Selection, team: int,
) -> None:
    labelled = attrs.evolve(selection, team_ids=frozenset())
    assume(labelled.label_ids & (CUSTOM | BUILTIN) and ALL_HOSTS not in labelled.label_ids)
    narrowed = attrs.evolve(labelled, team_ids={team})
    assert set(resolve(narrowed, fleet)) <= set(resolve(labelled, fleet))


@given(fleet=fleets, selection=selections, data=st.data())
def test_order_and_repetition_of_the_selection_do_not_matter(
    fleet: Hosts, selection: Selection, data: st.DataObject,
) -> None:
    def shuffled(ids: frozenset[int]) -> list[int]:
        listed = sorted(ids) * 2
        return list(data.draw(st.permutations(listed)))

    again = TargetSelection(host_ids=shuffled(selection.host_ids), label_ids=shuffled(selection.label_ids),
                            team_ids=shuffled(selection.team_ids))
    assert resolve(again, fleet) == resolve(selection, fleet)
    assert resolve(selection, list(reversed(fleet))) == resolve(selection, fleet)


@given(fleet=fleets)
def test_team_zero_selects_the_hosts_without_a_team(fleet: Hosts) -> None:
    assert resolve(TargetSelection(team_ids={NO_TEAM}), fleet) == sorted(h.id for h in fleet if h.team_id is None)


@given(fleet=fleets, selection=selections)
def test_label_ids_naming_no_label_are_ignored(fleet: Hosts, selection: Selection) -> None:
    assert resolve(attrs.evolve(selection, label_ids=selection.label_ids | {99}), fleet) == \
        resolve(attrs.evolve(selection, label_ids=selection.label_ids - {99}), fleet)


def test_hosts_without_a_team_are_invisible_to_team_scoped_viewers() -> None:
    fleet = [TargetHost(id=1, team_id=None), TargetHost(id=2, team_id=1)]
    assert resolve(TargetSelection(host_ids={1, 2}), fleet, frozenset({1})) == [2]
    assert resolve(TargetSelection(host_ids={1, 2}), fleet, frozenset()) == []


def user(global_role: Role | None = None, *teams: tuple[int, Role]) -> User:
    at = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return User(id=1, name="u", email="u@example.com", password_hash="", global_role=global_role,
                teams=tuple(TeamRole(team_id=t, role=r) for t, r in teams), created_at=at, updated_at=at)


def test_global_admins_and_maintainers_target_every_host() -> None:
    for role in (Role.ADMIN, Role.MAINTAINER):
        assert target_team_filter(user(role), include_observer=False) is None


def test_global_observers_target_hosts_only_when_observers_may_run_the_query() -> None:
    assert target_team_filter(user(Role.OBSERVER), include_observer=False) == frozenset()
    assert target_team_filter(user(Role.OBSERVER), include_observer=True) is None


def test_team_users_target_their_teams_and_observed_teams_only_when_observers_may_run() -> None:
    member = user(None, (1, Role.ADMIN), (2, Role.MAINTAINER), (3, Role.OBSERVER))
    assert target_team_filter(member, include_observer=False) == frozenset({1, 2})
    assert target_team_filter(member, include_observer=True) == frozenset({1, 2, 3})
