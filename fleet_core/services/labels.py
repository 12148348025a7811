"""Labels: custom dynamic labels (a query run on each host) and manual labels (a list of hosts).

Built-in labels exist from the first start and are read-only. A new or edited dynamic label
reaches agents through AgentService's short-lived label cache, so it is asked on each host's
next label check-in; manual labels are never sent to agents.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import Any

import attrs
import structlog

from fleet_core.authz import Action, Viewer, authorize, visible_team_ids
from fleet_core.errors import AlreadyExists, InvalidArgument, NotFound
from fleet_core.model.hosts import HostFilter, Label
from fleet_core.model.unset import UNSET_FIELD
from fleet_core.ports import Clock, InvalidationBus, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions
from fleet_core.services.activities import record_activity
from fleet_core.services.agents import announce_config_change

log = structlog.get_logger(__name__)

MAX_LABEL_NAME_LENGTH = 255
# Fleet's choices; "" targets every platform.
LABEL_PLATFORMS = frozenset({"", "darwin", "windows", "ubuntu", "centos"})
BUILTIN_REASON = "cannot modify or delete a built-in label"


@attrs.frozen
class LabelView:
    """A label as the API shows it: the stored label, its host count and, if manual, its hosts."""

    label: Label
    host_count: int
    host_ids: tuple[int, ...] | None = None


@attrs.frozen
class LabelChanges:
    """A PATCH: every field left as UNSET_FIELD stays as it is."""

    name: Any = UNSET_FIELD
    description: Any = UNSET_FIELD
    query: Any = UNSET_FIELD
    platform: Any = UNSET_FIELD
    host_ids: Any = UNSET_FIELD


def checked_label_name(name: str) -> str:
    """The name trimmed. Raises InvalidArgument (``name``) if blank or too long."""
    stripped = name.strip()
    if not stripped:
        raise InvalidArgument(("name", "may not be empty"))
    if len(stripped) > MAX_LABEL_NAME_LENGTH:
        raise InvalidArgument(("name", f"must be at most {MAX_LABEL_NAME_LENGTH} characters"))
    return stripped


def checked_label_platform(platform: str) -> str:
    """Raises InvalidArgument (``platform``) unless one of LABEL_PLATFORMS."""
    if platform not in LABEL_PLATFORMS:
        raise InvalidArgument(("platform", "must be one of darwin, windows, ubuntu, centos or empty"))
    return platform


def checked_label_query(query: str) -> str:
    """Raises InvalidArgument (``query``) if blank."""
    if not query.strip():
        raise InvalidArgument(("query", "may not be empty"))
    return query


def require_regular(label: Label) -> None:
    """Raises InvalidArgument (``label``) for a built-in label, which nobody may change."""
    if label.label_type == "builtin":
        raise InvalidArgument(("label", BUILTIN_REASON))


async def record_label_activity(uow: UnitOfWork, viewer: Viewer, type_: str, label: Label, at: dt.datetime) -> None:
    """Record created_label / edited_label ({label_id, label_name}) or deleted_label ({label_name})."""
    details: dict[str, Any] = {"label_name": label.name}
    if type_ != "deleted_label":
        details = {"label_id": label.id, **details}
    await record_activity(uow, viewer.user, type_, details, at)


@attrs.frozen
class LabelService:
    uow: UnitOfWorkFactory
    clock: Clock
    bus: InvalidationBus

    async def _announce(self) -> None:
        await announce_config_change(self.bus)

    async def create(self, viewer: Viewer, *, name: str, description: str = "", query: str | None = None,
                     platform: str = "", host_ids: Sequence[int] | None = None) -> LabelView:
        """Create a dynamic label (``query``) or, with ``host_ids``, a manual one; records ``created_label``.

        Raises:
            InvalidArgument: blank name, unknown platform, both or neither of query and host_ids,
                or an unknown host id.
            AlreadyExists: another label has the name.
        """
        authorize(viewer, Action.WRITE_LABELS)
        name = checked_label_name(name)
        platform = checked_label_platform(platform)
        if host_ids is not None and query:
            raise InvalidArgument(("query", "a manual label (host_ids) has no query"))
        if host_ids is None:
            query = checked_label_query(query or "")
        async with self.uow() as uow:
            await _require_free_name(uow, name)
            now = self.clock.now()
            label = await uow.labels.add(name=name, description=description, query=query or "", platform=platform,
                                         membership_type="dynamic" if host_ids is None else "manual", at=now)
            if host_ids is not None:
                await uow.labels.set_members(label.id, await _checked_hosts(uow, host_ids, now), now)
            await record_label_activity(uow, viewer, "created_label", label, now)
            view = await self._view(uow, viewer, label)
            await uow.commit()
        await self._announce()
        log.info("label_created", label_id=label.id, membership=label.label_membership_type)
        return view

    async def modify(self, viewer: Viewer, label_id: int, changes: LabelChanges) -> LabelView:
        """Apply a PATCH and record ``edited_label``. Changing a dynamic label's query or platform
        drops its memberships, so every host answers the new query on its next label check-in.

        Raises:
            NotFound: no such label.
            InvalidArgument: a built-in label, a bad field, host_ids on a dynamic label or a
                query on a manual one.
            AlreadyExists: another label has the new name.
        """
        authorize(viewer, Action.WRITE_LABELS)
        async with self.uow() as uow:
            label = await _require(uow, label_id)
            require_regular(label)
            manual = label.label_membership_type == "manual"
            if manual and changes.query is not UNSET_FIELD and changes.query:
                raise InvalidArgument(("query", "a manual label has no query"))
            if not manual and changes.host_ids is not UNSET_FIELD:
                raise InvalidArgument(("host_ids", "only manual labels have a list of hosts"))
            name = label.name if changes.name is UNSET_FIELD else checked_label_name(changes.name)
            description = label.description if changes.description is UNSET_FIELD else changes.description
            query = label.query if changes.query is UNSET_FIELD or manual else checked_label_query(changes.query)
            platform = label.platform if changes.platform is UNSET_FIELD else checked_label_platform(changes.platform)
            if name != label.name:
                await _require_free_name(uow, name)
            now = self.clock.now()
            updated = await uow.labels.update(label_id, name=name, description=description, query=query,
                                              platform=platform, at=now)
            if changes.host_ids is not UNSET_FIELD:
                await uow.labels.set_members(label_id, await _checked_hosts(uow, changes.host_ids, now), now)
            await record_label_activity(uow, viewer, "edited_label", updated, now)
            view = await self._view(uow, viewer, updated)
            await uow.commit()
        await self._announce()
        log.info("label_modified", label_id=label_id)
        return view

    async def get(self, viewer: Viewer, label_id: int) -> LabelView:
        """One label. Raises NotFound if there is no such label."""
        authorize(viewer, Action.READ_LABELS)
        async with self.uow() as uow:
            return await self._view(uow, viewer, await _require(uow, label_id))

    async def list(self, viewer: Viewer, options: ListOptions) -> builtins.list[LabelView]:
        """Labels paged and ordered (LABEL_ORDER_KEYS), with host counts the viewer may see."""
        authorize(viewer, Action.READ_LABELS)
        async with self.uow() as uow:
            labels = await uow.labels.list(options)
            # One count for the whole page rather than one per label.
            counts = await uow.host_inventory.count_by_label([label.id for label in labels],
                                                             visible_team_ids=visible_team_ids(viewer.user))
            return [await self._view(uow, viewer, label, count=counts[label.id]) for label in labels]

    async def summary(self, viewer: Viewer) -> builtins.list[Label]:
        """Every label, by id."""
        authorize(viewer, Action.READ_LABELS)
        found: builtins.list[Label] = []
        async with self.uow() as uow:
            page = 0
            while True:
                batch = await uow.labels.list(ListOptions(page=page, per_page=500))
                found.extend(batch)
                if len(batch) < 500:
                    return found
                page += 1

    async def delete(self, viewer: Viewer, label_id: int) -> None:
        """Delete a regular label with its memberships and record ``deleted_label``.

        Raises:
            NotFound: no such label.
            InvalidArgument: a built-in label.
        """
        authorize(viewer, Action.WRITE_LABELS)
        async with self.uow() as uow:
            label = await _require(uow, label_id)
            await self._delete(uow, viewer, label)
            await uow.commit()
        await self._announce()
        log.info("label_deleted", label_id=label_id)

    async def delete_by_name(self, viewer: Viewer, name: str) -> None:
        """Delete the regular label with exactly this name; NotFound or InvalidArgument as delete()."""
        authorize(viewer, Action.WRITE_LABELS)
        async with self.uow() as uow:
            label = await uow.labels.get_by_name(name)
            if label is None:
                raise NotFound(f"Label with name={name} was not found in the datastore")
            await self._delete(uow, viewer, label)
            await uow.commit()
        await self._announce()
        log.info("label_deleted", label_id=label.id)

    async def _delete(self, uow: UnitOfWork, viewer: Viewer, label: Label) -> None:
        require_regular(label)
        await uow.labels.delete(label.id)
        await record_label_activity(uow, viewer, "deleted_label", label, self.clock.now())

    async def _view(self, uow: UnitOfWork, viewer: Viewer, label: Label, *, count: int | None = None) -> LabelView:
        filters = HostFilter(label_id=label.id, visible_team_ids=visible_team_ids(viewer.user))
        if count is None:
            count = await uow.host_inventory.count(filters, now=self.clock.now())
        host_ids = None
        if label.label_membership_type == "manual":
            host_ids = tuple(await uow.host_inventory.ids(filters, now=self.clock.now()))
        return LabelView(label=label, host_count=count, host_ids=host_ids)


async def _require(uow: UnitOfWork, label_id: int) -> Label:
    label = await uow.labels.get(label_id)
    if label is None:
        raise NotFound(f"Label with id={label_id} was not found in the datastore")
    return label


async def _require_free_name(uow: UnitOfWork, name: str) -> None:
    if await uow.labels.get_by_name(name) is not None:
        raise AlreadyExists(f"a label named {name} already exists")


async def _checked_hosts(uow: UnitOfWork, host_ids: Sequence[int], now: dt.datetime) -> builtins.list[int]:
    wanted = sorted(set(host_ids))
    if not wanted:
        return []
    found = set(await uow.host_inventory.ids(HostFilter(ids=frozenset(wanted)), now=now))
    missing = [host_id for host_id in wanted if host_id not in found]
    if missing:
        raise InvalidArgument(("host_ids", f"unknown host ids: {', '.join(map(str, missing))}"))
    return wanted
