"""Targets: searching hosts, labels and teams to run a query on, counting what a selection
reaches, and translating names into ids.

Anyone logged in may search; what they find is limited to the hosts they may target
(fleet_core.rules.targets.target_team_filter): an observer role counts only when the request
says observers may run the query (``include_observer``) or names a saved query whose
``observer_can_run`` is set.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence

import attrs

from fleet_core.authz import Action, Viewer, authorize, visible_team_ids
from fleet_core.errors import BadRequest, InvalidArgument, NotFound
from fleet_core.model.hosts import Host, Label
from fleet_core.model.teams import Team, TeamCounts
from fleet_core.ports import Clock, TokenGenerator, UnitOfWork, UnitOfWorkFactory
from fleet_core.rules.paging import ListOptions
from fleet_core.rules.targets import TargetSelection, is_visible, target_team_filter

# Fleet's host search returns at most ten hosts.
SEARCH_LIMIT = 10
TRANSLATE_TYPES = ("user", "label", "team", "host")


@attrs.frozen
class TargetMetrics:
    """How many of the targeted hosts are online, offline (missing ones included) and missing."""

    total: int = 0
    online: int = 0
    offline: int = 0
    missing_in_action: int = 0


@attrs.frozen
class LabelTarget:
    label: Label
    # The label's hosts the viewer may target.
    count: int


@attrs.frozen
class TeamTarget:
    team: Team
    user_count: int
    host_count: int


@attrs.frozen
class TargetSearch:
    hosts: list[Host]
    labels: list[LabelTarget]
    teams: list[TeamTarget]
    metrics: TargetMetrics
    # The moment the hosts' statuses (online, offline) are judged against.
    as_of: dt.datetime


@attrs.frozen
class HostSearch:
    """POST /hosts/search: the hosts found."""

    hosts: list[Host]
    # The moment the hosts' statuses (online, offline) are judged against.
    as_of: dt.datetime


@attrs.frozen
class TranslateItem:
    type: str
    identifier: str


@attrs.frozen
class TargetService:
    uow: UnitOfWorkFactory
    clock: Clock
    tokens: TokenGenerator

    async def search_targets(self, viewer: Viewer, text: str, selected: TargetSelection, *,
                             query_id: int | None = None, include_observer: bool = False) -> TargetSearch:
        """Hosts (up to SEARCH_LIMIT, the selected ones left out), labels and teams whose names
        contain ``text``, and the metrics of what ``selected`` targets.

        Raises:
            NotFound: ``query_id`` names no saved query.
            PermissionDenied: the saved query belongs to a team the viewer is not on.
        """
        authorize(viewer, Action.READ_HOSTS)
        text = text.strip()
        async with self.uow() as uow:
            visible = await self._visibility(uow, viewer, query_id, include_observer)
            hosts = await uow.host_inventory.search(text, excluded_ids=selected.host_ids, limit=SEARCH_LIMIT,
                                                    visible_team_ids=visible)
            labels = await self._labels(uow, viewer, text, selected, visible)
            teams = await self._teams(uow, text, selected, visible)
            metrics = await self._metrics(uow, selected, visible)
        return TargetSearch(hosts=hosts, labels=labels, teams=teams, metrics=metrics, as_of=self.clock.now())

    async def search_hosts(self, viewer: Viewer, text: str, *, excluded_host_ids: Sequence[int] = (),
                           query_id: int | None = None, include_observer: bool = False) -> HostSearch:
        """Up to SEARCH_LIMIT hosts the viewer may target matching ``text`` (hostname, computer
        name, uuid, serial or IP); with no text, the most recently seen. Raises as search_targets."""
        authorize(viewer, Action.READ_HOSTS)
        async with self.uow() as uow:
            visible = await self._visibility(uow, viewer, query_id, include_observer)
            hosts = await uow.host_inventory.search(text.strip(), excluded_ids=frozenset(excluded_host_ids),
                                                    limit=SEARCH_LIMIT, visible_team_ids=visible)
        return HostSearch(hosts=hosts, as_of=self.clock.now())

    async def count_targets(self, viewer: Viewer, selected: TargetSelection, *, query_id: int | None = None,
                            include_observer: bool = False) -> TargetMetrics:
        """The metrics of the hosts ``selected`` reaches that the viewer may target. Raises as
        search_targets."""
        authorize(viewer, Action.READ_HOSTS)
        async with self.uow() as uow:
            visible = await self._visibility(uow, viewer, query_id, include_observer)
            return await self._metrics(uow, selected, visible)

    async def resolve(self, viewer: Viewer, selected: TargetSelection, *,
                      include_observer: bool = False) -> builtins.list[int]:
        """The ids (ascending) of the hosts a live query on ``selected`` runs on.

        Raises:
            BadRequest: no host is targeted.
        """
        authorize(viewer, Action.READ_HOSTS)
        async with self.uow() as uow:
            visible = target_team_filter(viewer.user, include_observer=include_observer)
            host_ids = await uow.host_inventory.target_host_ids(selected, visible_team_ids=visible)
        if not host_ids:
            raise BadRequest("no hosts targeted", name="selected")
        return host_ids

    async def translate(self, viewer: Viewer, items: Sequence[TranslateItem]) -> builtins.list[int]:
        """The id of each item's user (by email), label, team (by name) or host (by hostname,
        uuid, osquery host id or serial), in order.

        Raises:
            BadRequest: an unknown type (before anything is looked up).
            InvalidArgument: a blank identifier.
            NotFound: nothing has the identifier.
            PermissionDenied: the viewer may not read what it names.
        """
        for item in items:
            if item.type not in TRANSLATE_TYPES:
                raise BadRequest(f"type {item.type!r} is unknown, must be one of {', '.join(TRANSLATE_TYPES)}",
                                 name="type")
            if not item.identifier.strip():
                raise InvalidArgument(("identifier", "may not be empty"))
        async with self.uow() as uow:
            return [await self._translate(uow, viewer, item) for item in items]

    async def _translate(self, uow: UnitOfWork, viewer: Viewer, item: TranslateItem) -> int:
        identifier = item.identifier
        if item.type == "user":
            user = await uow.users.get_by_email(identifier)
            if user is None:
                raise NotFound(f"User with email={identifier} was not found in the datastore")
            authorize(viewer, Action.READ_USER, team_ids=[m.team_id for m in user.teams], owner_id=user.id)
            return user.id
        if item.type == "label":
            label = await uow.labels.get_by_name(identifier)
            if label is None:
                raise NotFound(f"Label with name={identifier} was not found in the datastore")
            authorize(viewer, Action.READ_LABELS, team_ids=None if label.team_id is None else [label.team_id])
            return label.id
        if item.type == "team":
            team = await uow.teams.get_by_name(identifier)
            if team is None:
                raise NotFound(f"Team with name={identifier} was not found in the datastore")
            authorize(viewer, Action.READ_TEAM, team_ids=[team.id])
            return team.id
        host = await uow.hosts.find_by_identifier(identifier, node_key_hash=self.tokens.digest(identifier))
        if host is None:
            raise NotFound(f"Host with identifier={identifier} was not found in the datastore")
        # A host in no team is reached by global roles only.
        authorize(viewer, Action.READ_HOSTS, team_ids=[] if host.team_id is None else [host.team_id])
        return host.id

    @staticmethod
    async def _visibility(uow: UnitOfWork, viewer: Viewer, query_id: int | None,
                          include_observer: bool) -> frozenset[int] | None:
        if query_id is not None:
            saved = await uow.queries.get(query_id)
            if saved is None:
                raise NotFound(f"Query with id={query_id} was not found in the datastore")
            authorize(viewer, Action.READ_QUERIES, team_ids=None if saved.team_id is None else [saved.team_id])
            include_observer = include_observer or saved.observer_can_run
        return target_team_filter(viewer.user, include_observer=include_observer)

    async def _labels(self, uow: UnitOfWork, viewer: Viewer, text: str, selected: TargetSelection,
                      visible: frozenset[int] | None) -> builtins.list[LabelTarget]:
        readable = visible_team_ids(viewer.user)
        labels = [label for label in await uow.labels.list(ListOptions(query=text))
                  if label.id not in selected.label_ids
                  and (label.team_id is None or is_visible(label.team_id, readable))]
        # Built-in labels first, as Fleet lists them.
        labels.sort(key=lambda label: (label.label_type != "builtin", label.id))
        # One count for every label listed rather than one per label.
        counts = await uow.host_inventory.count_by_label([label.id for label in labels], visible_team_ids=visible)
        return [LabelTarget(label=label, count=counts[label.id]) for label in labels]

    @staticmethod
    async def _teams(uow: UnitOfWork, text: str, selected: TargetSelection,
                     visible: frozenset[int] | None) -> builtins.list[TeamTarget]:
        teams = [team for team in await uow.teams.list(ListOptions(query=text), team_ids=visible)
                 if team.id not in selected.team_ids]
        counts = await uow.teams.counts([team.id for team in teams])
        return [TeamTarget(team=team, user_count=counts.get(team.id, TeamCounts()).user_count,
                           host_count=counts.get(team.id, TeamCounts()).host_count) for team in teams]

    async def _metrics(self, uow: UnitOfWork, selected: TargetSelection,
                       visible: frozenset[int] | None) -> TargetMetrics:
        if selected.is_empty:
            # Nothing selected targets no host (the picker's first request): no need to ask.
            return TargetMetrics()
        counts = await uow.host_inventory.target_status_counts(selected, visible_team_ids=visible,
                                                               now=self.clock.now())
        return TargetMetrics(total=counts.total, online=counts.online, offline=counts.total - counts.online,
                             missing_in_action=counts.missing)
