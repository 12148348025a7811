"""File carving: agents open a carve session (carve/begin, node-key authenticated) and post its
blocks strictly in order (carve/block, authenticated by session_id and request_id); global admins
read the carves and their blocks; carves older than a day expire and lose their blocks.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import datetime as dt
import uuid
from typing import Any

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize
from fleet_core.errors import BadRequest, FleetError, NotFound
from fleet_core.model.carves import Carve, NewCarve
from fleet_core.model.hosts import Host
from fleet_core.ports import CarveRepository, Clock, UnitOfWorkFactory
from fleet_core.rules.carves import MAX_ID_LENGTH, begin_problem, carve_name, parse_after
from fleet_core.rules.paging import ListOptions

log = structlog.get_logger(__name__)

# Fleet keeps carve data for a day (CleanupCarves) and expires at most this many per pass.
CARVE_TTL = dt.timedelta(hours=24)
EXPIRE_BATCH = 50_000


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


def decode_block(data: str) -> bytes:
    """The raw bytes of a block's base64 text.

    Raises:
        CarveBlockRejected: not valid (padded, standard-alphabet) base64.
    """
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise CarveBlockRejected("data is not valid base64") from None


@attrs.frozen
class CarveService:
    uow: UnitOfWorkFactory
    clock: Clock

    # ---- agents ----------------------------------------------------------------------------------

    async def begin(self, host: Host, payload: CarveBegin) -> Carve:
        """Open a carve session for the (node-key authenticated) host.

        Raises:
            CarveRejected: sizes that do not describe a sound carve, or ids too long to store.
        """
        problem = begin_problem(payload.block_count, payload.block_size, payload.carve_size)
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
                order, or more bytes than the declared block size.
        """
        raw = decode_block(data)
        async with self.uow() as uow:
            carve = await uow.carves.get_by_session(session_id) if session_id else None
            # Either mismatch is the same answer: no hint which half of the credential was right.
            if carve is None or carve.request_id != request_id:
                raise CarveSessionUnknown("no carve session matches session_id and request_id")
            problem = _block_problem(carve, block_id, len(raw))
            if problem is None and not await uow.carves.append_block(carve.id, block_id, raw):
                # Another request stored this block between the read and the write.
                problem = f"block_id does not match expected block: {block_id}"
            if problem is not None:
                await uow.carves.set_error(carve.id, problem)
                await uow.commit()
                log.info("carve_block_rejected", carve_id=carve.id, block_id=block_id, reason=problem)
                raise CarveBlockRejected(problem)
            await uow.commit()

    # ---- users -----------------------------------------------------------------------------------

    async def list(self, viewer: Viewer, options: ListOptions, *, expired: bool = False,
                   after: str | None = None) -> builtins.list[Carve]:
        """Carves, unexpired ones only unless ``expired``.

        Raises:
            PermissionDenied: the viewer is no global admin.
            InvalidArgument: ``after`` without order_key or not of the key's type.
        """
        authorize(viewer, Action.READ_CARVES)
        bound: Any = parse_after(options.order_key, after)
        async with self.uow() as uow:
            return await uow.carves.list(options, expired=expired, after=bound)

    async def get(self, viewer: Viewer, carve_id: int) -> Carve:
        """One carve, expired or not.

        Raises:
            PermissionDenied: the viewer is no global admin.
            NotFound: no such carve.
        """
        authorize(viewer, Action.READ_CARVES)
        async with self.uow() as uow:
            return await _require(uow.carves, carve_id)

    async def get_block(self, viewer: Viewer, carve_id: int, block_id: int) -> bytes:
        """The raw bytes of one block.

        Raises:
            PermissionDenied: the viewer is no global admin.
            NotFound: no such carve, or no such block.
            BadRequest: the carve has expired, or the block has not arrived yet.
        """
        authorize(viewer, Action.READ_CARVES)
        async with self.uow() as uow:
            carve = await _require(uow.carves, carve_id)
            if carve.expired:
                raise BadRequest("cannot get block for expired carve", name="id")
            if block_id < 0 or block_id >= carve.block_count:
                raise NotFound(f"Block {block_id} of carve with id={carve_id} was not found in the datastore")
            if block_id > carve.max_block:
                raise BadRequest(f"block {block_id} not yet available", name="block_id")
            data = await uow.carves.block(carve_id, block_id)
        if data is None:
            raise NotFound(f"Block {block_id} of carve with id={carve_id} was not found in the datastore")
        return data

    # ---- background ------------------------------------------------------------------------------

    async def expire(self) -> int:
        """Expire carves created more than a day ago (at most EXPIRE_BATCH per call), deleting
        their blocks; how many expired."""
        cutoff = self.clock.now() - CARVE_TTL
        async with self.uow() as uow:
            count = await uow.carves.expire(created_before=cutoff, limit=EXPIRE_BATCH)
            await uow.commit()
        if count:
            log.info("carves_expired", count=count)
        return count


def _block_problem(carve: Carve, block_id: int, size: int) -> str | None:
    """Why this block may not be stored now (Fleet's messages), or None."""
    if carve.expired:
        return "carve has expired"
    if block_id > carve.block_count - 1:
        return f"block_id exceeds expected max ({carve.block_count - 1}): {block_id}"
    if block_id != carve.max_block + 1:
        return f"block_id does not match expected block ({carve.max_block + 1}): {block_id}"
    if size > carve.block_size:
        return f"exceeded declared block size {carve.block_size}: {size}"
    return None


async def _require(carves: CarveRepository, carve_id: int) -> Carve:
    carve = await carves.get(carve_id)
    if carve is None:
        raise NotFound(f"Carve with id={carve_id} was not found in the datastore")
    return carve
