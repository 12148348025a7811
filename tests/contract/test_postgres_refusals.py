"""Postgres refusing a value the client sent is the client's error (4xx), never a 500 or a 503.

A 503 "database unavailable" would be worst of all for an agent: osqueryd retries it forever,
and the same batch is refused every time.
"""

from __future__ import annotations

import datetime as dt

import pytest

from fleet_adapters.postgres.pool import Pool
from fleet_adapters.postgres.uow import PgUnitOfWork
from fleet_core.errors import InvalidArgument, TooLarge, Unavailable
from fleet_core.model.hosts import HostFacts
from fleet_core.rules.paging import ListOptions

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

# Far beyond what a btree index entry can hold (about 2.7 kB), as in a 5 MB detail row.
FIVE_MEGABYTES = 5 * 1024 * 1024


async def test_a_value_too_large_for_an_index_is_too_large_not_unavailable(pg_pool: Pool, at: dt.datetime) -> None:
    async with PgUnitOfWork(pg_pool) as uow:
        with pytest.raises(TooLarge) as caught:
            await uow.teams.add(name="x" * FIVE_MEGABYTES, description="", at=at)
        assert not isinstance(caught.value, Unavailable)
        # The refusal undid only its own write: the unit of work goes on and commits.
        team = await uow.teams.add(name="fits", description="", at=at)
        await uow.commit()
    async with PgUnitOfWork(pg_pool) as uow:
        assert [t.name for t in await uow.teams.get_many([team.id])] == ["fits"]


async def test_an_id_beyond_bigint_is_an_invalid_argument(pg_pool: Pool) -> None:
    async with PgUnitOfWork(pg_pool) as uow:
        with pytest.raises(InvalidArgument) as caught:
            await uow.users.list(ListOptions(), team_id=2**64)
    assert caught.value.problems == (("base", "a number is out of range"),)


@pytest.mark.parametrize("name", ["nul\x00inside", "unpaired \udcff surrogate"])
async def test_text_postgres_cannot_store_is_an_invalid_argument(pg_pool: Pool, at: dt.datetime, name: str) -> None:
    async with PgUnitOfWork(pg_pool) as uow:
        with pytest.raises(InvalidArgument) as caught:
            await uow.teams.add(name=name, description="", at=at)
        assert caught.value.problems[0][0] == "base"
        assert name not in str(caught.value)


async def test_a_refusal_escaping_a_unit_of_work_untranslated_still_becomes_a_core_error(pg_pool: Pool) -> None:
    # Every repository translates its own statements; the unit of work is the net for one
    # that does not, so reach past the repositories to its connection.
    with pytest.raises(InvalidArgument) as caught:
        async with PgUnitOfWork(pg_pool) as uow:
            await uow._conn.execute("SELECT %s::bigint", (2**64,))
    assert caught.value.problems == (("base", "a number is out of range"),)
    assert caught.value.__suppress_context__


async def test_a_five_megabyte_detail_from_an_agent_is_too_large_not_unavailable(
    pg_pool: Pool, at: dt.datetime
) -> None:
    async with PgUnitOfWork(pg_pool) as uow:
        enrolled = await uow.hosts.enroll(osquery_host_id="big-detail-host", node_key_hash="nk", team_id=None,
                                          at=at, fields={})
        await uow.commit()
    with pytest.raises(TooLarge):
        async with PgUnitOfWork(pg_pool) as uow:
            # hostname is indexed: Postgres refuses the index entry, not the row.
            await uow.hosts.apply_facts(enrolled.host.id, HostFacts(fields={"hostname": "h" * FIVE_MEGABYTES}), at=at)
    async with PgUnitOfWork(pg_pool) as uow:
        host = await uow.hosts.get(enrolled.host.id)
    assert host is not None and host.hostname == ""
