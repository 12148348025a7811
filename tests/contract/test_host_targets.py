"""HostInventoryRepository.target_host_ids and search (fleet_core.ports): which hosts a selection reaches,
and the host search of the target pickers.

The last tests build random fleets of teams, labels and hosts in the in-memory store and in
Postgres, and want both to agree with the pure rule of fleet_core.rules.targets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import attrs
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_adapters.memory import InMemoryStore
from fleet_core.model.hosts import HostFilter, HostStatus, HostStatusCounts
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.host_storage import ALL_HOSTS
from fleet_core.rules.paging import Direction, ListOptions
from fleet_core.rules.targets import NO_TEAM, LabelKinds, TargetHost, TargetSelection, resolve_targets

pytestmark = pytest.mark.anyio

MINUTE = dt.timedelta(minutes=1)
UNKNOWN = 1_000_000


async def enroll(uow: UnitOfWork, name: str, at: dt.datetime, *, team_id: int | None = None,
                 **fields: Any) -> int:
    host = (await uow.hosts.enroll(osquery_host_id=f"osquery-{name}", node_key_hash=f"key-{name}",
                                   team_id=team_id, at=at, fields={"hostname": name, **fields})).host
    return host.id


async def builtin_id(uow: UnitOfWork, name: str) -> int:
    return next(label.id for label in await uow.labels.builtin() if label.name == name)


async def manual_label(uow: UnitOfWork, name: str, host_ids: list[int], at: dt.datetime) -> int:
    label = await uow.labels.add(name=name, description="", query="", platform="", membership_type="manual", at=at)
    await uow.labels.set_members(label.id, host_ids, at)
    return label.id


@attrs.frozen
class Small:
    """Two teams; mac-1 (team a, macOS, label "web"), mac-2 (team b, macOS), lin-1 (team a,
    "web"), lin-2 (no team)."""

    team_a: int
    team_b: int
    mac1: int
    mac2: int
    lin1: int
    lin2: int
    web: int
    macos: int
    all_hosts: int


@pytest.fixture
async def small(uow_factory: UnitOfWorkFactory, add_team: Any, at: dt.datetime) -> Small:
    async with uow_factory() as uow:
        team_a, team_b = (await add_team(uow, "a")).id, (await add_team(uow, "b")).id
        mac1 = await enroll(uow, "mac-1", at, team_id=team_a)
        mac2 = await enroll(uow, "mac-2", at, team_id=team_b)
        lin1 = await enroll(uow, "lin-1", at, team_id=team_a)
        lin2 = await enroll(uow, "lin-2", at)
        macos = await builtin_id(uow, "macOS")
        for host_id in (mac1, mac2):
            await uow.labels.record_results(host_id, {macos: True}, at)
        web = await manual_label(uow, "web", [mac1, lin1], at)
        small = Small(team_a=team_a, team_b=team_b, mac1=mac1, mac2=mac2, lin1=lin1, lin2=lin2, web=web,
                      macos=macos, all_hosts=await builtin_id(uow, ALL_HOSTS))
        await uow.commit()
    return small


async def targets(uow_factory: UnitOfWorkFactory, visible: frozenset[int] | None = None, **selected: Any) -> list[int]:
    async with uow_factory() as uow:
        return await uow.host_inventory.target_host_ids(TargetSelection(**selected), visible_team_ids=visible)


async def test_nothing_selected_targets_no_host(uow_factory: UnitOfWorkFactory, small: Small) -> None:
    assert await targets(uow_factory) == []


async def test_explicit_hosts_are_targeted_whatever_else_is_selected(uow_factory: UnitOfWorkFactory,
                                                                     small: Small) -> None:
    s = small
    assert await targets(uow_factory, host_ids=[s.lin2, UNKNOWN]) == [s.lin2]
    assert await targets(uow_factory, host_ids=[s.lin2], team_ids=[s.team_a]) == sorted([s.mac1, s.lin1, s.lin2])


async def test_all_hosts_targets_every_host(uow_factory: UnitOfWorkFactory, small: Small) -> None:
    s = small
    every = sorted([s.mac1, s.mac2, s.lin1, s.lin2])
    assert await targets(uow_factory, label_ids=[s.all_hosts, s.web], team_ids=[s.team_b]) == every


async def test_groups_are_ored_within_and_anded_between(uow_factory: UnitOfWorkFactory, small: Small) -> None:
    s = small
    assert await targets(uow_factory, label_ids=[s.web]) == sorted([s.mac1, s.lin1])
    assert await targets(uow_factory, team_ids=[s.team_a, s.team_b]) == sorted([s.mac1, s.mac2, s.lin1])
    assert await targets(uow_factory, label_ids=[s.web, s.macos]) == [s.mac1]
    assert await targets(uow_factory, label_ids=[s.macos], team_ids=[s.team_b]) == [s.mac2]


async def test_team_zero_means_hosts_without_a_team(uow_factory: UnitOfWorkFactory, small: Small) -> None:
    s = small
    assert await targets(uow_factory, team_ids=[NO_TEAM]) == [s.lin2]
    assert await targets(uow_factory, team_ids=[NO_TEAM, s.team_b]) == sorted([s.mac2, s.lin2])


async def test_label_ids_naming_no_label_are_ignored(uow_factory: UnitOfWorkFactory, small: Small) -> None:
    s = small
    assert await targets(uow_factory, label_ids=[UNKNOWN]) == []
    assert await targets(uow_factory, label_ids=[UNKNOWN], team_ids=[s.team_b]) == [s.mac2]


async def test_team_visibility_applies_on_top(uow_factory: UnitOfWorkFactory, small: Small) -> None:
    s = small
    assert await targets(uow_factory, frozenset({s.team_a}), label_ids=[s.all_hosts]) == sorted([s.mac1, s.lin1])
    assert await targets(uow_factory, frozenset({s.team_a}), host_ids=[s.lin2, s.mac2]) == []
    assert await targets(uow_factory, frozenset(), label_ids=[s.all_hosts]) == []


async def test_status_counts_count_the_targeted_hosts(uow_factory: UnitOfWorkFactory, small: Small,
                                                      at: dt.datetime) -> None:
    s = small
    later = at + dt.timedelta(days=31)
    async with uow_factory() as uow:
        def counts(now: dt.datetime, visible: frozenset[int] | None = None, **selected: Any) -> Any:
            return uow.host_inventory.target_status_counts(TargetSelection(**selected), visible_team_ids=visible,
                                                           now=now)

        everyone_now = await counts(at, label_ids=[s.all_hosts])
        everyone_later = await counts(later, label_ids=[s.all_hosts])
        web_team_a = await counts(at, frozenset({s.team_a}), label_ids=[s.web], host_ids=[s.lin2])
        nothing = await counts(at)
    assert (everyone_now.total, everyone_now.online, everyone_now.missing) == (4, 4, 0)
    assert (everyone_later.total, everyone_later.online, everyone_later.missing) == (4, 0, 4)
    assert (web_team_a.total, web_team_a.online, web_team_a.missing) == (2, 2, 0)
    assert (nothing.total, nothing.online, nothing.missing) == (0, 0, 0)


async def searched(uow_factory: UnitOfWorkFactory, text: str, *, excluded: frozenset[int] = frozenset(),
                   limit: int = 10, visible: frozenset[int] | None = None) -> list[str]:
    async with uow_factory() as uow:
        hosts = await uow.host_inventory.search(text, excluded_ids=excluded, limit=limit, visible_team_ids=visible)
        return [h.hostname for h in hosts]


async def test_search_matches_names_uuid_serial_and_ip_case_insensitively(uow_factory: UnitOfWorkFactory,
                                                                            at: dt.datetime) -> None:
    async with uow_factory() as uow:
        await enroll(uow, "Alpha", at, uuid="UU-1", hardware_serial="SER-9", primary_ip="10.0.0.5")
        await enroll(uow, "beta", at, computer_name="Big-Mac", primary_ip="172.16.0.7")
        await enroll(uow, "gamma_100%", at)
        await uow.commit()
    assert await searched(uow_factory, "ALP") == ["Alpha"]
    assert await searched(uow_factory, "uu-") == ["Alpha"]
    assert await searched(uow_factory, "ser-9") == ["Alpha"]
    assert await searched(uow_factory, "172.16") == ["beta"]
    assert await searched(uow_factory, "big") == ["beta"]
    # LIKE wildcards in the text are literal.
    assert await searched(uow_factory, "_100%") == ["gamma_100%"]
    assert await searched(uow_factory, "a_") == ["gamma_100%"]
    assert await searched(uow_factory, "nothing") == []


async def test_search_leaves_out_excluded_and_invisible_hosts_and_stops_at_the_limit(
        uow_factory: UnitOfWorkFactory, add_team: Any, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = (await add_team(uow, "t")).id
        ids = [await enroll(uow, f"host-{i}", at, team_id=team if i % 2 else None) for i in range(6)]
        await uow.commit()
    assert await searched(uow_factory, "host", excluded=frozenset(ids[:2])) == [f"host-{i}" for i in range(2, 6)]
    assert await searched(uow_factory, "host", limit=3) == ["host-0", "host-1", "host-2"]
    assert await searched(uow_factory, "host", visible=frozenset({team})) == ["host-1", "host-3", "host-5"]
    assert await searched(uow_factory, "host", visible=frozenset()) == []


async def test_search_without_text_lists_the_most_recently_seen_first(uow_factory: UnitOfWorkFactory,
                                                                      at: dt.datetime) -> None:
    async with uow_factory() as uow:
        first, _, third = [await enroll(uow, name, at) for name in ("first", "second", "third")]
        await uow.hosts.mark_seen({first: at + 2 * MINUTE, third: at + MINUTE})
        await uow.commit()
    assert await searched(uow_factory, "") == ["first", "third", "second"]
    assert await searched(uow_factory, "", excluded=frozenset({first}), limit=1) == ["third"]


async def test_a_later_enrollment_is_the_seen_time_of_lists_counts_summary_and_search(
        uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    # Check-ins and enrollments are stored apart in Postgres (host_seen_times and hosts.seen_time,
    # migration 0020 keeps the former the later of both): every reader must see the later one.
    long_ago = at - dt.timedelta(days=40)
    async with uow_factory() as uow:
        a = await enroll(uow, "a", at)
        b = await enroll(uow, "b", long_ago)
        c = await enroll(uow, "c", long_ago)
        await uow.hosts.mark_seen({a: at + 2 * MINUTE})
        await uow.commit()
    async with uow_factory() as uow:
        await uow.hosts.enroll(osquery_host_id="osquery-b", node_key_hash="key-b2", team_id=None,
                               at=at + 5 * MINUTE, fields={"hostname": "Bee"})
        await uow.commit()
    now = at + 5 * MINUTE + dt.timedelta(seconds=30)
    async with uow_factory() as uow:
        inventory = uow.host_inventory
        by_seen = ListOptions(order_key="seen_time", order_direction=Direction.DESC)
        assert [h.id for h in await inventory.list(HostFilter(), by_seen, now=now)] == [b, a, c]
        assert [h.seen_time for h in await inventory.list(HostFilter(ids=frozenset({b})), ListOptions(), now=now)] \
            == [at + 5 * MINUTE]
        counts = [await inventory.count(HostFilter(status=status), now=now)
                  for status in (HostStatus.ONLINE, HostStatus.OFFLINE, HostStatus.MISSING, HostStatus.NEW)]
        assert counts == [1, 2, 1, 1]
        summary = await inventory.summary(HostFilter(), platform=None, now=now)
        assert (summary.totals_hosts_count, summary.online_count, summary.offline_count, summary.mia_count,
                summary.new_count) == (3, 1, 2, 1, 1)
        all_hosts = TargetSelection(label_ids=[await builtin_id(uow, ALL_HOSTS)])
        assert await inventory.target_status_counts(all_hosts, visible_team_ids=None, now=now) \
            == HostStatusCounts(total=3, online=1, missing=1)
    assert await searched(uow_factory, "") == ["Bee", "a", "c"]
    assert await searched(uow_factory, "BEE") == ["Bee"]
    assert await searched(uow_factory, "b") == ["Bee"]


# ---- memory and Postgres agree with the rule on random fleets --------------------------------

TEAM_COUNT = 3
CUSTOM_COUNT = 3
BUILTINS = (ALL_HOSTS, "macOS", "Ubuntu Linux", "MS Windows")
TEXT = "aAb_%"

fleet_specs = st.lists(
    st.fixed_dictionaries({
        "team": st.one_of(st.none(), st.integers(0, TEAM_COUNT - 1)),
        "custom": st.frozensets(st.integers(0, CUSTOM_COUNT - 1)),
        "builtin": st.frozensets(st.sampled_from(BUILTINS[1:])),
        "name": st.text(TEXT, max_size=3),
        "seen": st.integers(0, 3),
    }),
    max_size=10,
)
label_refs = st.one_of(
    st.tuples(st.just("custom"), st.integers(0, CUSTOM_COUNT - 1)),
    st.tuples(st.just("builtin"), st.sampled_from(BUILTINS)),
    st.just(("unknown", 0)),
)
team_refs = st.one_of(st.integers(0, TEAM_COUNT - 1), st.just("none"), st.just("unknown"))
selection_specs = st.fixed_dictionaries({
    "hosts": st.frozensets(st.integers(0, 11), max_size=3),
    "labels": st.frozensets(label_refs, max_size=3),
    "teams": st.frozensets(team_refs, max_size=2),
    "visible": st.one_of(st.none(), st.frozensets(st.integers(0, TEAM_COUNT - 1))),
})
search_specs = st.tuples(st.text(TEXT, max_size=2), st.frozensets(st.integers(0, 11), max_size=3),
                         st.integers(1, 4), st.one_of(st.none(), st.frozensets(st.integers(0, TEAM_COUNT - 1))))


@attrs.frozen
class Built:
    """One store's ids for the spec's hosts, teams, custom labels and built-in labels."""

    hosts: list[int]
    teams: list[int]
    custom: list[int]
    builtin: dict[str, int]

    def host_index(self, host_id: int) -> int:
        return self.hosts.index(host_id)

    def selection(self, spec: dict[str, Any]) -> TargetSelection:
        labels = {self.custom[i] if kind == "custom" else self.builtin[i] if kind == "builtin" else UNKNOWN
                  for kind, i in spec["labels"]}
        teams = {self.teams[t] if isinstance(t, int) else NO_TEAM if t == "none" else UNKNOWN for t in spec["teams"]}
        hosts = {self.hosts[i] if i < len(self.hosts) else UNKNOWN + i for i in spec["hosts"]}
        return TargetSelection(host_ids=hosts, label_ids=labels, team_ids=teams)

    def visible(self, teams: frozenset[int] | None) -> frozenset[int] | None:
        return None if teams is None else frozenset(self.teams[t] for t in teams)


async def build(uow_factory: UnitOfWorkFactory, specs: list[dict[str, Any]], at: dt.datetime) -> Built:
    async with uow_factory() as uow:
        teams = [(await uow.teams.add(name=f"team {i}", description="", at=at)).id for i in range(TEAM_COUNT)]
        builtin = {name: await builtin_id(uow, name) for name in BUILTINS}
        hosts = []
        for index, spec in enumerate(specs):
            team = None if spec["team"] is None else teams[spec["team"]]
            host_id = await enroll(uow, f"{spec['name']}{index}", at, team_id=team)
            await uow.labels.record_results(host_id, {builtin[name]: True for name in spec["builtin"]}, at)
            await uow.hosts.mark_seen({host_id: at + spec["seen"] * MINUTE})
            hosts.append(host_id)
        custom = [await manual_label(uow, f"custom {c}", [hosts[i] for i, s in enumerate(specs) if c in s["custom"]],
                                     at) for c in range(CUSTOM_COUNT)]
        await uow.commit()
    return Built(hosts=hosts, teams=teams, custom=custom, builtin=builtin)


def expected_targets(specs: list[dict[str, Any]], built: Built, selection: dict[str, Any]) -> list[int]:
    """The rule over the spec, as host indexes."""
    hosts = [TargetHost(id=i, team_id=None if s["team"] is None else built.teams[s["team"]],
                        label_ids={built.custom[c] for c in s["custom"]} | {built.builtin[b] for b in s["builtin"]}
                        | {built.builtin[ALL_HOSTS]})
             for i, s in enumerate(specs)]
    kinds = LabelKinds(builtin=built.builtin.values(), custom=built.custom, all_hosts=built.builtin[ALL_HOSTS])
    chosen = built.selection(selection)
    # The rule speaks host indexes here, so the explicit host ids become indexes too.
    by_index = attrs.evolve(chosen, host_ids={built.host_index(h) for h in chosen.host_ids if h in built.hosts})
    return resolve_targets(by_index, hosts, kinds, visible_team_ids=built.visible(selection["visible"]))


async def outcome(uow_factory: UnitOfWorkFactory, built: Built, selection: dict[str, Any]) -> list[int]:
    async with uow_factory() as uow:
        found = await uow.host_inventory.target_host_ids(built.selection(selection),
                                                         visible_team_ids=built.visible(selection["visible"]))
    return [built.host_index(h) for h in found]


async def search_outcome(uow_factory: UnitOfWorkFactory, built: Built,
                         search: tuple[str, frozenset[int], int, frozenset[int] | None]) -> list[int]:
    text, excluded, limit, visible = search
    async with uow_factory() as uow:
        found = await uow.host_inventory.search(text, excluded_ids=frozenset(built.hosts[i] for i in excluded
                                                                    if i < len(built.hosts)),
                                                limit=limit, visible_team_ids=built.visible(visible))
    return [built.host_index(h.id) for h in found]


@pytest.mark.postgres
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=fleet_specs, selections=st.lists(selection_specs, min_size=1, max_size=6),
       searches=st.lists(search_specs, min_size=1, max_size=4))
async def test_memory_and_postgres_target_and_search_as_the_rule_says(
    pg_uow_factory: Callable[[], Any], pg_dsn: str, specs: list[dict[str, Any]],
    selections: list[dict[str, Any]], searches: list[tuple[str, frozenset[int], int, frozenset[int] | None]],
) -> None:
    # Examples share the test's database; start each from no hosts, teams or custom labels.
    async with await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as conn:
        await conn.execute("TRUNCATE hosts, host_seen_times RESTART IDENTITY CASCADE")
        await conn.execute("DELETE FROM labels WHERE label_type <> 'builtin'")
        await conn.execute("DELETE FROM teams")
    at = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    memory = InMemoryStore().unit_of_work
    in_memory = await build(memory, specs, at)
    in_postgres = await build(pg_uow_factory, specs, at)

    for selection in selections:
        expected = expected_targets(specs, in_memory, selection)
        assert await outcome(memory, in_memory, selection) == expected, selection
        assert await outcome(pg_uow_factory, in_postgres, selection) == expected, selection
    for search in searches:
        found = await search_outcome(memory, in_memory, search)
        assert await search_outcome(pg_uow_factory, in_postgres, search) == found, search
