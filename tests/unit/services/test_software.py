"""The software inventory (fleet_core.services.software): what each viewer may count, and how."""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock
from fleet_core.authz import Viewer
from fleet_core.errors import NotFound, PermissionDenied
from fleet_core.model.hosts import Host
from fleet_core.model.software import SoftwareFilter
from fleet_core.rules.paging import ListOptions
from fleet_core.services.agents import QueryResult
from tests.unit.services.support import MakeUser, create_team, enroll_host

pytestmark = pytest.mark.anyio


async def install(kit: InMemoryKit, host: Host, *packages: tuple[str, str]) -> None:
    """The host's agent reports its Debian packages."""
    rows = [{"name": name, "version": version, "source": "deb_packages"} for name, version in packages]
    await kit.services.agents.distributed_write(host, {"fleet_detail_query_software_linux": QueryResult(rows=rows)})


async def titles(kit: InMemoryKit, viewer: Viewer, filters: SoftwareFilter = SoftwareFilter(),
                 options: ListOptions = ListOptions(order_key="name")) -> list[tuple[str, str, int]]:
    page = await kit.services.software.list(viewer, filters, options)
    return [(s.name, s.version, s.hosts_count) for s in page.software]


@pytest.fixture
async def fleet(kit: InMemoryKit, admin: Viewer) -> dict[str, int]:
    """curl on every host; vim on the Apples host; zsh on the host in no team."""
    apples = await create_team(kit, admin, "Apples")
    pears = await create_team(kit, admin, "Pears")
    apple = await enroll_host(kit, admin, "apple", team_id=apples)
    pear = await enroll_host(kit, admin, "pear", team_id=pears)
    loose = await enroll_host(kit, admin, "loose")
    await install(kit, apple, ("curl", "8.0"), ("vim", "9.1"))
    await install(kit, pear, ("curl", "8.0"))
    await install(kit, loose, ("curl", "8.0"), ("zsh", "5.9"))
    await kit.services.software.refresh_counts()
    return {"apples": apples, "pears": pears}


async def test_global_users_count_every_host(kit: InMemoryKit, admin: Viewer, fleet: dict[str, int],
                                             make_user: MakeUser) -> None:
    observer = await make_user(global_role="observer")
    assert await titles(kit, observer) == [("curl", "8.0", 3), ("vim", "9.1", 1), ("zsh", "5.9", 1)]
    assert await kit.services.software.count(observer, SoftwareFilter()) == 3


async def test_a_team_or_no_team_narrows_the_hosts_counted(kit: InMemoryKit, admin: Viewer,
                                                            fleet: dict[str, int]) -> None:
    assert await titles(kit, admin, SoftwareFilter(team_id=fleet["apples"])) == [("curl", "8.0", 1),
                                                                                 ("vim", "9.1", 1)]
    # team_id 0 means the hosts in no team, as in Fleet's API.
    assert await titles(kit, admin, SoftwareFilter(team_id=0)) == [("curl", "8.0", 1), ("zsh", "5.9", 1)]
    with pytest.raises(NotFound):
        await kit.services.software.list(admin, SoftwareFilter(team_id=999), ListOptions())


async def test_team_users_count_only_their_teams_hosts(kit: InMemoryKit, admin: Viewer, fleet: dict[str, int],
                                                       make_user: MakeUser) -> None:
    member = await make_user(teams=[(fleet["apples"], "observer")])
    assert await titles(kit, member) == [("curl", "8.0", 1), ("vim", "9.1", 1)]
    assert await kit.services.software.count(member, SoftwareFilter()) == 2
    for filters in (SoftwareFilter(team_id=fleet["pears"]), SoftwareFilter(team_id=0)):
        with pytest.raises(PermissionDenied):
            await kit.services.software.list(member, filters, ListOptions())
        with pytest.raises(PermissionDenied):
            await kit.services.software.count(member, filters)


async def test_search_order_and_paging(kit: InMemoryKit, admin: Viewer, fleet: dict[str, int]) -> None:
    assert await titles(kit, admin, SoftwareFilter(query="VI")) == [("vim", "9.1", 1)]
    by_count = ListOptions(order_key="hosts_count", order_direction="desc", per_page=1)
    assert await titles(kit, admin, options=by_count) == [("curl", "8.0", 3)]
    assert await kit.services.software.count(admin, SoftwareFilter(query="VI")) == 1


async def test_nothing_is_vulnerable_without_a_vulnerability_feed(kit: InMemoryKit, admin: Viewer,
                                                                  fleet: dict[str, int]) -> None:
    assert await titles(kit, admin, SoftwareFilter(vulnerable=True)) == []


async def test_counts_are_as_of_the_last_refresh(kit: InMemoryKit, admin: Viewer, clock: MovableClock) -> None:
    """Listing reads the counts the periodic job stored: before its first run there are none, and a
    title reported since its last run is listed from the next one on (as in Fleet)."""
    page = await kit.services.software.list(admin, SoftwareFilter(), ListOptions())
    assert (page.software, page.counts_updated_at) == ([], None)
    host = await enroll_host(kit, admin, "counted")
    await install(kit, host, ("curl", "8.0"))
    assert await titles(kit, admin) == []
    counted_at = clock.now()
    await kit.services.software.refresh_counts()
    clock.advance(dt.timedelta(minutes=5))
    await install(kit, host, ("curl", "8.0"), ("vim", "9.1"))
    page = await kit.services.software.list(admin, SoftwareFilter(), ListOptions())
    assert page.counts_updated_at == counted_at
    assert [(s.name, s.hosts_count) for s in page.software] == [("curl", 1)]
    await kit.services.software.refresh_counts()
    assert await titles(kit, admin) == [("curl", "8.0", 1), ("vim", "9.1", 1)]
