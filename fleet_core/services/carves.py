"""File carving: agents open a carve session (carve/begin, node-key authenticated) and post its
blocks in order (carve/block, authenticated by session_id and request_id); admins and maintainers
(team ones for their teams' hosts) read the carves and their blocks; a day after its first block a
carve expires and loses its blocks.

A block goes to the CarveStore first and is acknowledged in the repository (max_block, its sha256)
afterwards: when the store fails the agent gets a 5xx and retries, and when the acknowledgement
fails the retry rewrites the same block. A retried block identical to the acknowledged one is
accepted again; different bytes for it are refused.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import datetime as dt
import hashlib
import uuid
from typing import Any

import attrs
import structlog

from fleet_core.authz import WRITERS, Action, Viewer, authorize
from fleet_core.errors import BadRequest, FleetError, NotFound, PermissionDenied, Unavailable
from fleet_core.model.carves import Carve, NewCarve
from fleet_core.model.hosts import HostIdentity
from fleet_core.model.runtime import CarveSettings
from fleet_core.ports import CarveRepository, CarveStore, Clock, UnitOfWorkFactory
from fleet_core.rules.campaigns import campaign_id_of
from fleet_core.rules.carves import MAX_ID_LENGTH, begin_problem, carve_name, parse_after
from fleet_core.rules.paging import ListOptions
from fleet_core.services.activities import record_activity

log = structlog.get_logger(__name__)

# Fleet keeps carve data for a day (CleanupCarves) and expires at most this many per pass.
CARVE_TTL = dt.timedelta(hours=24)
EXPIRE_BATCH = 50_000
# Blocks whose base64 is longer than this are decoded and hashed off the event loop.
ON_LOOP_BLOCK = 64 * 1024
# Fleet has no activity for carves; this one is recorded when a carve's last block is acknowledged.
CARVE_COMPLETED_ACTIVITY = "completed_file_carve"


class CarveRejected(FleetError):
    """carve/begin refused the session; osquery reads it as an osquery error (HTTP 400)."""


class CarveBlockRejected(FleetError):
    """carve/block refused a block (HTTP 400 with ``error``); osquery logs it and moves on."""


class CarveSessionUnknown(CarveBlockRejected):
    """No carve has this session_id, or the request_id does not match it."""


@attrs.frozen
class CarveBegin:
    """A carve/begin payload, as osquery's carver sends it."""

    block_count: int
    block_size: int
    carve_size: int
    carve_id: str
    request_id: str


def _decode_and_digest(data: str) -> tuple[bytes, bytes]:
    raw = decode_block(data)
    return raw, hashlib.sha256(raw).digest()


def decode_block(data: str) -> bytes:
    """The raw bytes of a block's base64 text.

    Raises:
        CarveBlockRejected: not valid (padded, standard-alphabet) base64.
    """
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise CarveBlockRejected("data is not valid base64") from None


class NoCarveStore:
    """The store of a server assembled without one: every block is refused as unavailable."""

    async def put_block(self, carve: Carve, block_id: int, data: bytes) -> None:
        raise Unavailable("no carve store is configured")

    async def get_block(self, carve: Carve, block_id: int) -> bytes | None:
        raise Unavailable("no carve store is configured")

    async def delete(self, carve: Carve) -> None:
        raise Unavailable("no carve store is configured")


