"""Postgres implementation of fleet_core.ports.WebhookRepository.

Planners serialise on a transaction-scoped advisory lock; deliveries are claimed with
SELECT ... FOR UPDATE SKIP LOCKED, so concurrent processes never claim the same row.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final, LiteralString

from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from fleet_adapters.postgres.errors import translated
from fleet_core.model.policies import Policy
from fleet_core.model.webhooks import Delivery, FailingHost, WebhookKind

# Any constant both sides agree on; "fleetwh" in ASCII.
PLANNING_LOCK_KEY: Final = 0x666C656574_7768

LOCK_PLANNING: Final[LiteralString] = "SELECT pg_advisory_xact_lock(%(key)s)"
FORGET_RECOVERED: Final[LiteralString] = """
    DELETE FROM webhook_announced_failures a
     WHERE NOT EXISTS (SELECT 1 FROM policy_membership pm
                        WHERE pm.policy_id = a.policy_id AND pm.host_id = a.host_id AND pm.passes = false)
"""
SELECT_POLICIES: Final[LiteralString] = """
    SELECT p.id, p.name, p.query, p.created_at, p.updated_at, p.description, p.resolution,
           p.platforms AS platform, p.critical, p.team_id, p.author_id,
           coalesce(u.name, '') AS author_name, coalesce(u.email, '') AS author_email,
           (SELECT count(*) FROM policy_membership pm WHERE pm.policy_id = p.id AND pm.passes = true)::int
               AS passing_host_count,
           (SELECT count(*) FROM policy_membership pm WHERE pm.policy_id = p.id AND pm.passes = false)::int
               AS failing_host_count
      FROM policies p LEFT JOIN users u ON u.id = p.author_id
     WHERE p.id = ANY(%(ids)s::bigint[])
     ORDER BY p.id
"""
SELECT_NEWLY_FAILING: Final[LiteralString] = """
    SELECT h.id, h.hostname, COALESCE(NULLIF(h.computer_name, ''), h.hostname) AS display_name
      FROM policy_membership pm JOIN hosts h ON h.id = pm.host_id
     WHERE pm.policy_id = %(policy_id)s AND pm.passes = false
       AND NOT EXISTS (SELECT 1 FROM webhook_announced_failures a
                        WHERE a.policy_id = pm.policy_id AND a.host_id = pm.host_id)
     ORDER BY h.id
"""
INSERT_ANNOUNCED: Final[LiteralString] = """
    INSERT INTO webhook_announced_failures (policy_id, host_id, announced_at)
    SELECT %(policy_id)s, h.id, %(at)s FROM hosts h WHERE h.id = ANY(%(host_ids)s::bigint[])
    ON CONFLICT (policy_id, host_id) DO NOTHING
"""
INSERT_DELIVERY: Final[LiteralString] = """
    INSERT INTO webhook_deliveries (kind, payload, created_at, next_attempt_at)
    VALUES (%(kind)s, %(payload)s, %(at)s, %(at)s)
    RETURNING id, kind, payload, created_at, attempts, next_attempt_at, last_error
