"""GET /software and GET /software/count: the response shape, default and explicit ordering,
paging, search, the team filter and team users' visibility, bad parameters and roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from fleet_core.model.hosts import HostFacts, SoftwareItem
from tests.http.support import assert_error, assert_timestamp
from tests.http.test_http_hosts import add_host

if TYPE_CHECKING:
    from tests.http.support import Cast, Fleet

pytestmark = pytest.mark.anyio

V1 = "/api/v1/fleet"
SOFTWARE = f"{V1}/software"
COUNT = f"{SOFTWARE}/count"
ITEM_KEYS = {"id", "name", "version", "source", "release", "vendor", "arch", "generated_cpe", "vulnerabilities",
             "hosts_count"}

CURL = SoftwareItem("curl", "8.0", "deb_packages", vendor="Ubuntu", arch="x86_64", release="1ubuntu1")
ZSH = SoftwareItem("Zsh", "5.9", "apps", bundle_identifier="org.zsh")
PYTHON = SoftwareItem("python", "3.12", "python_packages")
VIM = SoftwareItem("vim", "9.1", "deb_packages")


async def refresh_counts(fleet: Fleet) -> None:
    """Run the host-count job now, as POST /trigger does for its schedule."""
    response = await fleet.client.post(f"{V1}/trigger", params={"name": "cleanups_then_aggregation"},
                                       headers=fleet.as_admin)
    assert response.status_code == 200, response.text


async def seed(cast: Cast) -> None:
    """Team one: curl+Zsh, curl+python; team two: curl+Zsh; no team: vim; then the counts job runs."""
    fleet = cast.fleet
    await add_host(fleet, "one-a", team_id=cast.team_one, facts=HostFacts(software=(CURL, ZSH)))
    await add_host(fleet, "one-b", team_id=cast.team_one, facts=HostFacts(software=(CURL, PYTHON)))
    await add_host(fleet, "two-a", team_id=cast.team_two, facts=HostFacts(software=(ZSH, CURL)))
    await add_host(fleet, "none-a", facts=HostFacts(software=(VIM,)))
    await refresh_counts(fleet)


def names(body: dict[str, Any]) -> list[tuple[str, int]]:
    return [(s["name"], s["hosts_count"]) for s in body["software"]]


async def get(fleet: Fleet, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await fleet.client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_lists_installed_software_most_installed_first(cast: Cast) -> None:
    await seed(cast)
    fleet = cast.fleet
    for prefix in ("/api/v1/fleet", "/api/latest/fleet"):
        body = await get(fleet, f"{prefix}/software", fleet.as_admin)
        assert set(body) == {"counts_updated_at", "software"}
        assert_timestamp(body["counts_updated_at"])
        assert names(body)[:2] == [("curl", 3), ("Zsh", 2)]
        assert sorted(names(body)[2:]) == [("python", 1), ("vim", 1)]
    curl, zsh = body["software"][:2]
    assert set(curl) == ITEM_KEYS
    assert curl | {"id": 0} == {
        "id": 0, "name": "curl", "version": "8.0", "source": "deb_packages", "release": "1ubuntu1",
        "vendor": "Ubuntu", "arch": "x86_64", "generated_cpe": "", "vulnerabilities": None, "hosts_count": 3}
    assert zsh["bundle_identifier"] == "org.zsh" and zsh["vendor"] == "" and zsh["vulnerabilities"] is None
    # The software listed is what GET /hosts?software_id= finds hosts for, and that page shows it.
    hosts = await get(fleet, f"{V1}/hosts", fleet.as_admin, software_id=curl["id"])
    assert len(hosts["hosts"]) == 3
    assert hosts["software"] | {"id": 0} == {
        "id": 0, "name": "curl", "version": "8.0", "source": "deb_packages", "release": "1ubuntu1",
        "vendor": "Ubuntu", "arch": "x86_64", "generated_cpe": "", "vulnerabilities": None, "hosts_count": 3}
    assert (await get(fleet, COUNT, fleet.as_admin)) == {"count": 4}


async def test_order_paging_and_search(cast: Cast) -> None:
    await seed(cast)
    fleet = cast.fleet
    by_name = await get(fleet, SOFTWARE, fleet.as_admin, order_key="name")
    assert [n for n, _ in names(by_name)] == ["curl", "python", "vim", "Zsh"]
    desc = await get(fleet, SOFTWARE, fleet.as_admin, order_key="name", order_direction="desc")
    assert [n for n, _ in names(desc)] == ["Zsh", "vim", "python", "curl"]
    asc_count = await get(fleet, SOFTWARE, fleet.as_admin, order_key="hosts_count", order_direction="asc")
    assert [c for _, c in names(asc_count)] == [1, 1, 2, 3]
    page = await get(fleet, SOFTWARE, fleet.as_admin, order_key="name", page=1, per_page=3)
    assert names(page) == [("Zsh", 2)]
    # Without vulnerability data the vulnerability keys are accepted and order by id.
    by_cvss = await get(fleet, SOFTWARE, fleet.as_admin, order_key="cvss_score", order_direction="desc")
    ids = [s["id"] for s in by_cvss["software"]]
    assert ids == sorted(ids) and len(ids) == 4
    assert names(await get(fleet, SOFTWARE, fleet.as_admin, query="ZS")) == [("Zsh", 2)]
    assert names(await get(fleet, SOFTWARE, fleet.as_admin, query="3.12")) == [("python", 1)]
    assert names(await get(fleet, SOFTWARE, fleet.as_admin, query="CVE-2023-1234")) == []
    assert await get(fleet, COUNT, fleet.as_admin, query="u") == {"count": 1}


async def test_vulnerable_software_is_an_empty_list(cast: Cast) -> None:
    await seed(cast)
    fleet = cast.fleet
    for value in ("true", "1"):
        body = await get(fleet, SOFTWARE, fleet.as_admin, vulnerable=value)
        assert body["software"] == []
        assert await get(fleet, COUNT, fleet.as_admin, vulnerable=value) == {"count": 0}
    assert len((await get(fleet, SOFTWARE, fleet.as_admin, vulnerable="false"))["software"]) == 4


async def test_team_filter_counts_hosts_of_that_team(cast: Cast) -> None:
    await seed(cast)
    fleet = cast.fleet
    one = await get(fleet, SOFTWARE, fleet.as_admin, team_id=cast.team_one)
    assert names(one)[0] == ("curl", 2) and sorted(names(one)[1:]) == [("Zsh", 1), ("python", 1)]
    assert await get(fleet, COUNT, fleet.as_admin, team_id=cast.team_two) == {"count": 2}
    # team_id 0: software on hosts in no team.
    assert names(await get(fleet, SOFTWARE, cast["observer"].headers, team_id=0)) == [("vim", 1)]
    assert_error(await fleet.client.get(SOFTWARE, params={"team_id": 9999}, headers=fleet.as_admin), 404)
    assert_error(await fleet.client.get(COUNT, params={"team_id": 9999}, headers=fleet.as_admin), 404)


@pytest.mark.parametrize("role", ["team_admin", "team_maintainer", "team_observer"])
async def test_team_users_see_only_their_teams_software(cast: Cast, role: str) -> None:
    await seed(cast)
    fleet = cast.fleet
    headers = cast[role].headers
    mine = await get(fleet, SOFTWARE, headers)
    assert names(mine)[0] == ("curl", 2) and sorted(names(mine)[1:]) == [("Zsh", 1), ("python", 1)]
    assert await get(fleet, COUNT, headers) == {"count": 3}
    assert names(await get(fleet, SOFTWARE, headers, team_id=cast.team_one)) == names(mine)
    for team_id in (cast.team_two, 0, 9999):
        for path in (SOFTWARE, COUNT):
            assert_error(await fleet.client.get(path, params={"team_id": team_id}, headers=headers), 403)


@pytest.mark.parametrize("role", ["admin", "maintainer", "observer"])
async def test_every_global_role_sees_everything(cast: Cast, role: str) -> None:
    await seed(cast)
    assert await get(cast.fleet, COUNT, cast[role].headers) == {"count": 4}
    assert len((await get(cast.fleet, SOFTWARE, cast[role].headers, team_id=cast.team_two))["software"]) == 2


@pytest.mark.parametrize(("params", "status", "name"), [
    ({"order_direction": "sideways", "order_key": "name"}, 422, "order_direction"),
    ({"order_direction": "asc"}, 422, "order_direction"),
    ({"order_key": "id"}, 422, "order_key"),
    ({"order_key": "version"}, 422, "order_key"),
    ({"page": -1}, 422, "page"),
    ({"per_page": 0}, 422, "per_page"),
    ({"page": "two"}, 400, "page"),
    ({"team_id": "blue"}, 400, "team_id"),
    ({"team_id": -1}, 422, "team_id"),
    ({"team_id": 2**63}, 422, "team_id"),
    ({"vulnerable": "maybe"}, 400, "vulnerable"),
])
async def test_bad_parameters_name_the_parameter(fleet: Fleet, params: dict[str, Any], status: int,
                                                 name: str) -> None:
    response = await fleet.client.get(SOFTWARE, params=params, headers=fleet.as_admin)
    assert_error(response, status, name)


@pytest.mark.parametrize(("params", "status", "name"), [
    ({"team_id": "blue"}, 400, "team_id"),
    ({"team_id": -1}, 422, "team_id"),
    ({"vulnerable": "maybe"}, 400, "vulnerable"),
])
async def test_count_bad_parameters_name_the_parameter(fleet: Fleet, params: dict[str, Any], status: int,
                                                       name: str) -> None:
    assert_error(await fleet.client.get(COUNT, params=params, headers=fleet.as_admin), status, name)


async def test_without_a_session_it_is_unauthorized(fleet: Fleet) -> None:
    for path in (SOFTWARE, COUNT):
        assert_error(await fleet.client.get(path), 401)
        assert_error(await fleet.client.get(path, headers={"Authorization": "Bearer nope"}), 401)


async def test_no_software_is_an_empty_list(fleet: Fleet) -> None:
    await add_host(fleet, "bare")
    await refresh_counts(fleet)
    body = await get(fleet, SOFTWARE, fleet.as_admin)
    assert body["software"] == []
    assert await get(fleet, COUNT, fleet.as_admin) == {"count": 0}


async def test_titles_are_listed_once_counted(fleet: Fleet) -> None:
    """A title first reported after the last count is not listed until the counts job runs again
    (as in Fleet); counts_updated_at says when that was."""
    await add_host(fleet, "early", facts=HostFacts(software=(CURL,)))
    await refresh_counts(fleet)
    counted = await get(fleet, SOFTWARE, fleet.as_admin)
    assert names(counted) == [("curl", 1)]
    assert_timestamp(counted["counts_updated_at"])
    await add_host(fleet, "late", facts=HostFacts(software=(CURL, VIM)))
    assert names(await get(fleet, SOFTWARE, fleet.as_admin)) == [("curl", 1)]
    await refresh_counts(fleet)
    assert names(await get(fleet, SOFTWARE, fleet.as_admin)) == [("curl", 2), ("vim", 1)]


async def test_browser_extensions_show_their_id_and_browser(fleet: Fleet) -> None:
    extension = SoftwareItem("uBlock Origin", "1.57", "chrome_extensions",
                             extension_id="cjpalhdlnbpafiamejdnhcphjbkeiagm", browser="chrome")
    same_in_edge = SoftwareItem("uBlock Origin", "1.57", "chrome_extensions",
                                extension_id="cjpalhdlnbpafiamejdnhcphjbkeiagm", browser="edge")
    await add_host(fleet, "browser", facts=HostFacts(software=(extension, same_in_edge)))
    await refresh_counts(fleet)
    body = await get(fleet, SOFTWARE, fleet.as_admin, order_key="name")
    assert sorted((s["extension_id"], s["browser"], s["hosts_count"]) for s in body["software"]) == [
        ("cjpalhdlnbpafiamejdnhcphjbkeiagm", "chrome", 1), ("cjpalhdlnbpafiamejdnhcphjbkeiagm", "edge", 1)]
