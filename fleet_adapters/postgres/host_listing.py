"""Postgres implementation of fleet_core.ports.HostListing: a page of hosts in two statements.

The host rows come from the host repository's list statement, so filters, ordering and
``after`` have one definition. What the rows show beside each host (device mapping, failing
policy count) is then read for the whole page at once, never host by host.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from fleet_adapters.postgres.errors import translated
from fleet_adapters.postgres.hosts import PgHostInventoryRepository
from fleet_adapters.postgres.hosts.columns import row_to_host
from fleet_core.model.hosts import DeviceMapping, Host, HostFilter, ListedHost
from fleet_core.ports.host_listing import STREAM_BATCH_SIZE
from fleet_core.rules.paging import ListOptions

# The two arrays share one ORDER BY, so their items pair up (as SELECT_HOST_EMAILS orders them).
SELECT_PAGE_EXTRAS: Final[LiteralString] = """
    SELECT page.host_id,
           (SELECT count(*) FROM policy_membership pm
             WHERE pm.host_id = page.host_id AND pm.passes IS FALSE) AS failing_policies_count,
           ARRAY(SELECT e.email FROM host_emails e WHERE e.host_id = page.host_id
                  ORDER BY e.email COLLATE "C", e.source COLLATE "C") AS emails,
           ARRAY(SELECT e.source FROM host_emails e WHERE e.host_id = page.host_id
                  ORDER BY e.email COLLATE "C", e.source COLLATE "C") AS sources
      FROM unnest(%(host_ids)s::bigint[]) AS page(host_id)
"""


class PgHostListing:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn
        self._hosts = PgHostInventoryRepository(conn)

    async def page(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime, after: str | None = None,
                   device_mapping: bool = False, failing_policies: bool = False) -> builtins.list[ListedHost]:
        hosts = await self._hosts.list(filters, options, now=now, after=after)
        return await self._with_extras(hosts, device_mapping=device_mapping, failing_policies=failing_policies)

    async def stream(self, filters: HostFilter, options: ListOptions, *, now: dt.datetime,
                     device_mapping: bool = False,
                     batch_size: int = STREAM_BATCH_SIZE) -> AsyncIterator[builtins.list[ListedHost]]:
        # A server-side cursor over the list statement, inside the unit of work's transaction:
        # Postgres keeps the position, this process holds one batch at a time.
        query, params = self._hosts.list_statement(filters, options, now=now)
        with translated():
            async with self._conn.cursor(name="host_listing_stream", row_factory=dict_row) as cur:
                await cur.execute(query, params)
                while rows := await cur.fetchmany(batch_size):
                    hosts = [row_to_host(r) for r in rows]
                    yield await self._with_extras(hosts, device_mapping=device_mapping, failing_policies=False)

    async def _with_extras(self, hosts: builtins.list[Host], *, device_mapping: bool,
                           failing_policies: bool) -> builtins.list[ListedHost]:
        if not hosts or not (device_mapping or failing_policies):
            return [ListedHost(host=h) for h in hosts]
        extras: Mapping[int, dict[str, Any]]
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(SELECT_PAGE_EXTRAS, {"host_ids": [h.id for h in hosts]})
                extras = {row["host_id"]: row for row in await cur.fetchall()}
        return [
            ListedHost(
                host=host,
                device_mapping=tuple(
                    DeviceMapping(email=email, source=source)
                    for email, source in zip(extras[host.id]["emails"], extras[host.id]["sources"], strict=True)
                ) if device_mapping else None,
                failing_policies_count=extras[host.id]["failing_policies_count"] if failing_policies else 0,
            )
            for host in hosts
        ]
