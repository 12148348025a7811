"""PackRepository contract (fleet_core.ports): packs with targets and counts, schedule packs,
scheduled queries, and the cascades that keep every pack free of deleted hosts, labels, teams
and queries."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_core.errors import AlreadyExists, NotFound
from fleet_core.model.hosts import Host
from fleet_core.model.packs import PackFields, PackTargets, ScheduleFields
from fleet_core.model.queries import QueryFields, SavedQuery
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import Direction, ListOptions
from tests.contract.conftest import AddTeam

pytestmark = pytest.mark.anyio

EVERY_HOUR = ScheduleFields(interval=3600)


async def add_host(uow: UnitOfWork, name: str, at: dt.datetime, team_id: int | None = None) -> Host:
    host = (await uow.hosts.enroll(osquery_host_id=name, node_key_hash=f"key-{name}", team_id=team_id, at=at,
                                   fields={})).host
    return host


async def add_query(uow: UnitOfWork, name: str, at: dt.datetime, team_id: int | None = None,
                    interval: int = 0) -> SavedQuery:
    return await uow.queries.add(QueryFields(name=name, query=f"SELECT '{name}';", interval=interval),
                                 team_id=team_id, author_id=None, at=at)


async def add_label(uow: UnitOfWork, name: str, at: dt.datetime) -> int:
    label = await uow.labels.add(name=name, description="", query="SELECT 1", platform="", membership_type="manual",
                                 at=at)
    return label.id


async def test_a_pack_keeps_its_fields_and_targets_and_counts_its_hosts(
        uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "reds")
        h1 = await add_host(uow, "h1", at)
        h2 = await add_host(uow, "h2", at)
        h3 = await add_host(uow, "h3", at, team_id=team.id)
        await add_host(uow, "h4", at)
        label = await add_label(uow, "some", at)
        # h1 is targeted twice (by id and by label) and counted once.
        await uow.labels.set_members(label, [h1.id, h2.id], at)
        pack = await uow.packs.add(PackFields(name="p", description="d", disabled=True, targets=PackTargets(
            host_ids=(h1.id,), label_ids=(label,), team_ids=(team.id,))), at)
        await uow.commit()

    async with uow_factory() as uow:
        got = await uow.packs.get(pack.id)

    assert got == pack
    assert (got.name, got.description, got.disabled, got.type, got.team_id) == ("p", "d", True, None, None)
    assert got.targets == PackTargets(host_ids=(h1.id,), label_ids=(label,), team_ids=(team.id,))
    assert (got.query_count, got.total_hosts_count) == (0, len({h1.id, h2.id, h3.id}))
    assert got.created_at == got.updated_at == at


async def test_names_are_unique_and_a_failed_write_leaves_the_unit_of_work_usable(
        uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        first = await uow.packs.add(PackFields(name="same"), at)
        with pytest.raises(AlreadyExists):
            await uow.packs.add(PackFields(name="same"), at)
        other = await uow.packs.add(PackFields(name="other"), at)
        with pytest.raises(AlreadyExists):
            await uow.packs.update(other.id, PackFields(name="same"), at)
        with pytest.raises(NotFound):
            await uow.packs.add(PackFields(name="ghost host", targets=PackTargets(host_ids=(999,))), at)
        with pytest.raises(NotFound):
            await uow.packs.update(999, PackFields(name="x"), at)
        await uow.commit()

    async with uow_factory() as uow:
        assert [p.name for p in await uow.packs.list(ListOptions())] == ["same", "other"]
        assert (await uow.packs.get_by_name("same")) == first
        assert await uow.packs.get_by_name("ghost host") is None


async def test_update_replaces_the_targets(uow_factory: UnitOfWorkFactory, add_team: AddTeam,
                                          at: dt.datetime) -> None:
    later = at + dt.timedelta(minutes=1)
    async with uow_factory() as uow:
        team = await add_team(uow, "blues")
        host = await add_host(uow, "h", at)
        pack = await uow.packs.add(PackFields(name="p", targets=PackTargets(host_ids=(host.id,))), at)
        updated = await uow.packs.update(pack.id, PackFields(name="q", targets=PackTargets(team_ids=(team.id,))),
                                         later)
        await uow.commit()

    assert updated.targets == PackTargets(team_ids=(team.id,))
    assert (updated.name, updated.created_at, updated.updated_at) == ("q", at, later)


async def test_list_is_user_packs_only_searched_ordered_and_paged(uow_factory: UnitOfWorkFactory,
                                                                  at: dt.datetime) -> None:
    async with uow_factory() as uow:
        for name in ("beta", "Alpha", "gamma"):
            await uow.packs.add(PackFields(name=name), at)
        await uow.packs.ensure_schedule_pack(None, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert [p.name for p in await uow.packs.list(ListOptions())] == ["beta", "Alpha", "gamma"]
        by_name = await uow.packs.list(ListOptions(order_key="name", order_direction=Direction.DESC))
        assert [p.name for p in by_name] == ["gamma", "beta", "Alpha"]
        assert [p.name for p in await uow.packs.list(ListOptions(query="AM"))] == ["gamma"]
        assert [p.name for p in await uow.packs.list(ListOptions(page=1, per_page=2))] == ["gamma"]
        assert await uow.packs.get_by_name("Global") is None


async def test_schedule_packs_are_created_once_and_reach_every_host_or_the_teams(
        uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "greens")
        await add_host(uow, "h1", at, team_id=team.id)
        await add_host(uow, "h2", at)
        assert await uow.packs.schedule_pack(None) is None
        glob = await uow.packs.ensure_schedule_pack(None, at)
        again = await uow.packs.ensure_schedule_pack(None, at)
        team_pack = await uow.packs.ensure_schedule_pack(team.id, at)
        with pytest.raises(NotFound):
            await uow.packs.ensure_schedule_pack(999, at)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.packs.schedule_pack(None) == glob == again
        assert await uow.packs.schedule_pack(team.id) == team_pack
    assert (glob.name, glob.type, glob.team_id, glob.total_hosts_count) == ("Global", "global", None, 2)
    assert (team_pack.name, team_pack.type, team_pack.team_id, team_pack.total_hosts_count) == (
        f"team-{team.id}", f"team-{team.id}", team.id, 1)


async def test_scheduled_queries_join_the_query_and_keep_every_field(uow_factory: UnitOfWorkFactory,
                                                                     at: dt.datetime) -> None:
    later = at + dt.timedelta(minutes=5)
    async with uow_factory() as uow:
        query = await add_query(uow, "uptime", at)
        pack = await uow.packs.add(PackFields(name="p"), at)
        full = ScheduleFields(interval=60, snapshot=False, removed=True, platform="darwin", version="5.0",
                              shard=10, denylist=False)
        entry = await uow.packs.add_scheduled(pack.id, query_id=query.id, name="uptime", fields=full, at=at)
        with pytest.raises(AlreadyExists):
            await uow.packs.add_scheduled(pack.id, query_id=query.id, name="uptime", fields=EVERY_HOUR, at=at)
        with pytest.raises(NotFound):
            await uow.packs.add_scheduled(999, query_id=query.id, name="x", fields=EVERY_HOUR, at=at)
        with pytest.raises(NotFound):
            await uow.packs.add_scheduled(pack.id, query_id=999, name="x", fields=EVERY_HOUR, at=at)
        await uow.queries.update(query.id, QueryFields(name="renamed", query="SELECT 2;"), at)
        await uow.commit()

    async with uow_factory() as uow:
        got = await uow.packs.get_scheduled(entry.id)
        assert got is not None
        assert got.fields == full
        assert (got.pack_id, got.name, got.query_id, got.query_name, got.query, got.query_team_id) == (
            pack.id, "uptime", query.id, "renamed", "SELECT 2;", None)
        assert await uow.packs.scheduled(pack.id) == [got]
        assert (await uow.packs.get(pack.id)).query_count == 1  # type: ignore[union-attr]
        changed = await uow.packs.update_scheduled(entry.id, EVERY_HOUR, later)
        with pytest.raises(NotFound):
            await uow.packs.update_scheduled(999, EVERY_HOUR, later)
        await uow.commit()

    assert changed.fields == EVERY_HOUR
    assert (changed.created_at, changed.updated_at) == (at, later)
    async with uow_factory() as uow:
        assert await uow.packs.delete_scheduled(entry.id) is True
        assert await uow.packs.delete_scheduled(entry.id) is False
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.packs.scheduled(pack.id) == []


async def test_user_packs_of_lists_the_user_packs_scheduling_each_query(uow_factory: UnitOfWorkFactory,
                                                                       at: dt.datetime) -> None:
    async with uow_factory() as uow:
        one = await add_query(uow, "one", at)
        two = await add_query(uow, "two", at)
        p1 = await uow.packs.add(PackFields(name="p1"), at)
        p2 = await uow.packs.add(PackFields(name="p2"), at)
        glob = await uow.packs.ensure_schedule_pack(None, at)
        for pack_id in (p2.id, p1.id, glob.id):
            await uow.packs.add_scheduled(pack_id, query_id=one.id, name="one", fields=EVERY_HOUR, at=at)
        found = await uow.packs.user_packs_of([one.id, two.id])

    assert list(found) == [one.id]
    assert [p.name for p in found[one.id]] == ["p1", "p2"]


async def test_deleting_a_pack_drops_its_entries(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        query = await add_query(uow, "q", at)
        pack = await uow.packs.add(PackFields(name="p"), at)
        entry = await uow.packs.add_scheduled(pack.id, query_id=query.id, name="q", fields=EVERY_HOUR, at=at)
        assert await uow.packs.delete(pack.id) is True
        assert await uow.packs.delete(pack.id) is False
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.packs.get(pack.id) is None
        assert await uow.packs.get_scheduled(entry.id) is None
        assert (await uow.packs.catalogue()).scheduled == ()


async def test_deleted_hosts_labels_teams_and_queries_leave_every_pack(
        uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "doomed")
        host = await add_host(uow, "h", at)
        label = await add_label(uow, "l", at)
        kept = await add_query(uow, "kept", at)
        gone = await add_query(uow, "gone", at)
        pack = await uow.packs.add(PackFields(name="p", targets=PackTargets(
            host_ids=(host.id,), label_ids=(label,), team_ids=(team.id,))), at)
        for query in (kept, gone):
            await uow.packs.add_scheduled(pack.id, query_id=query.id, name=query.name, fields=EVERY_HOUR, at=at)
        team_pack = await uow.packs.ensure_schedule_pack(team.id, at)
        await uow.packs.add_scheduled(team_pack.id, query_id=kept.id, name="kept", fields=EVERY_HOUR, at=at)
        await uow.commit()

    async with uow_factory() as uow:
        await uow.hosts.delete([host.id])
        await uow.labels.delete(label)
        await uow.teams.delete(team.id)
        await uow.queries.delete(gone.id)
        await uow.commit()

    async with uow_factory() as uow:
        got = await uow.packs.get(pack.id)
        assert got is not None
        assert got.targets == PackTargets()
        assert [e.name for e in await uow.packs.scheduled(pack.id)] == ["kept"]
        assert await uow.packs.get(team_pack.id) is None
        assert await uow.packs.schedule_pack(team.id) is None
        catalogue = await uow.packs.catalogue()
    assert [p.name for p in catalogue.packs] == ["p"]
    assert [(e.pack_id, e.name) for e in catalogue.scheduled] == [(pack.id, "kept")]


async def test_deleting_many_queries_unschedules_them(uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        queries = [await add_query(uow, name, at) for name in ("a", "b", "c")]
        pack = await uow.packs.add(PackFields(name="p"), at)
        for query in queries:
            await uow.packs.add_scheduled(pack.id, query_id=query.id, name=query.name, fields=EVERY_HOUR, at=at)
        await uow.queries.delete_many([queries[0].id, queries[2].id])
        await uow.commit()

    async with uow_factory() as uow:
        assert [e.name for e in await uow.packs.scheduled(pack.id)] == ["b"]


async def test_unknown_targets_names_the_missing_ids(uow_factory: UnitOfWorkFactory, add_team: AddTeam,
                                                    at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "t")
        host = await add_host(uow, "h", at)
        label = await add_label(uow, "l", at)
        unknown = await uow.packs.unknown_targets(PackTargets(
            host_ids=(host.id, 998, 997, 998), label_ids=(label, 1, 996), team_ids=(team.id, 995)))

    assert unknown == PackTargets(host_ids=(997, 998), label_ids=(996,), team_ids=(995,))


async def test_the_catalogue_holds_every_pack_entry_and_saved_query_with_an_interval(
        uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime) -> None:
    async with uow_factory() as uow:
        team = await add_team(uow, "t")
        on_its_own = await add_query(uow, "own", at, interval=60)
        await add_query(uow, "idle", at)
        team_query = await add_query(uow, "own", at, team_id=team.id, interval=30)
        user_pack = await uow.packs.add(PackFields(name="p", disabled=True), at)
        glob = await uow.packs.ensure_schedule_pack(None, at)
        await uow.packs.add_scheduled(glob.id, query_id=on_its_own.id, name="own", fields=EVERY_HOUR, at=at)
        await uow.commit()

    async with uow_factory() as uow:
        catalogue = await uow.packs.catalogue()

    assert [(p.id, p.type, p.disabled) for p in catalogue.packs] == [(user_pack.id, None, True),
                                                                     (glob.id, "global", False)]
    assert [(e.pack_id, e.query_id) for e in catalogue.scheduled] == [(glob.id, on_its_own.id)]
    assert [(q.id, q.team_id) for q in catalogue.saved] == [(on_its_own.id, None), (team_query.id, team.id)]
