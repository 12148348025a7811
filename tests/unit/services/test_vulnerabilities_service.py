"""The vulnerability job (fleet_core.services.vulnerabilities) over the in-memory kit and a fake
feed index: a host reporting openssl 1.1.1k (deb) becomes vulnerable to CVE-2021-3711 and a fixed
version does not; re-runs never duplicate and keep when a CVE was first found; an unchanged run
writes nothing; a feed that cannot be loaded leaves everything as it was; one process at a time."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from fleet_adapters.memory import InMemoryKit, MovableClock, in_memory_kit
from fleet_core.authz import Viewer
from fleet_core.model.hosts import Host
from fleet_core.model.runtime import ServerRuntime
from fleet_core.model.software import SoftwareFilter
from fleet_core.model.vulnerability_settings import VulnerabilitiesConfig
from fleet_core.rules.paging import ListOptions
from fleet_core.services.agents import QueryResult
from fleet_core.services.vulnerabilities import VulnerabilityService
from tests.unit.services.fake_vulnerability_feed import OPENSSL_CVE, OPENSSL_META, FakeFeed, openssl_index
from tests.unit.services.support import enroll_host

pytestmark = pytest.mark.anyio


@pytest.fixture
def feed() -> FakeFeed:
    return FakeFeed(openssl_index())


@pytest.fixture
def kit(clock: MovableClock, feed: FakeFeed) -> InMemoryKit:
    return in_memory_kit(clock=clock, vulnerability_feed=feed, runtime=ServerRuntime(
        vulnerabilities=VulnerabilitiesConfig(databases_path="/tmp/vulndb")))


def job(kit: InMemoryKit) -> VulnerabilityService:
    assert kit.services.vulnerabilities is not None
    return kit.services.vulnerabilities


async def install(kit: InMemoryKit, host: Host, *packages: tuple[str, str]) -> None:
    rows = [{"name": name, "version": version, "source": "deb_packages"} for name, version in packages]
    await kit.services.agents.distributed_write(host, {"fleet_detail_query_software_linux": QueryResult(rows=rows)})


async def listed(kit: InMemoryKit, admin: Viewer, **filters: object) -> dict[str, tuple[str, list[str]]]:
    await kit.services.software.refresh_counts()
    page = await kit.services.software.list(admin, SoftwareFilter(**filters),  # type: ignore[arg-type]
                                            ListOptions(order_key="name"))
    return {f"{s.name} {s.version}": (s.generated_cpe, [v.cve for v in s.vulnerabilities]) for s in page.software}


@pytest.fixture
async def hosts(kit: InMemoryKit, admin: Viewer) -> tuple[Host, Host]:
    old = await enroll_host(kit, admin, "old")
    new = await enroll_host(kit, admin, "new")
    await install(kit, old, ("openssl", "1.1.1k"), ("vim", "9.1"))
    await install(kit, new, ("openssl", "1.1.1l"), ("vim", "9.1"))
    return old, new


async def test_the_vulnerable_version_gets_the_cve_and_the_fixed_one_does_not(
        kit: InMemoryKit, admin: Viewer, hosts: tuple[Host, Host], feed: FakeFeed) -> None:
    summary = await job(kit).run()
    assert feed.syncs == 1
    assert (summary.software, summary.cves_found, summary.rows_changed) == (3, 1, 1)
    assert await listed(kit, admin) == {
        "openssl 1.1.1k": ("cpe:2.3:a:openssl:openssl:1.1.1k:*:*:*:*:*:*:*", [OPENSSL_CVE]),
        "openssl 1.1.1l": ("cpe:2.3:a:openssl:openssl:1.1.1l:*:*:*:*:*:*:*", []),
        "vim 9.1": ("", []),
    }
    page = await kit.services.software.list(admin, SoftwareFilter(vulnerable=True), ListOptions())
    [software] = page.software
    [found] = software.vulnerabilities
    assert (software.name, software.version, software.hosts_count) == ("openssl", "1.1.1k", 1)
    assert (found.cve, found.cvss_score, found.epss_probability, found.cisa_known_exploit, found.cve_published,
            found.resolved_in_version) == (OPENSSL_CVE, 9.8, 0.01537, False, OPENSSL_META.published, "1.1.1l")
    assert found.details_link == "https://nvd.nist.gov/vuln/detail/CVE-2021-3711"
    # The host's own software list carries the same data.
    old, _ = hosts
    details = await kit.services.hosts.get(admin, old.id)
    by_name = {f"{s.name} {s.version}": s for s in details.software}
    assert [v.cve for v in by_name["openssl 1.1.1k"].vulnerabilities] == [OPENSSL_CVE]
    assert by_name["openssl 1.1.1k"].generated_cpe.startswith("cpe:2.3:a:openssl:openssl:")
    # The CVE id is searchable.
    assert list(await listed(kit, admin, query="2021-37")) == ["openssl 1.1.1k"]


async def test_a_rerun_never_duplicates_and_keeps_when_the_cve_was_first_found(
        kit: InMemoryKit, admin: Viewer, hosts: tuple[Host, Host], feed: FakeFeed, clock: MovableClock) -> None:
    await job(kit).run()
    await kit.services.software.refresh_counts()
    first = (await kit.services.software.list(admin, SoftwareFilter(vulnerable=True), ListOptions())).software
    assert len(first) == 1
    clock.advance(dt.timedelta(hours=2))
    # The same software and feed: nothing to do at all.
    assert (await job(kit).run()).skipped
    # New feed files with the same content: every row is read again, none is written.
    feed.index = openssl_index("v2")
    summary = await job(kit).run()
    assert not summary.skipped and summary.software == 3 and summary.rows_changed == 0
    again = (await kit.services.software.list(admin, SoftwareFilter(vulnerable=True), ListOptions())).software
    assert again == first
    assert [v.created_at for v in again[0].vulnerabilities] == [first[0].vulnerabilities[0].created_at]


async def test_a_cve_that_no_longer_applies_is_removed(kit: InMemoryKit, admin: Viewer,
                                                       hosts: tuple[Host, Host], feed: FakeFeed) -> None:
    await job(kit).run()
    feed.index = attrs.evolve(openssl_index("v2"), affected={})
    summary = await job(kit).run()
    assert summary.rows_changed == 1
    assert await kit.services.software.count(admin, SoftwareFilter(vulnerable=True)) == 0


async def test_new_software_is_matched_on_the_next_run(kit: InMemoryKit, admin: Viewer,
                                                      hosts: tuple[Host, Host]) -> None:
    await job(kit).run()
    late = await enroll_host(kit, admin, "late")
    await install(kit, late, ("curl", "8.0"))
    summary = await job(kit).run()
    assert not summary.skipped and summary.cves_found == 2
    assert (await listed(kit, admin, vulnerable=True)).keys() == {"openssl 1.1.1k", "curl 8.0"}


async def test_without_feed_files_nothing_changes(kit: InMemoryKit, admin: Viewer, hosts: tuple[Host, Host],
                                                  feed: FakeFeed) -> None:
    await job(kit).run()
    before = await listed(kit, admin)
    feed.index, feed.sync_fails = None, True
    assert (await job(kit).run()).skipped
    assert await listed(kit, admin) == before


async def test_a_failed_download_uses_the_files_already_there(kit: InMemoryKit, admin: Viewer,
                                                              hosts: tuple[Host, Host], feed: FakeFeed) -> None:
    feed.sync_fails = True
    summary = await job(kit).run()
    assert summary.cves_found == 1


async def test_disabled_data_sync_never_downloads(clock: MovableClock, admin: Viewer, kit: InMemoryKit,
                                                  hosts: tuple[Host, Host], feed: FakeFeed) -> None:
    service = attrs.evolve(job(kit), settings=VulnerabilitiesConfig(databases_path="/x", disable_data_sync=True))
    assert (await service.run()).cves_found == 1
    assert feed.syncs == 0


async def test_a_run_elsewhere_holds_the_schedule_so_a_tick_here_does_nothing(
        kit: InMemoryKit, hosts: tuple[Host, Host], feed: FakeFeed) -> None:
    # One run at a time across processes is the schedule lock's work (a Postgres advisory lock in
    # a server); the periodic tick is the job guarded by it.
    schedules = kit.services.schedules
    tick = schedules.guarded("vulnerabilities", job(kit).run)
    async with schedules.lock.hold("vulnerabilities") as taken:
        assert taken
        await tick()
    assert feed.syncs == 0
    await tick()
    assert feed.syncs == 1


async def test_the_job_is_registered_unless_this_instance_must_not_run_it(clock: MovableClock,
                                                                          feed: FakeFeed) -> None:
    def jobs(checks: str) -> dict[str, str | None]:
        kit = in_memory_kit(clock=clock, vulnerability_feed=feed, runtime=ServerRuntime(
            vulnerabilities=VulnerabilitiesConfig(databases_path="/x", current_instance_checks=checks,  # type: ignore[arg-type]
                                                  periodicity=dt.timedelta(minutes=30))))
        return {j.name: j.schedule for j in kit.services.jobs if j.period == dt.timedelta(minutes=30)}
    assert jobs("yes") == jobs("auto") == {"vulnerabilities": "vulnerabilities"}
    assert jobs("no") == {}