"""
CLAIM_DELIVERY: Final[LiteralString] = """
    UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = %(lease_until)s
     WHERE id = (SELECT id FROM webhook_deliveries
                  WHERE kind = %(kind)s AND next_attempt_at <= %(now)s
                  ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
    RETURNING id, kind, payload, created_at, attempts, next_attempt_at, last_error
"""
COMPLETE_DELIVERY: Final[LiteralString] = (
    "DELETE FROM webhook_deliveries WHERE id = %(id)s AND attempts = %(attempts)s")
RETRY_DELIVERY: Final[LiteralString] = """
    UPDATE webhook_deliveries SET next_attempt_at = %(at)s, last_error = %(error)s
     WHERE id = %(id)s AND attempts = %(attempts)s
"""
SELECT_PENDING: Final[LiteralString] = (
    "SELECT id, kind, payload, created_at, attempts, next_attempt_at, last_error FROM webhook_deliveries ORDER BY id")
SELECT_LAST_PLANNED: Final[LiteralString] = "SELECT last_planned_at FROM webhook_state WHERE kind = %(kind)s"
UPSERT_LAST_PLANNED: Final[LiteralString] = """
    INSERT INTO webhook_state (kind, last_planned_at) VALUES (%(kind)s, %(at)s)
    ON CONFLICT (kind) DO UPDATE SET last_planned_at = excluded.last_planned_at
"""


def _delivery(row: Mapping[str, Any]) -> Delivery:
    return Delivery(id=row["id"], kind=WebhookKind(row["kind"]), payload=dict(row["payload"]),
                    created_at=row["created_at"], attempts=row["attempts"],
                    next_attempt_at=row["next_attempt_at"], last_error=row["last_error"])


class PgWebhookRepository:
    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self._conn = conn

    async def lock_planning(self) -> None:
        with translated():
            await self._conn.execute(LOCK_PLANNING, {"key": PLANNING_LOCK_KEY})

    async def forget_recovered(self) -> int:
        with translated():
            cur = await self._conn.execute(FORGET_RECOVERED)
        return cur.rowcount

    async def policies(self, policy_ids: Sequence[int]) -> builtins.list[Policy]:
        with translated():
            async with self._conn.cursor(row_factory=class_row(Policy)) as cur:
                await cur.execute(SELECT_POLICIES, {"ids": sorted(set(policy_ids))})
                return await cur.fetchall()

    async def newly_failing(self, policy_id: int) -> builtins.list[FailingHost]:
        with translated():
            async with self._conn.cursor(row_factory=class_row(FailingHost)) as cur:
                await cur.execute(SELECT_NEWLY_FAILING, {"policy_id": policy_id})
                return await cur.fetchall()

    async def mark_announced(self, policy_id: int, host_ids: Sequence[int], at: dt.datetime) -> None:
        with translated():
            await self._conn.execute(INSERT_ANNOUNCED, {"policy_id": policy_id, "host_ids": list(host_ids), "at": at})

    async def enqueue(self, kind: WebhookKind, payload: Mapping[str, Any], at: dt.datetime) -> Delivery:
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(INSERT_DELIVERY, {"kind": str(kind), "payload": Jsonb(dict(payload)), "at": at})
                row = await cur.fetchone()
        assert row is not None
        return _delivery(row)

    async def claim(self, kind: WebhookKind, *, now: dt.datetime, lease_until: dt.datetime) -> Delivery | None:
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(CLAIM_DELIVERY, {"kind": str(kind), "now": now, "lease_until": lease_until})
                row = await cur.fetchone()
        return None if row is None else _delivery(row)

    async def complete(self, delivery: Delivery) -> bool:
        with translated():
            cur = await self._conn.execute(COMPLETE_DELIVERY, {"id": delivery.id, "attempts": delivery.attempts})
        return cur.rowcount > 0

    async def retry_later(self, delivery: Delivery, *, at: dt.datetime, error: str) -> bool:
        with translated():
            cur = await self._conn.execute(RETRY_DELIVERY, {"id": delivery.id, "attempts": delivery.attempts,
                                                            "at": at, "error": error})
        return cur.rowcount > 0

    async def pending(self) -> builtins.list[Delivery]:
        with translated():
            async with self._conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(SELECT_PENDING)
                return [_delivery(row) for row in await cur.fetchall()]

    async def last_planned(self, kind: WebhookKind) -> dt.datetime | None:
        with translated():
            cur = await self._conn.execute(SELECT_LAST_PLANNED, {"kind": str(kind)})
            row = await cur.fetchone()
        return None if row is None else row[0]

    async def set_last_planned(self, kind: WebhookKind, at: dt.datetime) -> None:
        with translated():
            await self._conn.execute(UPSERT_LAST_PLANNED, {"kind": str(kind), "at": at})
