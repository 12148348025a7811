"""Packs as code (fleet_core.services.pack_specs): apply by name, all or nothing, and read back."""

from __future__ import annotations

import pytest

from fleet_adapters.memory import InMemoryKit
from fleet_core.authz import Viewer
from fleet_core.errors import InvalidArgument, NotFound, PermissionDenied
from fleet_core.model.packs import PackTargets, ScheduleFields
from fleet_core.model.queries import QueryFields
from fleet_core.rules.paging import ListOptions
from fleet_core.services.pack_specs import PackQuerySpec, PackSpec
from fleet_core.services.packs import PackChanges
from tests.unit.services.support import Announcements, MakeUser, create_team, enroll_host, last_activity

pytestmark = pytest.mark.anyio


def entry(query: str, name: str = "", interval: int = 60, snapshot: bool | None = None) -> PackQuerySpec:
    return PackQuerySpec(query=query, name=name, fields=ScheduleFields(interval=interval, snapshot=snapshot))


@pytest.fixture
async def catalogue(kit: InMemoryKit, admin: Viewer) -> None:
    """Two global queries, a team query, a team and a label for the specs to name."""
    team_id = await create_team(kit, admin, "Apples")
    for name in ("uptime", "users"):
        await kit.services.queries.create(admin, QueryFields(name=name, query="SELECT 1;"))
    await kit.services.queries.create(admin, QueryFields(name="team only", query="SELECT 1;"), team_id=team_id)
    await kit.services.labels.create(admin, name="Servers", query="SELECT 1;")


@pytest.mark.usefixtures("catalogue")
async def test_an_applied_spec_reads_back_as_written(kit: InMemoryKit, admin: Viewer) -> None:
    heard = Announcements(kit)
    spec = PackSpec(name="Monitoring", description="d", labels=("Servers",), teams=("Apples",),
                    queries=(entry("uptime", "uptime_entry", snapshot=True), entry("users", interval=30)))
    await kit.services.pack_specs.apply(admin, [spec])
    read = await kit.services.pack_specs.pack(admin, "Monitoring")
    assert read.id is not None
    assert (read.name, read.description, read.labels, read.teams) == ("Monitoring", "d", ("Servers",), ("Apples",))
    assert {(q.query, q.name, q.fields.interval, q.fields.snapshot) for q in read.queries} == {
        ("uptime", "uptime_entry", 60, True), ("users", "users", 30, None)}
    assert [p.name for p in await kit.services.pack_specs.packs(admin)] == ["Monitoring"]
    activity = await last_activity(kit, admin)
    assert (activity.type, activity.details) == ("applied_spec_pack", {})
    assert heard.config_changes == 1


@pytest.mark.usefixtures("catalogue")
async def test_reapplying_replaces_targets_and_entries_but_keeps_host_targets(kit: InMemoryKit,
                                                                             admin: Viewer) -> None:
    await kit.services.pack_specs.apply(admin, [PackSpec(name="Monitoring", labels=("Servers",),
                                                         queries=(entry("uptime"), entry("users")))])
    pack = (await kit.services.packs.list(admin, ListOptions()))[0]
    host = await enroll_host(kit, admin, "laptop")
    await kit.services.packs.modify(admin, pack.id, PackChanges(host_ids=[host.id]))
    await kit.services.pack_specs.apply(admin, [PackSpec(name="Monitoring", teams=("Apples",),
                                                         queries=(entry("uptime", interval=5),))])
    again = await kit.services.packs.get(admin, pack.id)
    assert again.targets == PackTargets(host_ids=(host.id,), team_ids=again.targets.team_ids)
    assert len(again.targets.team_ids) == 1
    assert [(e.name, e.interval) for e in await kit.services.packs.scheduled(admin, pack.id)] == [("uptime", 5)]


@pytest.mark.usefixtures("catalogue")
async def test_every_problem_is_named_by_spec_and_nothing_is_applied(kit: InMemoryKit, admin: Viewer) -> None:
    good = PackSpec(name="Good", queries=(entry("uptime"),))
    bad = PackSpec(name="Global", labels=("Nope",), teams=("Nobody",), queries=(
        entry("missing"), entry("team only"), entry("uptime", "twice"), entry("users", "twice", interval=0)))
    with pytest.raises(InvalidArgument) as caught:
        await kit.services.pack_specs.apply(admin, [good, bad, PackSpec(name="Good")])
    assert [n for n, _ in caught.value.problems] == [
        "specs[1].targets.labels", "specs[1].targets.teams", "specs[1].name",
        "specs[1].queries[0].query", "specs[1].queries[1].query", "specs[1].queries[3].name",
        "specs[1].queries[3].interval", "specs[2].name"]
    assert await kit.services.pack_specs.packs(admin) == []


async def test_only_global_writers_apply_and_only_global_users_read(kit: InMemoryKit, admin: Viewer,
                                                                   make_user: MakeUser) -> None:
    team_id = await create_team(kit, admin, "Apples")
    observer = await make_user(global_role="observer")
    team_admin = await make_user(teams=[(team_id, "admin")])
    maintainer = await make_user(global_role="maintainer")
    await kit.services.pack_specs.apply(maintainer, [PackSpec(name="By maintainer")])
    assert [p.name for p in await kit.services.pack_specs.packs(observer)] == ["By maintainer"]
    for viewer in (observer, team_admin):
        with pytest.raises(PermissionDenied):
            await kit.services.pack_specs.apply(viewer, [PackSpec(name="Mine")])
    with pytest.raises(PermissionDenied):
        await kit.services.pack_specs.packs(team_admin)


async def test_an_unknown_pack_name_is_not_found(kit: InMemoryKit, admin: Viewer) -> None:
    with pytest.raises(NotFound):
        await kit.services.pack_specs.pack(admin, "Nothing")


async def test_applying_no_specs_records_nothing(kit: InMemoryKit, admin: Viewer) -> None:
    before = await last_activity(kit, admin)
    await kit.services.pack_specs.apply(admin, [])
    assert await last_activity(kit, admin) == before