@attrs.frozen
class CarveService:
    uow: UnitOfWorkFactory
    clock: Clock
    store: CarveStore = attrs.field(factory=NoCarveStore)
    limits: CarveSettings = attrs.field(factory=CarveSettings)

    # ---- agents ----------------------------------------------------------------------------------

    async def begin(self, host: HostIdentity, payload: CarveBegin) -> Carve:
        """Open a carve session for the (node-key authenticated) host.

        A live query campaign carves a host's file once: while the campaign waits for a
        listener, osqueryd is asked the query again and every run of a carves query starts another
        carve of the same file, so a second carve/begin of the host for the campaign is refused
        (osqueryd logs the refusal and uploads nothing more).

        Raises:
            CarveRejected: sizes that do not describe a sound carve, ids too long to store, or a
                second carve of the host for the same live query campaign.
        """
        problem = begin_problem(payload.block_count, payload.block_size, payload.carve_size,
                                max_block_size=self.limits.max_block_size, max_carve_size=self.limits.max_carve_size)
        if problem is None and not (0 < len(payload.carve_id) <= MAX_ID_LENGTH):
            problem = f"carve_id must be 1 to {MAX_ID_LENGTH} characters"
        if problem is None and not (0 < len(payload.request_id) <= MAX_ID_LENGTH):
            problem = f"request_id must be 1 to {MAX_ID_LENGTH} characters"
        if problem is not None:
            log.info("carve_begin_rejected", host_id=host.id, reason=problem)
            raise CarveRejected(problem)
        now = self.clock.now()
        new = NewCarve(
            host_id=host.id, created_at=now, name=carve_name(host.hostname, now, payload.request_id),
            block_count=payload.block_count, block_size=payload.block_size, carve_size=payload.carve_size,
            carve_id=payload.carve_id, request_id=payload.request_id, session_id=str(uuid.uuid4()),
        )
        async with self.uow() as uow:
            if campaign_id_of(payload.request_id) is not None and (
                    await uow.carves.for_host_request(host.id, payload.request_id)) is not None:
                log.info("carve_begin_rejected", host_id=host.id, reason="already carved for this live query")
                raise CarveRejected(f"this host already carved a file for {payload.request_id}; "
                                    "start a new live query to carve it again")
            carve = await uow.carves.add(new)
            await uow.commit()
        log.info("carve_begun", carve_id=carve.id, host_id=host.id, block_count=carve.block_count)
        return carve

    async def block(self, *, session_id: str, request_id: str, block_id: int, data: str) -> None:
        """Store one block of a carve session. The session_id and a matching request_id are the
        only credentials; once they match, every refusal is recorded as the carve's error.

        Raises:
            CarveSessionUnknown: no such session, or the request_id does not match it.
            CarveBlockRejected: invalid base64, an expired carve, a block out of range or out of
                order, different bytes for an acknowledged block, or more bytes than the declared
                block size.
            Unavailable: the store or the database failed; nothing was acknowledged, retry.
        """
        if len(data) > ON_LOOP_BLOCK:
            # Megabytes of base64 and hashing would hold the event loop (and every check-in) up.
            raw, digest = await asyncio.to_thread(_decode_and_digest, data)
        else:
            raw, digest = _decode_and_digest(data)
        async with self.uow() as uow:
            carve = await uow.carves.get_by_session(session_id) if session_id else None
            # Either mismatch is the same answer: no hint which half of the credential was right.
            if carve is None or carve.request_id != request_id:
                raise CarveSessionUnknown("no carve session matches session_id and request_id")
            stored = await uow.carves.block_digest(carve.id, block_id) if 0 <= block_id <= carve.max_block else None
        problem = _block_problem(carve, block_id, len(raw), stored, digest)
        if problem is None and stored is None:
            # Stored first, acknowledged second: a failure in between leaves a block the retry overwrites.
            await self.store.put_block(carve, block_id, raw)
            async with self.uow() as uow:
                if not await uow.carves.claim_block(carve.id, block_id, digest, self.clock.now()):
                    # Another request acknowledged this block between the read and the write.
                    if await uow.carves.block_digest(carve.id, block_id) != digest:
                        problem = f"block_id does not match expected block: {block_id}"
                elif block_id == carve.block_count - 1:
                    await record_activity(uow, None, CARVE_COMPLETED_ACTIVITY, _activity_details(carve),
                                          self.clock.now())
                await uow.commit()
            if problem is None and block_id == carve.block_count - 1:
                log.info("carve_completed", carve_id=carve.id, host_id=carve.host_id, carve_size=carve.carve_size)
        if problem is not None:
            async with self.uow() as uow:
                await uow.carves.set_error(carve.id, problem)
                await uow.commit()
            log.info("carve_block_rejected", carve_id=carve.id, block_id=block_id, reason=problem)
            raise CarveBlockRejected(problem)

    # ---- users -----------------------------------------------------------------------------------

    async def list(self, viewer: Viewer, options: ListOptions, *, expired: bool = False,
                   after: str | None = None) -> builtins.list[Carve]:
        """Carves, unexpired ones only unless ``expired``; a team user's only of their teams' hosts.

        Raises:
            PermissionDenied: the viewer is an observer (globally or on every team).
            InvalidArgument: ``after`` without order_key or not of the key's type.
        """
        teams = _readable_teams(viewer)
        bound: Any = parse_after(options.order_key, after)
        async with self.uow() as uow:
            return await uow.carves.list(options, expired=expired, after=bound, team_ids=teams)

    async def get(self, viewer: Viewer, carve_id: int) -> Carve:
        """One carve, expired or not.

        Raises:
            PermissionDenied: the viewer may not read this carve.
            NotFound: no such carve.
        """
        async with self.uow() as uow:
            return await self._readable(uow.carves, viewer, carve_id)

    async def get_block(self, viewer: Viewer, carve_id: int, block_id: int) -> bytes:
        """The raw bytes of one block.

        Raises:
            PermissionDenied: the viewer may not read this carve.
            NotFound: no such carve, or no such block.
            BadRequest: the carve has expired, or the block is not available yet.
            Unavailable: the store failed.
        """
        async with self.uow() as uow:
            carve = await self._readable(uow.carves, viewer, carve_id)
        if carve.expired:
            raise BadRequest("cannot get block for expired carve", name="id")
        if block_id < 0 or block_id >= carve.block_count:
            raise NotFound(f"Block {block_id} of carve with id={carve_id} was not found in the datastore")
        if block_id > carve.max_block:
            raise BadRequest(f"block {block_id} not yet available", name="block_id")
        data = await self.store.get_block(carve, block_id)
        if data is None and carve.max_block < carve.block_count - 1:
            # A store that reads only finished carves (S3 multipart) has nothing to serve yet.
            raise BadRequest(f"block {block_id} not yet available: the carve is not complete", name="block_id")
        if data is None:
            raise NotFound(f"Block {block_id} of carve with id={carve_id} was not found in the datastore")
        return data

    async def _readable(self, carves: CarveRepository, viewer: Viewer, carve_id: int) -> Carve:
        _readable_teams(viewer)  # an observer learns nothing, not even which ids exist
        carve = await _require(carves, carve_id)
        if viewer.user.global_role is None:
            # A team role reaches the carves of its teams' hosts; a host without a team, none.
            team = await carves.host_team(carve_id)
            authorize(viewer, Action.READ_CARVES, team_ids=[] if team is None else [team])
        return carve

    # ---- background ------------------------------------------------------------------------------

    async def expire(self) -> int:
        """Expire carves whose first block came more than a day ago (or that began more than a day
        ago without one), at most EXPIRE_BATCH per call: their blocks are deleted from the store,
        then they are marked expired; how many expired. A store failure leaves the rest for the
        next pass, so no block outlives its carve unnoticed."""
        cutoff = self.clock.now() - CARVE_TTL
        async with self.uow() as uow:
            due = await uow.carves.due_for_expiry(before=cutoff, limit=EXPIRE_BATCH)
        deleted: builtins.list[int] = []
        try:
            for carve in due:
                await self.store.delete(carve)
                deleted.append(carve.id)
        finally:
            if deleted:
                async with self.uow() as uow:
                    count = await uow.carves.mark_expired(deleted)
                    await uow.commit()
                log.info("carves_expired", count=count)
        return len(deleted)


