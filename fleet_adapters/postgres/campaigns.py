"""Postgres implementation of fleet_core.ports.CampaignRepository."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection

from fleet_adapters.postgres.errors import guarded_write, translated
from fleet_core.errors import NotFound
from fleet_core.model.campaigns import Campaign, CampaignStatus
from fleet_core.rules.targets import TargetSelection

# Fleet's target types.
HOST_TARGET, LABEL_TARGET, TEAM_TARGET = 0, 1, 2

SELECT_CAMPAIGN: Final[LiteralString] = """
    SELECT c.id, c.query_id, c.query, c.user_id, c.status, c.created_at, c.updated_at, c.host_ids,
           coalesce(array_agg(t.type) FILTER (WHERE t.id IS NOT NULL), '{}') AS target_types,
           coalesce(array_agg(t.target_id) FILTER (WHERE t.id IS NOT NULL), '{}') AS target_ids
      FROM distributed_query_campaigns c
      LEFT JOIN distributed_query_campaign_targets t ON t.distributed_query_campaign_id = c.id
     WHERE c.id = %(id)s
     GROUP BY c.id
"""
INSERT_CAMPAIGN: Final[LiteralString] = """
    INSERT INTO distributed_query_campaigns (query_id, query, user_id, status, host_ids, created_at, updated_at)
    VALUES (%(query_id)s, %(query)s, %(user_id)s, 0, %(host_ids)s::bigint[], %(at)s, %(at)s)
    RETURNING id
"""
INSERT_TARGETS: Final[LiteralString] = """
    INSERT INTO distributed_query_campaign_targets (distributed_query_campaign_id, type, target_id)
    SELECT %(id)s, t.type, t.target_id
      FROM unnest(%(types)s::smallint[], %(target_ids)s::bigint[]) AS t(type, target_id)
"""
UPDATE_STATUS: Final[LiteralString] = """
    UPDATE distributed_query_campaigns SET status = %(status)s, updated_at = %(at)s WHERE id = %(id)s RETURNING id
"""
COMPLETE_STALE: Final[LiteralString] = """
    UPDATE distributed_query_campaigns SET status = 2, updated_at = %(at)s
     WHERE (status = 0 AND created_at < %(waiting_before)s) OR (status = 1 AND created_at < %(running_before)s)
    RETURNING id
"""
SELECT_INACTIVE: Final[LiteralString] = """
    SELECT i.id
      FROM unnest(%(ids)s::bigint[]) AS i(id)
      LEFT JOIN distributed_query_campaigns c ON c.id = i.id
     WHERE c.id IS NULL OR c.status = 2
     ORDER BY i.id
"""


def _campaign(row: Any) -> Campaign:
    (cid, query_id, query, user_id, status, created_at, updated_at, host_ids, types, target_ids) = row
    by_type: dict[int, list[int]] = {HOST_TARGET: [], LABEL_TARGET: [], TEAM_TARGET: []}
    for kind, target_id in zip(types, target_ids, strict=True):
        by_type[kind].append(target_id)
    return Campaign(
        id=cid, query_id=query_id, query=query, user_id=user_id, status=CampaignStatus(status),
        created_at=created_at, updated_at=updated_at, host_ids=tuple(host_ids),
        selection=TargetSelection(host_ids=by_type[HOST_TARGET], label_ids=by_type[LABEL_TARGET],
                                  team_ids=by_type[TEAM_TARGET]),
    )


class PgCampaignRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def add(self, *, query_id: int | None, query: str, user_id: int, selection: TargetSelection,
                  host_ids: Sequence[int], at: dt.datetime) -> Campaign:
        targets = ([(HOST_TARGET, i) for i in sorted(selection.host_ids)]
                   + [(LABEL_TARGET, i) for i in sorted(selection.label_ids)]
                   + [(TEAM_TARGET, i) for i in sorted(selection.team_ids)])
        async with guarded_write(self._conn), self._conn.cursor() as cur:
            await cur.execute(INSERT_CAMPAIGN, {"query_id": query_id, "query": query, "user_id": user_id,
                                                "host_ids": sorted(set(host_ids)), "at": at})
            row = await cur.fetchone()
            assert row is not None
            if targets:
                await cur.execute(INSERT_TARGETS, {"id": row[0], "types": [t for t, _ in targets],
                                                   "target_ids": [i for _, i in targets]})
        return await self._require(row[0])

    async def get(self, campaign_id: int) -> Campaign | None:
        with translated():
            cur = await self._conn.execute(SELECT_CAMPAIGN, {"id": campaign_id})
            row = await cur.fetchone()
        return None if row is None else _campaign(row)

    async def set_status(self, campaign_id: int, status: CampaignStatus, at: dt.datetime) -> Campaign:
        with translated():
            cur = await self._conn.execute(UPDATE_STATUS, {"id": campaign_id, "status": int(status), "at": at})
            row = await cur.fetchone()
        if row is None:
            raise NotFound(f"Campaign with id={campaign_id} was not found in the datastore")
        return await self._require(campaign_id)

    async def complete_stale(self, *, waiting_before: dt.datetime, running_before: dt.datetime,
                             at: dt.datetime) -> builtins.list[int]:
        with translated():
            cur = await self._conn.execute(COMPLETE_STALE, {"waiting_before": waiting_before,
                                                            "running_before": running_before, "at": at})
            return sorted(row[0] for row in await cur.fetchall())

    async def inactive(self, campaign_ids: Sequence[int]) -> builtins.list[int]:
        if not campaign_ids:
            return []
        with translated():
            cur = await self._conn.execute(SELECT_INACTIVE, {"ids": sorted(set(campaign_ids))})
            return [row[0] for row in await cur.fetchall()]

    async def _require(self, campaign_id: int) -> Campaign:
        campaign = await self.get(campaign_id)
        if campaign is None:
            raise NotFound(f"Campaign with id={campaign_id} was not found in the datastore")
        return campaign
