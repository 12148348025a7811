"""Live query campaigns in Redis (fleet_core.ports.LiveQueryStore).

* ``sql:livequery:{<id>}``: the campaign's SQL (7-day expiry), written first, as Fleet does;
* ``livequery:active``: the set of running campaign ids, as Fleet does;
* ``livequery:host:{<hostID>}``: the ids of the campaigns the host still has to answer
  (7-day expiry, renewed by each campaign that targets the host);
* results travel on the pub/sub channel ``results_<id>`` as Fleet's DistributedQueryResult JSON.

Fleet keeps a bitfield per campaign instead of a set per host, so each check-in costs one GETBIT
per active campaign: with a hundred campaigns, a hundred commands per check-in. Indexing by host
makes a check-in one SMEMBERS whatever the number of campaigns (none at all when nothing runs:
the active ids and their SQL are cached in the process for ``cache_seconds``, refreshed by one
caller at a time). Stopping a campaign does not visit its hosts: a host's set may keep ids of
ended campaigns, which its next check-in drops after asking the active set (SMISMEMBER) about
them, so a check-in never trusts this process's possibly older cache to decide that.

No command touches keys of two hosts or two campaigns, so the layout works on a cluster.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec
import redis.asyncio
import structlog
from redis.exceptions import RedisError

from fleet_core.errors import Unavailable
from fleet_core.model.campaigns import LiveResult

log = structlog.get_logger(__name__)

ACTIVE_KEY: Final = "livequery:active"
EXPIRY_SECONDS: Final = 7 * 24 * 3600
# Commands per pipeline when a campaign targets many hosts.
PIPELINE_CHUNK: Final = 10_000
# A host's pending set gains the campaign and its expiry is renewed: one command (and one reply to
# parse) per targeted host rather than SADD and EXPIRE, which halves the client's work when a
# campaign starts on 10,000 hosts (about 270 ms before, the larger part of the POST). One key
# per call, so it runs on a cluster as well.
TARGET_SCRIPT: Final = "redis.call('SADD', KEYS[1], ARGV[1]) redis.call('EXPIRE', KEYS[1], ARGV[2]) return 1"


def sql_key(campaign_id: int) -> str:
    return f"sql:livequery:{{{campaign_id}}}"


def pending_key(host_id: int) -> str:
    return f"livequery:host:{{{host_id}}}"


def channel(campaign_id: int) -> str:
    return f"results_{campaign_id}"


def encode_result(result: LiveResult) -> bytes:
    return msgspec.json.encode({
        "distributed_query_execution_id": result.campaign_id,
        "host": {"id": result.host_id, "hostname": result.hostname, "display_name": result.display_name},
        "rows": list(result.rows),
        "stats": result.stats,
        "error": result.error,
    })


def decode_result(data: bytes) -> LiveResult | None:
    """The result in a published message; None (logged) when it is not one."""
    try:
        raw = msgspec.json.decode(data)
        host = raw["host"]
        rows = raw.get("rows") or []
        stats = raw.get("stats")
        error = raw.get("error")
        return LiveResult(
            campaign_id=int(raw["distributed_query_execution_id"]), host_id=int(host["id"]),
            hostname=str(host.get("hostname") or ""), display_name=str(host.get("display_name") or ""),
            rows=tuple(row for row in rows if isinstance(row, Mapping)),
            stats=stats if isinstance(stats, Mapping) else None,
            error=error if isinstance(error, str) else None,
        )
    except (msgspec.DecodeError, KeyError, TypeError, ValueError, AttributeError):
        log.warning("undecodable live query result dropped")
        return None


class RedisResultSubscription:
    def __init__(self, pubsub: Any, campaign_id: int) -> None:
        self._pubsub = pubsub
        self.campaign_id = campaign_id
        self._closed = False

    async def next(self, wait: float) -> LiveResult | None:
        """The next result, waiting at most ``wait`` seconds; with no wait, one already received."""
        deadline = time.monotonic() + wait
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                # A zero timeout does not block: it reads what the connection already holds.
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            except (RedisError, OSError) as exc:
                raise Unavailable("live query results unavailable") from exc
            if message is not None and message.get("type") == "message":
                result = decode_result(message["data"])
                if result is not None:
                    return result
            elif remaining <= 0:
                return None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self._pubsub.unsubscribe()
        with contextlib.suppress(Exception):
            await asyncio.shield(self._pubsub.aclose())


class RedisLiveQueryStore:
    # A campaign started by another process reaches this one's check-ins within cache_seconds; a
    # host checking in meanwhile is asked one distributed interval later, which is a campaign's
    # tail. A quarter second costs a refresh (SMEMBERS, and one GET per campaign) 4 times a second.
    def __init__(self, redis_client: redis.asyncio.Redis, *, cache_seconds: float = 0.25) -> None:
        self._redis = redis_client
        self._target = redis_client.register_script(TARGET_SCRIPT)
        self._cache_seconds = cache_seconds
        self._active: dict[int, str] = {}
        self._fresh_until = 0.0
        self._refreshing: asyncio.Future[dict[int, str]] | None = None

    async def start(self, campaign_id: int, sql: str, host_ids: Sequence[int]) -> None:
        ids = sorted(set(host_ids))
        member = str(campaign_id)
        try:
            await self._redis.set(sql_key(campaign_id), sql, ex=EXPIRY_SECONDS)
            for start in range(0, len(ids), PIPELINE_CHUNK):
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.scripts.add(self._target)  # type: ignore[arg-type]  # loaded by the pipeline if Redis lacks it
                    for host_id in ids[start:start + PIPELINE_CHUNK]:
                        pipe.evalsha(self._target.sha, 1, pending_key(host_id), member, EXPIRY_SECONDS)
                    await pipe.execute()
            # Last: once active, the campaign is asked of hosts whose sets are all written.
            await self._redis.sadd(ACTIVE_KEY, member)
        except RedisError as exc:
            raise Unavailable("live query store unavailable") from exc
        self._fresh_until = 0.0

    async def stop(self, campaign_ids: Sequence[int]) -> None:
        if not campaign_ids:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for campaign_id in campaign_ids:
                    pipe.delete(sql_key(campaign_id))
                pipe.srem(ACTIVE_KEY, *[str(c) for c in campaign_ids])
                await pipe.execute()
        except RedisError as exc:
            raise Unavailable("live query store unavailable") from exc
        self._fresh_until = 0.0

    async def queries_for_host(self, host_id: int) -> dict[int, str]:
        active = await self._active_queries()
        if not active:
            return {}
        try:
            members = await self._redis.smembers(pending_key(host_id))
            pending = {int(m) for m in members if m.isdigit()}
            unknown = sorted(pending - active.keys())
            if unknown:
                # Ended campaigns, or ones started after this process's cache was filled.
                still = await self._redis.smismember(ACTIVE_KEY, [str(c) for c in unknown])
                ended = [str(c) for c, is_active in zip(unknown, still, strict=True) if not is_active]
                if ended:
                    await self._redis.srem(pending_key(host_id), *ended)
        except RedisError as exc:
            raise Unavailable("live query store unavailable") from exc
        return {cid: active[cid] for cid in sorted(pending) if cid in active}

    async def _active_queries(self) -> dict[int, str]:
        if time.monotonic() < self._fresh_until:
            return self._active
        # One refresh at a time: every check-in arriving meanwhile waits for it (no SMEMBERS storm).
        if self._refreshing is not None:
            return await asyncio.shield(self._refreshing)
        future: asyncio.Future[dict[int, str]] = asyncio.get_running_loop().create_future()
        self._refreshing = future
        try:
            active = await self._load_active()
            self._active, self._fresh_until = active, time.monotonic() + self._cache_seconds
            future.set_result(active)
            return active
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # waiters get it; none waiting must not warn
            raise
        finally:
            self._refreshing = None

    async def _load_active(self) -> dict[int, str]:
        try:
            members = await self._redis.smembers(ACTIVE_KEY)
            ids = sorted(int(m) for m in members if m.isdigit())
            if not ids:
                return {}
            async with self._redis.pipeline(transaction=False) as pipe:
                for campaign_id in ids:
                    pipe.get(sql_key(campaign_id))
                sqls = await pipe.execute()
            expired = [cid for cid, sql in zip(ids, sqls, strict=True) if sql is None]
            if expired:
                await self._redis.srem(ACTIVE_KEY, *[str(c) for c in expired])
        except RedisError as exc:
            raise Unavailable("live query store unavailable") from exc
        return {cid: sql.decode() if isinstance(sql, bytes) else str(sql)
                for cid, sql in zip(ids, sqls, strict=True) if sql is not None}

    async def answered(self, campaign_id: int, host_id: int) -> None:
        try:
            await self._redis.srem(pending_key(host_id), str(campaign_id))
        except RedisError as exc:
            raise Unavailable("live query store unavailable") from exc

    async def active_ids(self) -> builtins.list[int]:
        try:
            members = await self._redis.smembers(ACTIVE_KEY)
        except RedisError as exc:
            raise Unavailable("live query store unavailable") from exc
        return sorted(int(m) for m in members if m.isdigit())

    async def publish(self, result: LiveResult) -> bool:
        try:
            receivers = await self._redis.publish(channel(result.campaign_id), encode_result(result))
        except RedisError as exc:
            raise Unavailable("live query results unavailable") from exc
        return bool(receivers)

    async def subscribe(self, campaign_id: int) -> RedisResultSubscription:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(channel(campaign_id))
            # Wait for the confirmation, so that a result published after this returns is received.
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                message = await pubsub.get_message(timeout=deadline - time.monotonic())
                if message is not None and message.get("type") == "subscribe":
                    return RedisResultSubscription(pubsub, campaign_id)
            raise Unavailable("live query results unavailable: no subscription confirmation")
        except (RedisError, OSError) as exc:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise Unavailable("live query results unavailable") from exc
        except Unavailable:
            with contextlib.suppress(Exception):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            raise

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False
