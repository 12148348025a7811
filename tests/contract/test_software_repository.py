"""SoftwareRepository contract (fleet_core.ports): only counted software is listed, host counts
(as of the last refresh) follow the team filters, search on name and version, ordering with ties
by id, paging, and the vulnerability filter and keys without vulnerability data (with it:
test_vulnerability_repository.py). Runs on the in-memory store and Postgres."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from fleet_core.errors import InvalidArgument
from fleet_core.model.hosts import HostFacts, Software, SoftwareItem
from fleet_core.model.software import SoftwareFilter
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.ordering import SOFTWARE_ORDER_KEYS
from fleet_core.rules.paging import Direction, ListOptions
from tests.contract.conftest import AddTeam
from tests.contract.test_host_repository import enroll

pytestmark = pytest.mark.anyio

CURL8 = SoftwareItem("curl", "8.0", "deb_packages", vendor="Ubuntu", arch="x86_64", release="1ubuntu1")
CURL7 = SoftwareItem("curl", "7.0", "deb_packages")
ZSH = SoftwareItem("Zsh", "5.9", "apps", bundle_identifier="org.zsh")
PYTHON = SoftwareItem("python", "3.12", "python_packages")
GONE = SoftwareItem("gone", "1.0", "apps")


@attrs.frozen
class Seeded:
    blue: int
    red: int
    ids: dict[str, int]  # "name version" -> software id


def key(software: Software) -> str:
    return f"{software.name} {software.version}"


async def report(uow: UnitOfWork, host_id: int, at: dt.datetime, *items: SoftwareItem) -> None:
    await uow.hosts.apply_facts(host_id, HostFacts(software=items), at=at)


async def seed(uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime) -> Seeded:
    """Blue: a (curl 8, Zsh), b (curl 8, python); red: c (curl 8, Zsh); no team: d (curl 7), e
    (reported "gone" once, then nothing: a software row on no host)."""
    async with uow_factory() as uow:
        blue = (await add_team(uow, "blue")).id
        red = (await add_team(uow, "red")).id
        a = await enroll(uow, "a", at, team_id=blue)
        b = await enroll(uow, "b", at, team_id=blue)
        c = await enroll(uow, "c", at, team_id=red)
        d = await enroll(uow, "d", at)
        e = await enroll(uow, "e", at)
        await report(uow, e, at, GONE)
        await report(uow, a, at, CURL8, ZSH)
        await report(uow, b, at, CURL8, PYTHON)
        await report(uow, c, at, ZSH, CURL8)
        await report(uow, d, at, CURL7)
        await report(uow, e, at)
        await uow.software.refresh_host_counts(at)
        await uow.commit()
        ids = {}
        for host_id in (a, b, d):
            ids.update({key(s): s.id for s in await uow.host_inventory.software(host_id)})
    return Seeded(blue=blue, red=red, ids=ids)


async def listed(uow_factory: UnitOfWorkFactory, filters: SoftwareFilter = SoftwareFilter(),
                 options: ListOptions = ListOptions()) -> list[tuple[str, int]]:
    async with uow_factory() as uow:
        found = await uow.software.list(filters, options)
        count = await uow.software.count(filters)
    if options.per_page >= count:
        assert len(found) == count
    return [(key(s), s.hosts_count) for s in found]


BY_COUNT = ListOptions(order_key="hosts_count", order_direction=Direction.DESC)


async def test_lists_installed_software_with_its_attributes_and_host_counts(
    uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime
) -> None:
    seeded = await seed(uow_factory, add_team, at)
    async with uow_factory() as uow:
        found = {key(s): s for s in await uow.software.list(SoftwareFilter(), ListOptions())}
        assert await uow.software.count(SoftwareFilter()) == 4

    # "gone 1.0" has a row but no host any more, so it is not listed.
    assert set(found) == {"curl 8.0", "curl 7.0", "Zsh 5.9", "python 3.12"}
    curl = found["curl 8.0"]
    assert curl == Software(id=seeded.ids["curl 8.0"], name="curl", version="8.0", source="deb_packages",
                            vendor="Ubuntu", arch="x86_64", release="1ubuntu1", last_opened_at=None, hosts_count=3)
    assert found["Zsh 5.9"].bundle_identifier == "org.zsh"
    assert [found[k].hosts_count for k in ("Zsh 5.9", "python 3.12", "curl 7.0")] == [2, 1, 1]


async def test_default_order_is_most_installed_first_with_ties_by_id(
    uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime
) -> None:
    seeded = await seed(uow_factory, add_team, at)
    ones = sorted(["curl 7.0", "python 3.12"], key=lambda k: seeded.ids[k])
    assert await listed(uow_factory, options=BY_COUNT) == [("curl 8.0", 3), ("Zsh 5.9", 2)] + [(k, 1) for k in ones]
    ascending = await listed(uow_factory, options=ListOptions(order_key="hosts_count"))
    assert ascending == [(k, 1) for k in ones] + [("Zsh 5.9", 2), ("curl 8.0", 3)]


async def test_team_filters_count_only_the_hosts_they_keep(
    uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime
) -> None:
    seeded = await seed(uow_factory, add_team, at)
    blue = await listed(uow_factory, SoftwareFilter(team_id=seeded.blue), BY_COUNT)
    assert blue[0] == ("curl 8.0", 2)
    assert sorted(blue[1:]) == [("Zsh 5.9", 1), ("python 3.12", 1)]
    assert sorted(await listed(uow_factory, SoftwareFilter(team_id=seeded.red))) == [("Zsh 5.9", 1), ("curl 8.0", 1)]
    assert await listed(uow_factory, SoftwareFilter(no_team=True)) == [("curl 7.0", 1)]
    visible = SoftwareFilter(visible_team_ids=frozenset({seeded.blue, seeded.red}))
    assert await listed(uow_factory, visible, BY_COUNT) == [("curl 8.0", 3), ("Zsh 5.9", 2), ("python 3.12", 1)]
    # A team outside the visible ones, or no team for someone who sees only teams, finds nothing.
    only_red = SoftwareFilter(visible_team_ids=frozenset({seeded.red}))
    assert await listed(uow_factory, attrs.evolve(only_red, team_id=seeded.blue)) == []
    assert await listed(uow_factory, attrs.evolve(only_red, no_team=True)) == []
    assert await listed(uow_factory, SoftwareFilter(visible_team_ids=frozenset())) == []
    assert await listed(uow_factory, SoftwareFilter(team_id=seeded.red + 100)) == []


async def test_search_matches_name_or_version_as_literal_text(
    uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime
) -> None:
    await seed(uow_factory, add_team, at)
    assert sorted(await listed(uow_factory, SoftwareFilter(query="CURL"))) == [("curl 7.0", 1), ("curl 8.0", 3)]
    assert await listed(uow_factory, SoftwareFilter(query="zsh")) == [("Zsh 5.9", 2)]
    assert await listed(uow_factory, SoftwareFilter(query=".12")) == [("python 3.12", 1)]
    assert await listed(uow_factory, SoftwareFilter(query="8.0", team_id=None, no_team=True)) == []
    # LIKE wildcards are plain characters, and a CVE matches nothing (no vulnerability data).
    for needle in ("%", "_", "c_rl", "CVE-2009-5155", "gone"):
        assert await listed(uow_factory, SoftwareFilter(query=needle)) == [], needle


async def test_order_by_name_is_case_insensitive_and_vulnerability_keys_order_by_id(
    uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime
) -> None:
    seeded = await seed(uow_factory, add_team, at)
    curls = sorted(["curl 7.0", "curl 8.0"], key=lambda k: seeded.ids[k])
    by_name = [k for k, _ in await listed(uow_factory, options=ListOptions(order_key="name"))]
    assert by_name == [*curls, "python 3.12", "Zsh 5.9"]
    by_name_desc = [k for k, _ in await listed(
        uow_factory, options=ListOptions(order_key="name", order_direction=Direction.DESC))]
    assert by_name_desc == ["Zsh 5.9", "python 3.12", *curls]
    by_id = sorted(seeded.ids.values())
    for order_key in ("cvss_score", "epss_probability", "cisa_known_exploit"):
        for direction in Direction:
            async with uow_factory() as uow:
                found = await uow.software.list(SoftwareFilter(), ListOptions(order_key=order_key,
                                                                              order_direction=direction))
            assert [s.id for s in found] == by_id, (order_key, direction)


async def test_pages_do_not_overlap_and_unknown_order_keys_are_refused(
    uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime
) -> None:
    await seed(uow_factory, add_team, at)
    whole = await listed(uow_factory, options=BY_COUNT)
    pages = [await listed(uow_factory, options=attrs.evolve(BY_COUNT, page=n, per_page=3)) for n in range(3)]
    assert pages[0] + pages[1] == whole and len(pages[0]) == 3 and pages[2] == []
    async with uow_factory() as uow:
        assert "id" not in SOFTWARE_ORDER_KEYS
        with pytest.raises(InvalidArgument):
            await uow.software.list(SoftwareFilter(), ListOptions(order_key="id; DROP TABLE software"))


async def test_vulnerable_software_is_none_without_vulnerability_data(
    uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime
) -> None:
    seeded = await seed(uow_factory, add_team, at)
    for filters in (SoftwareFilter(vulnerable=True), SoftwareFilter(vulnerable=True, team_id=seeded.blue)):
        async with uow_factory() as uow:
            assert await uow.software.list(filters, ListOptions()) == []
            assert await uow.software.count(filters) == 0


async def test_counts_follow_hosts_moving_leaving_and_uninstalling(
    uow_factory: UnitOfWorkFactory, add_team: AddTeam, at: dt.datetime
) -> None:
    seeded = await seed(uow_factory, add_team, at)
    async with uow_factory() as uow:
        a = await uow.hosts.get_by_osquery_host_id("a")
        c = await uow.hosts.get_by_osquery_host_id("c")
        b = await uow.hosts.get_by_osquery_host_id("b")
        assert a is not None and b is not None and c is not None
        await uow.hosts.transfer([c.id], seeded.blue)
        await uow.hosts.delete([a.id])
        await report(uow, b.id, at, CURL8)
        await uow.commit()
    blue = SoftwareFilter(team_id=seeded.blue)
    # Listing reads the counts of the last refresh, not the hosts' software now.
    assert await listed(uow_factory, blue, BY_COUNT) == [("curl 8.0", 2), ("Zsh 5.9", 1), ("python 3.12", 1)]
    later = at + dt.timedelta(minutes=10)
    async with uow_factory() as uow:
        await uow.software.refresh_host_counts(later)
        await uow.commit()
        assert await uow.software.counts_updated_at() == later
    assert await listed(uow_factory, blue, BY_COUNT) == [("curl 8.0", 2), ("Zsh 5.9", 1)]
    assert await listed(uow_factory, SoftwareFilter(team_id=seeded.red)) == []