def _readable_teams(viewer: Viewer) -> frozenset[int] | None:
    """The teams whose hosts' carves the viewer reads (None: all).

    Raises:
        PermissionDenied: the viewer reads no carves at all (observers).
    """
    user = viewer.user
    if user.global_role is not None:
        authorize(viewer, Action.READ_CARVES)
        return None
    teams = frozenset(m.team_id for m in user.teams if m.role in WRITERS)
    if not teams:
        raise PermissionDenied("forbidden")
    return teams


def _activity_details(carve: Carve) -> dict[str, Any]:
    return {"carve_id": carve.id, "carve_name": carve.name, "host_id": carve.host_id,
            "carve_size": carve.carve_size, "request_id": carve.request_id}


def _block_problem(carve: Carve, block_id: int, size: int, stored: bytes | None, digest: bytes) -> str | None:
    """Why this block may not be stored now (Fleet's messages), or None (``stored`` is the digest
    of the acknowledged block of that id, if any: then None means an identical retry)."""
    if carve.expired:
        return "carve has expired"
    if block_id < 0 or block_id > carve.block_count - 1:
        return f"block_id exceeds expected max ({carve.block_count - 1}): {block_id}"
    if size > carve.block_size:
        return f"exceeded declared block size {carve.block_size}: {size}"
    if stored is not None:
        return None if stored == digest else f"block {block_id} was already stored with different data"
    if block_id != carve.max_block + 1:
        return f"block_id does not match expected block ({carve.max_block + 1}): {block_id}"
    # Every block but the last is whole and the last holds the rest, so the blocks add up to
    # carve_size and block n starts at n * block_size (what ranged reads of a stored carve rely on).
    expected = carve.block_size if block_id < carve.block_count - 1 else (
        carve.carve_size - (carve.block_count - 1) * carve.block_size)
    if size != expected:
        return f"block {block_id} must be {expected} bytes: {size}"
    return None


async def _require(carves: CarveRepository, carve_id: int) -> Carve:
    carve = await carves.get(carve_id)
    if carve is None:
        raise NotFound(f"Carve with id={carve_id} was not found in the datastore")
    return carve
