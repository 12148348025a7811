"""Storing a host's software answer (HostRepository.apply_facts with software) as a diff: one
software row per distinct (name, version, source, release, vendor, arch, bundle identifier,
extension id, browser) shared by every host; an unchanged answer writes nothing; a changed one
writes only the difference. On Postgres the statements are counted (a cursor factory that records
them) and the rows really written are read from pg_stat_xact_user_tables: an unchanged answer of
300 packages costs one read and zero writes, a changed one four statements whatever its size."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import attrs
import psycopg
import pytest

from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_core.model.hosts import HostFacts, SoftwareItem
from fleet_core.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.test_host_repository import enroll

pytestmark = pytest.mark.anyio

SOFTWARE_TABLES = ("software", "host_software", "host_software_checksums")


def packages(count: int, *, prefix: str = "pkg") -> tuple[SoftwareItem, ...]:
    return tuple(SoftwareItem(f"{prefix}-{n}", f"1.{n}", "deb_packages", arch="amd64") for n in range(count))


async def report(uow: UnitOfWork, host_id: int, at: dt.datetime, items: tuple[SoftwareItem, ...]) -> None:
    await uow.hosts.apply_facts(host_id, HostFacts(software=items), at=at, details_updated=True)


async def host_software(uow: UnitOfWork, host_id: int) -> dict[tuple[str, str, str, str, str], int]:
    return {(s.name, s.version, s.arch, s.extension_id, s.browser): s.id
            for s in await uow.host_inventory.software(host_id)}


async def test_one_row_per_distinct_software_shared_by_hosts(uow_factory: UnitOfWorkFactory,
                                                            at: dt.datetime) -> None:
    chrome = SoftwareItem("uBlock", "1.57", "chrome_extensions", extension_id="abc", browser="chrome")
    edge = attrs.evolve(chrome, browser="edge")
    other_id = attrs.evolve(chrome, extension_id="xyz")
    rpm_a = SoftwareItem("kernel-tools", "5.14", "rpm_packages", release="1.el9", arch="x86_64", vendor="Rocky")
    rpm_b = attrs.evolve(rpm_a, arch="aarch64")
    async with uow_factory() as uow:
        a = await enroll(uow, "a", at)
        b = await enroll(uow, "b", at)
        await report(uow, a, at, (chrome, edge, other_id, rpm_a, chrome))
        await report(uow, b, at, (edge, rpm_b, rpm_a))
        await uow.commit()
        on_a, on_b = await host_software(uow, a), await host_software(uow, b)
    assert len(on_a) == 4 and len(on_b) == 3  # the duplicate chrome row is one software
    assert on_a[("uBlock", "1.57", "", "abc", "edge")] == on_b[("uBlock", "1.57", "", "abc", "edge")]
    assert len({*on_a.values(), *on_b.values()}) == 5
    async with uow_factory() as uow:
        [stored] = [s for s in await uow.host_inventory.software(a)
                    if s.browser == "chrome" and s.extension_id == "abc"]
    assert (stored.source, stored.extension_id, stored.browser) == ("chrome_extensions", "abc", "chrome")


async def test_a_changed_answer_replaces_the_set_and_keeps_the_rows_it_still_has(
        uow_factory: UnitOfWorkFactory, at: dt.datetime) -> None:
    first = packages(5)
    opened = at - dt.timedelta(days=1)
    async with uow_factory() as uow:
        host = await enroll(uow, "h", at)
        await report(uow, host, at, first)
        await uow.commit()
        before = await host_software(uow, host)
    changed = (*first[2:], attrs.evolve(first[0], last_opened_at=opened), *packages(2, prefix="new"))
    async with uow_factory() as uow:
        await report(uow, host, at, changed)
        await uow.commit()
        after = await host_software(uow, host)
        listed = {s.name: s.last_opened_at for s in await uow.host_inventory.software(host)}
    assert set(after) == {*(k for k in before if k[0] != "pkg-1"), ("new-0", "1.0", "amd64", "", ""),
                          ("new-1", "1.1", "amd64", "", "")}
    assert all(after[k] == before[k] for k in after if k in before)
    assert listed["pkg-0"] == opened
    async with uow_factory() as uow:
        await report(uow, host, at, ())
        await uow.commit()
        assert await host_software(uow, host) == {}
        # Reporting the first set again after an empty one restores it (the digest changed twice).
        await report(uow, host, at, first)
        await uow.commit()
        assert await host_software(uow, host) == before


@attrs.define
class Recorded:
    statements: list[str] = attrs.field(factory=list)

    def touching_software(self) -> list[str]:
        return [s for s in self.statements if "software" in s and "pg_stat_xact" not in s]


@contextmanager
def recording(uow: PgUnitOfWork) -> Iterator[Recorded]:
    """Record every statement the unit of work's connection runs (psycopg has no hook, so through a
    cursor factory that every execute() goes through)."""
    recorded = Recorded()

    class RecordingCursor(psycopg.AsyncCursor[Any]):
        async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            recorded.statements.append(query if isinstance(query, str) else str(query))
            return await super().execute(query, params, **kwargs)

    conn = uow._conn
    saved = conn.cursor_factory
    conn.cursor_factory = RecordingCursor
    try:
        yield recorded
    finally:
        conn.cursor_factory = saved


async def write_counters(uow: PgUnitOfWork) -> dict[str, int]:
    """Rows inserted, updated or deleted in the software tables, as the server counts them for
    this backend. The counters also hold earlier transactions not yet flushed to the shared
    statistics, but nothing is flushed inside a transaction, so two readings in one transaction
    differ by exactly what it wrote in between."""
    async with uow._conn.cursor() as cur:
        await cur.execute("SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables"
                          " WHERE relname = ANY(%s)", [list(SOFTWARE_TABLES)])
        return {name: int(count) for name, count in await cur.fetchall()}


@pytest.mark.postgres
@pytest.mark.parametrize("size", [30, 300])
async def test_postgres_unchanged_answer_costs_no_write_and_a_change_a_fixed_number_of_statements(
        pg_uow_factory: Any, at: dt.datetime, size: int) -> None:
    items = packages(size)
    async with pg_uow_factory() as uow:
        host = await enroll(uow, "h", at)
        await report(uow, host, at, items)
        await uow.commit()
    shuffled = list(items)
    random.Random(size).shuffle(shuffled)
    async with pg_uow_factory() as uow:
        before = await write_counters(uow)
        with recording(uow) as recorded:
            await report(uow, host, at + dt.timedelta(hours=1), tuple(shuffled))
        assert len(recorded.touching_software()) == 1  # the digest read
        assert await write_counters(uow) == before
        await uow.commit()
    changed = (*items[5:], *packages(3, prefix="new"))
    async with pg_uow_factory() as uow:
        before = await write_counters(uow)
        with recording(uow) as recorded:
            await report(uow, host, at + dt.timedelta(hours=2), changed)
        assert len(recorded.touching_software()) == 4
        after = await write_counters(uow)
        # 3 new software rows; 5 links deleted and 3 created; the digest updated.
        assert {t: after.get(t, 0) - before.get(t, 0) for t in SOFTWARE_TABLES} == {
            "software": 3, "host_software": 8, "host_software_checksums": 1}
        await uow.commit()


@pytest.mark.postgres
async def test_postgres_hosts_first_reporting_the_same_new_packages_at_once_do_not_deadlock(
        pg_uow_factory: Any, at: dt.datetime) -> None:
    # Each round, four hosts report overlapping sets of packages nobody had, each in its own
    # order, in four concurrent transactions: inserted in the order reported, two of them would
    # wait on each other's new rows (ON CONFLICT waits for the inserting transaction) and one
    # would fail with a deadlock.
    failures: list[BaseException] = []

    async def first_answer(name: str, items: tuple[SoftwareItem, ...]) -> None:
        try:
            async with pg_uow_factory() as uow:
                host = await enroll(uow, name, at)
                await report(uow, host, at, items)
                await uow.commit()
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    rng = random.Random(7)
    reported: set[SoftwareItem] = set()
    for round_number in range(12):
        window = [SoftwareItem(f"pkg-{round_number}-{n}", "1.0", "deb_packages") for n in range(160)]
        async with anyio.create_task_group() as group:
            for worker in range(4):
                items = tuple(rng.sample(window, 120))
                reported.update(items)
                group.start_soon(first_answer, f"h-{round_number}-{worker}", items)
    assert failures == []
    async with pg_uow_factory() as uow, uow._conn.cursor() as cur:
        await cur.execute("SELECT count(*), count(DISTINCT (name, version)) FROM software")
        assert await cur.fetchone() == (len(reported), len(reported))  # each row created once
